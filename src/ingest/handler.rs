//! `POST /v1/events`. A request is checked in this order, and refused at the first problem: the
//! bearer token (401), the content type (415), the declared and actual body size (413), the
//! `Idempotency-Key` header and the body itself (400). Only then is anything counted, all at
//! once and without an await in between, so a batch is all-or-nothing even if the client hangs
//! up.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::auth::{Auth, ClientId};
use super::event::{self, Invalid};
use super::idempotency::{self, SeenKeys};
use super::internal_events::{EventsAccepted, RequestRejected, Telemetry};
use super::metrics::RejectReason;
use crate::http::ApiError;
use crate::telemetry::event::InternalEvent;

/// What the handler reads, shared by every request.
pub(super) struct Ingest {
    pub(super) auth: Auth,
    pub(super) telemetry: Telemetry,
    pub(super) seen: SeenKeys,
    pub(super) max_batch: usize,
    pub(super) max_body_bytes: usize,
}

pub(super) async fn post_events(State(ingest): State<Arc<Ingest>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    match ingest.check_headers(&parts.headers) {
        Ok(key) => ingest.accept(key, body).await,
        Err((reason, error)) => ingest.reject(reason, 0, error, None),
    }
}

impl Ingest {
    /// Everything that can be refused before the body is read. Returns the idempotency key,
    /// scoped by the client that sent it.
    fn check_headers<'h>(
        &self,
        headers: &'h HeaderMap,
    ) -> Result<Option<(ClientId, &'h str)>, (RejectReason, ApiError)> {
        let Some(client) = self.auth.authorize(headers.get(header::AUTHORIZATION)) else {
            return Err((RejectReason::Unauthorized, ApiError::Unauthorized));
        };
        if !is_json(headers.get(header::CONTENT_TYPE)) {
            let got = headers
                .get(header::CONTENT_TYPE)
                .map_or("none".into(), |v| format!("{:?}", String::from_utf8_lossy(&v.as_bytes()[..v.len().min(64)])));
            return Err((
                RejectReason::UnsupportedMediaType,
                ApiError::UnsupportedMediaType(format!("Content-Type must be application/json; got {got}")),
            ));
        }
        if let Some(declared) = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            && declared > self.max_body_bytes as u64
        {
            return Err((RejectReason::TooLarge, self.too_large()));
        }
        match headers.get("idempotency-key") {
            None => Ok(None),
            Some(value) => idempotency::check_key(value.as_bytes()).map(|key| Some((client, key))).map_err(|problem| {
                let message = format!("Idempotency-Key: {problem}");
                (
                    RejectReason::Invalid,
                    ApiError::InvalidEvent { index: None, field: Some("Idempotency-Key".into()), message },
                )
            }),
        }
    }

    /// Emits the rejection and answers with `error`.
    fn reject(&self, reason: RejectReason, events: usize, error: ApiError, cause: Option<&str>) -> Response {
        RequestRejected { reason, events, message: &error.message(), cause }.emit(&self.telemetry);
        error.into_response()
    }

    fn too_large(&self) -> ApiError {
        ApiError::PayloadTooLarge(format!(
            "body is larger than {} bytes (max_body_bytes); split the batch",
            self.max_body_bytes
        ))
    }

    async fn accept(&self, key: Option<(ClientId, &str)>, body: Body) -> Response {
        let bytes = match Limited::new(body, self.max_body_bytes).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<LengthLimitError>() => {
                return self.reject(RejectReason::TooLarge, 0, self.too_large(), None);
            }
            Err(e) => {
                let error = ApiError::BadRequest("the body could not be read to its end".into());
                return self.reject(RejectReason::Invalid, 0, error, Some(&crate::error::describe(&*e)));
            }
        };

        // From here on nothing awaits: validation, the idempotency check and counting happen
        // together or not at all.
        let events = match event::parse(&bytes, self.max_batch) {
            Ok(events) => events,
            Err(rejected) => {
                let message = rejected.error.to_string();
                let Invalid { index, field, .. } = rejected.error;
                let error = ApiError::InvalidEvent { index, field, message };
                return self.reject(RejectReason::Invalid, rejected.events, error, None);
            }
        };
        if let Some((client, key)) = key
            && self.seen.check_and_insert(client, key, Instant::now())
        {
            let message = "this Idempotency-Key was accepted before: answered again, counted once";
            RequestRejected { reason: RejectReason::Duplicate, events: 0, message, cause: None }.emit(&self.telemetry);
            return accepted(events.len(), true);
        }
        EventsAccepted { events: events.as_slice() }.emit(&self.telemetry);
        accepted(events.len(), false)
    }
}

/// `application/json`, with or without parameters (`; charset=utf-8`), in any case.
fn is_json(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// 202 `{"accepted": N}`, plus `"duplicate": true` for a resend that counted nothing.
fn accepted(n: usize, duplicate: bool) -> Response {
    let body =
        if duplicate { format!("{{\"accepted\":{n},\"duplicate\":true}}") } else { format!("{{\"accepted\":{n}}}") };
    (StatusCode::ACCEPTED, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        let ok = ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"];
        for v in ok {
            assert!(is_json(Some(&HeaderValue::from_static(v))), "{v}");
        }
        for v in ["text/plain", "application/jsonl", "application/x-www-form-urlencoded", ""] {
            assert!(!is_json(Some(&HeaderValue::from_static(v))), "{v}");
        }
        assert!(!is_json(None));
    }
}

//! The JSON error every route answers with, so clients parse one shape:
//! `{"error": {"code": "...", "message": "..."}}`. Client errors say what is wrong; server errors
//! say little and the detail goes to the log. A refused ingest event adds `index` (its place in
//! the batch, when it came in one) and `field` to the error object.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug)]
pub(crate) enum ApiError {
    NotFound,
    MethodNotAllowed,
    /// The request (headers to answer, body included) took longer than the server allows.
    RequestTimeout,
    BadRequest(String),
    /// One event (or the body, or a header) of an ingest request is invalid: `index` is the
    /// event's place in `events` (`None` for a single event), `field` the field at fault, and
    /// `message` the whole explanation (which names both).
    InvalidEvent {
        index: Option<usize>,
        field: Option<String>,
        message: String,
    },
    Unauthorized,
    PayloadTooLarge(String),
    UnsupportedMediaType(String),
    /// Too many requests; the value is the retry-after in whole seconds.
    TooManyRequests(u64),
    /// The thing asked for exists but cannot work as configured (a probe without its key).
    NotConfigured(String),
    Internal,
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ApiError::BadRequest(_) | ApiError::InvalidEvent { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            ApiError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::NotConfigured(_) => (StatusCode::SERVICE_UNAVAILABLE, "not_configured"),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// What the client is told (and what a log line of the refusal says).
    pub(crate) fn message(&self) -> String {
        match self {
            ApiError::NotFound => "no such endpoint; see /metrics, /healthz, /readyz".into(),
            ApiError::MethodNotAllowed => "method not allowed on this endpoint".into(),
            ApiError::RequestTimeout => "request not completed in time".into(),
            ApiError::BadRequest(m)
            | ApiError::InvalidEvent { message: m, .. }
            | ApiError::PayloadTooLarge(m)
            | ApiError::UnsupportedMediaType(m)
            | ApiError::NotConfigured(m) => m.clone(),
            ApiError::Unauthorized => "missing or invalid bearer token".into(),
            ApiError::TooManyRequests(secs) => format!("too many requests; retry after {secs}s"),
            ApiError::Internal => "internal error".into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let mut body = json!({"error": {"code": code, "message": self.message()}});
        if let ApiError::InvalidEvent { index, field, .. } = &self {
            body["error"]["index"] = json!(index);
            body["error"]["field"] = json!(field);
        }
        let mut response = (status, axum::Json(body)).into_response();
        match &self {
            ApiError::TooManyRequests(secs) => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*secs));
            }
            ApiError::Unauthorized => {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            // The client was too slow to be worth a keep-alive.
            ApiError::RequestTimeout => {
                response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}

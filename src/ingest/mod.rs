//! Layer 3: `POST /v1/events`, where applications report their retried, exhausted and finished
//! calls to the Claude API.
//!
//! - [`event`]: the event format and its validation (pure, unit-tested without sockets).
//! - [`metrics`]: the families, the cardinality guard and the attempts histogram.
//! - [`idempotency`]: the bounded set of recently seen `Idempotency-Key`s, per client.
//! - [`auth`]: bearer tokens, compared in constant time.
//!
//! A request is checked in this order, and refused at the first problem: the bearer token
//! (401), the content type (415), the declared and actual body size (413), the
//! `Idempotency-Key` header and the body itself (400). Only then is anything counted, all at
//! once and without an await in between, so a batch is all-or-nothing even if the client hangs
//! up.

pub mod auth;
pub mod event;
pub mod idempotency;
pub mod metrics;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};

use crate::StartError;
use crate::config::{Findings, Section};
use crate::http::ApiError;
use crate::readiness::Readiness;

use self::auth::{Auth, ClientId};
use self::event::Invalid;
use self::idempotency::SeenKeys;
use self::metrics::{IngestMetrics, RejectReason};

/// The path of the endpoint.
pub const PATH: &str = "/v1/events";

/// The `[ingest]` table.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Serve `POST /v1/events` (and register the ingest metrics).
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// Environment variable holding comma-separated bearer tokens. Unset: no authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_env: Option<String>,
    /// Distinct services counted under their own name; later ones count as `other`.
    #[serde(default = "default_max_services")]
    pub max_services: usize,
    /// Distinct models counted under their own name; later ones count as `other`.
    #[serde(default = "default_max_models")]
    pub max_models: usize,
    /// Services whose series exist at 0 from start-up, so that `increase()` sees their first
    /// events after a restart. They count toward `max_services`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// Most events in one `{"events": [...]}` body.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// Largest request body, in bytes.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
}

fn default_enabled() -> bool {
    true
}
fn default_max_services() -> usize {
    100
}
fn default_max_models() -> usize {
    50
}
fn default_max_batch() -> usize {
    1000
}
fn default_max_body_bytes() -> usize {
    1024 * 1024
}

/// Ceilings that keep a typo (an extra zero or three) from becoming a memory problem.
const MAX_DISTINCT_VALUES: usize = 10_000;
const MAX_BATCH_CEILING: usize = 100_000;
const MAX_BODY_CEILING: usize = 64 * 1024 * 1024;
const MIN_BODY_BYTES: usize = 1024;

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            enabled: default_enabled(),
            tokens_env: None,
            max_services: default_max_services(),
            max_models: default_max_models(),
            services: Vec::new(),
            max_batch: default_max_batch(),
            max_body_bytes: default_max_body_bytes(),
        }
    }
}

impl Section for IngestConfig {
    fn validate(&self, findings: &mut Findings) {
        if let Some(name) = &self.tokens_env
            && (name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            findings.error("tokens_env", "must name an environment variable (letters, digits and _), not hold a token");
        }
        for (field, value) in [("max_services", self.max_services), ("max_models", self.max_models)] {
            if value == 0 {
                findings.error(field, "must be at least 1");
            } else if value > MAX_DISTINCT_VALUES {
                findings.error(
                    field,
                    format!("{value} is above {MAX_DISTINCT_VALUES}: each value costs about 30 series in /metrics"),
                );
            }
        }
        self.validate_services(findings);
        if self.max_batch == 0 || self.max_batch > MAX_BATCH_CEILING {
            findings.error("max_batch", format!("must be from 1 to {MAX_BATCH_CEILING}"));
        }
        if !(MIN_BODY_BYTES..=MAX_BODY_CEILING).contains(&self.max_body_bytes) {
            findings.error("max_body_bytes", format!("must be from {MIN_BODY_BYTES} to {MAX_BODY_CEILING} bytes"));
        }
    }
}

impl IngestConfig {
    /// `services`: names as events must spell them, each once, and no more than fit under
    /// `max_services` (the rest of the cap is left for services that are not listed).
    fn validate_services(&self, findings: &mut Findings) {
        let mut seen = std::collections::HashSet::new();
        for name in &self.services {
            if let Err(problem) = event::check_name(name, "service") {
                findings.error("services", format!("service name {problem}"));
            } else if !seen.insert(name.as_str()) {
                findings.error("services", format!("{name:?} is listed twice"));
            }
        }
        if self.max_services > 0 && self.services.len() > self.max_services {
            findings.error(
                "services",
                format!(
                    "lists {} services but max_services is {}: raise max_services or shorten the list",
                    self.services.len(),
                    self.max_services
                ),
            );
        }
    }
}

/// The ingest layer: its metrics and its route.
pub struct IngestLayer {
    /// `None` when `enabled = false`: no route, no metrics.
    state: Option<Arc<Ingest>>,
}

/// What the handler reads, shared by every request.
struct Ingest {
    auth: Auth,
    metrics: IngestMetrics,
    seen: SeenKeys,
    max_batch: usize,
    max_body_bytes: usize,
}

impl IngestLayer {
    pub fn new(config: &IngestConfig, registry: &mut Registry, readiness: &Readiness) -> Result<Self, StartError> {
        if !config.enabled {
            tracing::info!("ingest endpoint disabled ([ingest] enabled = false)");
            return Ok(Self { state: None });
        }
        let ready = readiness.register("ingest");
        let auth = Auth::from_config(config.tokens_env.as_deref(), |name| std::env::var(name).ok());
        match (&auth, config.tokens_env.as_deref()) {
            (Auth::Open, _) => tracing::warn!(
                path = PATH,
                "ingest accepts events without authentication: set [ingest] tokens_env to require bearer tokens"
            ),
            (Auth::Tokens(tokens), Some(var)) => {
                tracing::info!(path = PATH, tokens = tokens.len(), env = var, "ingest requires a bearer token")
            }
            (Auth::Tokens(_), None) => {}
            (Auth::Misconfigured, var) => {
                let var = var.unwrap_or_default();
                tracing::error!(
                    path = PATH,
                    env = var,
                    "ingest tokens_env names an unset or empty variable: every request is refused with 401"
                );
                ready.not_configured(format!("{var} is unset or empty; ingest refuses every request"));
            }
        }
        if !matches!(auth, Auth::Misconfigured) {
            ready.ready();
        }
        let metrics = IngestMetrics::new(registry, config.max_services, config.max_models, &config.services);
        let state = Ingest {
            auth,
            metrics,
            seen: SeenKeys::new(idempotency::WINDOW, idempotency::DEFAULT_CAPACITY),
            max_batch: config.max_batch,
            max_body_bytes: config.max_body_bytes,
        };
        Ok(Self { state: Some(Arc::new(state)) })
    }

    /// `POST /v1/events`. The handler reads the body itself under `max_body_bytes`, so the
    /// server-wide `DefaultBodyLimit` (read only by axum's body extractors) does not apply.
    pub fn router(&self) -> Router {
        match &self.state {
            Some(state) => Router::new().route(PATH, post(post_events)).with_state(Arc::clone(state)),
            None => Router::new(),
        }
    }
}

async fn post_events(State(ingest): State<Arc<Ingest>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    match ingest.check_headers(&parts.headers) {
        Ok(key) => ingest.accept(key, body).await,
        Err((reason, error)) => {
            ingest.metrics.reject(reason, 0);
            error.into_response()
        }
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
                self.metrics.reject(RejectReason::TooLarge, 0);
                return self.too_large().into_response();
            }
            Err(e) => {
                tracing::debug!(error = %e, "ingest: reading the body failed");
                self.metrics.reject(RejectReason::Invalid, 0);
                return ApiError::BadRequest("the body could not be read to its end".into()).into_response();
            }
        };

        // From here on nothing awaits: validation, the idempotency check and counting happen
        // together or not at all.
        let events = match event::parse(&bytes, self.max_batch) {
            Ok(events) => events,
            Err(rejected) => {
                self.metrics.reject(RejectReason::Invalid, rejected.events);
                let message = rejected.error.to_string();
                let Invalid { index, field, .. } = rejected.error;
                return ApiError::InvalidEvent { index, field, message }.into_response();
            }
        };
        if let Some((client, key)) = key
            && self.seen.check_and_insert(client, key, Instant::now())
        {
            self.metrics.reject(RejectReason::Duplicate, 0);
            return accepted(events.len(), true);
        }
        self.metrics.record(events.as_slice());
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

    #[test]
    fn config_limits_are_checked_with_their_lines() {
        let text = "[ingest]\ntokens_env = \"sk-secret value\"\nmax_services = 0\nmax_models = 1000000\n\
                    max_batch = 0\nmax_body_bytes = 10\n";
        let errors = crate::config::Config::parse("t.toml", text).expect_err("invalid limits");
        let lines: Vec<usize> = errors.iter().map(|d| d.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6], "{errors:?}");
        assert!(errors.iter().all(|d| d.is_error()));
        assert!(!errors.iter().any(|d| d.message.contains("sk-secret")), "{errors:?}");

        let (config, warnings) = crate::config::Config::parse("t.toml", "[ingest]\n").unwrap();
        assert!(config.ingest.services.is_empty());
        assert!(warnings.is_empty());
        assert_eq!(config.ingest.max_body_bytes, 1024 * 1024);
        assert_eq!((config.ingest.max_services, config.ingest.max_models, config.ingest.max_batch), (100, 50, 1000));
    }

    #[test]
    fn listed_services_follow_the_event_rules_and_fit_under_the_cap() {
        let parse = |services: &str, max: usize| {
            let text = format!("[ingest]\nmax_services = {max}\nservices = {services}\n");
            crate::config::Config::parse("t.toml", &text)
        };
        let (config, warnings) = parse(r#"["checkout-api", "search.v2", "batch:nightly"]"#, 3).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.ingest.services, ["checkout-api", "search.v2", "batch:nightly"]);
        assert!(config.to_toml().contains("services = ["), "{}", config.to_toml());

        for (services, max, expect) in [
            (r#"["check out"]"#, 10, "characters of A-Za-z0-9_.:-"),
            (r#"[""]"#, 10, "characters of A-Za-z0-9_.:-"),
            (r#"["other"]"#, 10, "\"other\" is reserved"),
            (r#"["a", "b", "a"]"#, 10, "\"a\" is listed twice"),
            (r#"["a", "b", "c"]"#, 2, "lists 3 services but max_services is 2"),
        ] {
            let errors = parse(services, max).expect_err(services);
            assert_eq!(errors.len(), 1, "{services}: {errors:?}");
            assert_eq!(errors[0].line, 3, "{errors:?}");
            assert!(errors[0].message.contains("`services`"), "{errors:?}");
            assert!(errors[0].message.contains(expect), "{services}: {errors:?}");
        }
        let long = format!(r#"["{}"]"#, "s".repeat(65));
        assert!(parse(&long, 10).is_err());
        assert!(parse("[1]", 10).is_err(), "names are strings");
    }
}

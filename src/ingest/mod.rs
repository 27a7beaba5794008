//! Layer 3: `POST /v1/events`, where applications report their retried, exhausted and finished
//! calls to the Claude API.
//!
//! - `config`: the `[ingest]` table.
//! - `event`: the event format and its validation (pure, unit-tested without sockets).
//! - `handler`: the route: the order of checks, all-or-nothing counting.
//! - `metrics`: the families, the cardinality guard and the attempts histogram.
//! - `idempotency`: the bounded set of recently seen `Idempotency-Key`s, per client.
//! - `auth`: bearer tokens, compared in constant time.
//! - `internal_events`: accepted events and rejected requests, each logged and counted together
//!   (rejections logged at most once per reason every 10 s).

mod auth;
mod config;
pub(crate) mod event;
mod handler;
mod idempotency;
mod internal_events;
mod metrics;

pub use config::IngestConfig;

use std::sync::Arc;

use axum::Router;
use axum::routing::post;
use prometheus_client::registry::Registry;

use self::auth::Auth;
use self::handler::Ingest;
use self::idempotency::SeenKeys;
use self::internal_events::Telemetry;
use self::metrics::IngestMetrics;
use crate::config::Env;
use crate::readiness::Readiness;

/// The path of the endpoint.
pub const PATH: &str = "/v1/events";

/// The ingest layer: its metrics and its route.
pub(crate) struct IngestLayer {
    /// `None` when `enabled = false`: no route, no metrics.
    state: Option<Arc<Ingest>>,
}

impl IngestLayer {
    /// Registers the layer's metrics and reads its tokens from `env`.
    pub(crate) fn new(config: &IngestConfig, env: &Env, registry: &mut Registry, readiness: &Readiness) -> Self {
        if !config.enabled {
            tracing::info!("ingest endpoint disabled ([ingest] enabled = false)");
            return Self { state: None };
        }
        let ready = readiness.register("ingest");
        let auth = Auth::from_config(config.tokens_env.as_deref(), |name| env.var(name).ok());
        match (&auth, config.tokens_env.as_deref()) {
            (Auth::Open, _) => tracing::warn!(
                path = PATH,
                "ingest accepts events without authentication: set [ingest] tokens_env to require bearer tokens"
            ),
            (Auth::Tokens(tokens), Some(var)) => {
                tracing::info!(path = PATH, tokens = tokens.len(), env = var, "ingest requires a bearer token");
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
            telemetry: Telemetry::new(metrics),
            seen: SeenKeys::new(idempotency::WINDOW, idempotency::DEFAULT_CAPACITY),
            max_batch: config.max_batch,
            max_body_bytes: config.max_body_bytes,
        };
        Self { state: Some(Arc::new(state)) }
    }

    /// `POST /v1/events`. The handler reads the body itself under `max_body_bytes`, so the
    /// server-wide `DefaultBodyLimit` (read only by axum's body extractors) does not apply.
    pub(crate) fn router(&self) -> Router {
        match &self.state {
            Some(state) => Router::new().route(PATH, post(handler::post_events)).with_state(Arc::clone(state)),
            None => Router::new(),
        }
    }
}

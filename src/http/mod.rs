//! The daemon's HTTP surface: `/metrics`, `/healthz`, `/readyz`, and whatever routes the layers
//! add (the ingest endpoint, on-demand probes). Everything else is a JSON 404.

mod error;
pub mod serve;

pub use error::ApiError;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use serde_json::json;

use crate::readiness::Readiness;
use crate::telemetry::render::{self, Format};

/// Requests larger than this are refused before a handler sees them. Layers that accept
/// bodies (ingest) set their own, tighter or looser, limit on their routes.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// No request may hold a connection (and so shutdown) longer than this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the core routes read.
#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    pub readiness: Readiness,
}

/// The core routes merged with the layers' routes, with the body limit and the JSON 404.
pub fn router(state: AppState, layer_routes: Router) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
        .merge(layer_routes)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT))
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::negotiate(accept);
    let body = render::render(&state.registry, format);
    ([(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()))], body).into_response()
}

async fn healthz() -> Response {
    (StatusCode::OK, axum::Json(json!({"status": "ok"}))).into_response()
}

async fn readyz(State(state): State<AppState>) -> Response {
    let (ready, components) = state.readiness.snapshot();
    let starting: Vec<&String> = components
        .iter()
        .filter(|(_, s)| **s == crate::readiness::ComponentState::Starting)
        .map(|(name, _)| name)
        .collect();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "status": if ready { "ready" } else { "starting" },
        "not_started": starting,
        "components": components,
    });
    (status, axum::Json(body)).into_response()
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

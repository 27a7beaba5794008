//! The daemon's HTTP surface: its `[server]` section, `/metrics`, `/healthz`, `/readyz`, and
//! whatever routes the layers add (the ingest endpoint, on-demand probes). Everything else is a
//! JSON 404 (or 405), and no request outlives `[server] request_timeout`.

mod config;
mod error;
pub(crate) mod serve;

pub use config::ServerConfig;
pub(crate) use error::ApiError;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use serde_json::json;

use crate::readiness::Readiness;
use crate::telemetry::render::{self, Format};

/// The body limit for any route that reads its body through axum's extractors. Routes that
/// read bodies themselves (ingest) enforce their own limit; the others never read one.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// What the core routes read.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) registry: Arc<Registry>,
    pub(crate) readiness: Readiness,
}

/// The core routes merged with the layers' routes, with the body limit, the request deadline
/// and JSON errors for unknown paths and methods.
pub(crate) fn router(state: AppState, layer_routes: Router, request_timeout: Duration) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
        .merge(layer_routes)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT))
        .layer(middleware::from_fn(move |req: Request, next: Next| deadline(request_timeout, req, next)))
}

/// Bounds the whole handler, body reading included, so a client trickling a body byte by byte
/// cannot hold a connection (and its buffer) open; the header read has its own timeout in
/// [`serve`].
async fn deadline(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::RequestTimeout.into_response(),
    }
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

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

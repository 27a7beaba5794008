//! claudewatch watches the Claude API from three sides and exports what it sees as Prometheus
//! metrics.
//!
//! Module map:
//! - [`config`]: the TOML file, composed of each layer's section, with located diagnostics.
//! - [`status`] (layer 1): the vendor's Statuspage feeds.
//! - [`probe`] (layer 2): synthetic requests to the Messages API and control targets.
//! - [`ingest`] (layer 3): `POST /v1/events`, where apps report retries and exhaustions.
//! - [`classify`]: the retry playbook's error classes, shared by probes and ingest.
//! - [`telemetry`]: the one registry, build info, label-value enums, logging, `/metrics`
//!   rendering.
//! - [`text`]: bounding untrusted text (one truncation rule).
//! - [`http`]: the router, the accept loop, the JSON error type.
//! - [`readiness`], [`shutdown`]: start-up and stop signalling across layers.
//! - [`sim`]: the simulator of the API and of a status page, used by `claudewatch simulate`
//!   and by the tests.
//!
//! Each layer owns its metric families and registers them into the one registry in its
//! constructor; layers share no mutable state. [`run`] wires them: the caller binds the socket
//! and owns the stop trigger, so tests bind `127.0.0.1:0` and decide when to stop.

pub mod classify;
pub mod cli;
pub mod config;
pub mod healthcheck;
pub mod http;
pub mod ingest;
pub mod probe;
pub mod readiness;
pub mod shutdown;
pub mod sim;
pub mod status;
pub mod telemetry;
pub mod text;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::http::AppState;
use crate::ingest::IngestLayer;
use crate::probe::ProbeLayer;
use crate::readiness::Readiness;
use crate::status::StatusLayer;

/// How long the layers' loops get to stop after the server has drained.
const LAYER_STOP_TIMEOUT: Duration = Duration::from_secs(1);

/// A layer could not start (for example its HTTP client could not be built).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartError(pub String);

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// Installs rustls's ring provider for every outbound HTTPS client. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Runs the daemon on `listener` until `shutdown` is cancelled: builds the registry, lets each
/// layer register its metrics, starts the layers' loops and serves HTTP. Returns once the
/// server has drained and the loops have stopped.
pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<(), StartError> {
    install_crypto_provider();
    let readiness = Readiness::new();
    let mut registry = telemetry::new_registry();

    let status = StatusLayer::new(&config.status_page, &mut registry, &readiness)?;
    let probes = ProbeLayer::new(&config.probe, &config.control, &mut registry, &readiness)?;
    let ingest = IngestLayer::new(&config.ingest, &mut registry, &readiness)?;

    let layer_routes = Router::new().merge(probes.router()).merge(ingest.router());
    let state = AppState { registry: Arc::new(registry), readiness };
    let app = http::router(state, layer_routes, config.server.request_timeout.get());

    let mut tasks = JoinSet::new();
    status.spawn(&mut tasks, shutdown.clone());
    probes.spawn(&mut tasks, shutdown.clone());

    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, version = telemetry::VERSION, "claudewatch listening");
    }
    http::serve::serve(listener, app, config.server.max_connections, shutdown.clone()).await;

    // The loops watch the same token; give them a moment to finish a poll, then stop them.
    shutdown.cancel();
    let stopped = tokio::time::timeout(LAYER_STOP_TIMEOUT, async { while tasks.join_next().await.is_some() {} }).await;
    if stopped.is_err() {
        tracing::warn!("layers did not stop in time; aborting them");
        tasks.abort_all();
    }
    tracing::info!("claudewatch stopped");
    Ok(())
}

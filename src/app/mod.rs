//! The composition root: the one place that knows every layer. [`Config`] lists the sections of
//! the daemon's file; [`run`] builds the registry, lets each layer register its metrics, starts
//! the layers' loops and serves HTTP. The caller binds the socket, owns the stop trigger and
//! says where secrets come from, so tests bind `127.0.0.1:0`, decide when to stop and hand in
//! their own environment.

mod config;

pub use config::Config;
#[cfg(test)]
use config::{DEFAULT_CONFIG, DEFAULT_CONFIG_NAME};

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Env;
use crate::error::StartError;
use crate::http::{self, AppState};
use crate::ingest::IngestLayer;
use crate::probe::ProbeLayer;
use crate::readiness::Readiness;
use crate::status::StatusLayer;
use crate::telemetry;

/// How long the layers' loops get to stop after the server has drained.
const LAYER_STOP_TIMEOUT: Duration = Duration::from_secs(1);

/// Runs the daemon on `listener` until `shutdown` is cancelled, reading the secrets the config
/// names (API keys, ingest tokens) from `env`. Returns once the server has drained and the
/// loops have stopped.
pub async fn run(
    config: Config,
    env: Env,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    crate::tls::install_crypto_provider();
    let readiness = Readiness::new();
    let mut registry = telemetry::new_registry();

    let status = StatusLayer::new(&config.status_page, &mut registry, &readiness)?;
    let probes = ProbeLayer::new(&config.probe, &config.control, &env, &mut registry, &readiness)?;
    let ingest = IngestLayer::new(&config.ingest, &env, &mut registry, &readiness);

    let layer_routes = Router::new().merge(probes.router()).merge(ingest.router());
    let state = AppState { registry: Arc::new(registry), readiness };
    let app = http::router(state, layer_routes, config.server.request_timeout.get());

    let mut tasks = JoinSet::new();
    status.spawn(&mut tasks, &shutdown);
    probes.spawn(&mut tasks, &shutdown);

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

#[cfg(test)]
mod tests;

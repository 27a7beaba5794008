//! Layer 2: synthetic probes of the Messages API, and control targets that tell a local network
//! fault from an API fault.
//!
//! - `config`: the `[[probe]]` and `[[control]]` tables and their rules.
//! - `prober`: one request, no retries, timed and classified.
//! - `reply`, `headers`: reading replies, SSE streams and headers (pure, socket-free).
//! - `outcome`: the result value that metrics, the log line and `GET /probe` share.
//! - `metrics`: the metric families.
//! - `internal_events`: each occurrence (a result, a probe without its key) logged and counted
//!   together.
//! - `runner`: the fixed-rate schedule, one request in flight per target, on-demand runs, all
//!   in the target's `probe{probe}` or `control{control}` span.
//!
//! A probe whose key variable is unset is registered (its counters exist, at zero, with
//! `claudewatch_probe_configured 0`), reported as `not_configured` in `/readyz` and in the log,
//! and never sends a request.

mod config;
pub(crate) mod headers;
mod internal_events;
mod metrics;
mod outcome;
mod prober;
pub(crate) mod reply;
mod runner;

pub use config::{ControlConfig, ProbeConfig};

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use tracing::Instrument;

use self::internal_events::ProbeNotConfigured;
use self::metrics::{ControlMetrics, ProbeMetrics, TargetMetrics};
use self::prober::{ApiKey, ControlProber, MessagesProber};
use self::runner::{OnDemandRefusal, Prober, Runner, Timing};
use crate::config::Env;
use crate::error::StartError;
use crate::http::ApiError;
use crate::readiness::Readiness;
use crate::telemetry::event::InternalEvent;

/// A configured target: runnable, or known but lacking its key.
enum Entry {
    Runnable(Arc<Runner>),
    NotConfigured(String),
}

/// The probe layer, built (and its metrics registered) before the server starts.
pub(crate) struct ProbeLayer {
    probes: Arc<BTreeMap<String, Entry>>,
    controls: Vec<Arc<Runner>>,
}

impl ProbeLayer {
    pub(crate) fn new(
        probes: &[ProbeConfig],
        controls: &[ControlConfig],
        env: &Env,
        registry: &mut Registry,
        readiness: &Readiness,
    ) -> Result<Self, StartError> {
        let probe_metrics = ProbeMetrics::register(registry);
        let control_metrics = ControlMetrics::register(registry);

        let mut entries = BTreeMap::new();
        for config in probes {
            let ready = readiness.register(format!("probe:{}", config.name));
            let entry = match ApiKey::from_env(env, &config.api_key_env) {
                Ok(key) => {
                    let prober = MessagesProber::new(config, key).map_err(|source| StartError::HttpClient {
                        component: format!("probe {}", config.name),
                        source,
                    })?;
                    probe_metrics.precreate(&config.name, true, config.stream);
                    let timing = Timing {
                        interval: config.interval.get(),
                        on_demand_min_interval: config.on_demand_min_interval.get(),
                    };
                    let metrics = TargetMetrics::Probe(probe_metrics.clone());
                    Entry::Runnable(Arc::new(Runner::new(
                        &config.name,
                        Prober::Messages(prober),
                        metrics,
                        timing,
                        ready,
                    )))
                }
                Err(reason) => {
                    ProbeNotConfigured { probe: &config.name, reason: &reason }.emit(&());
                    probe_metrics.precreate(&config.name, false, config.stream);
                    ready.not_configured(reason.clone());
                    Entry::NotConfigured(reason)
                }
            };
            entries.insert(config.name.clone(), entry);
        }

        let mut control_runners = Vec::new();
        for config in controls {
            let ready = readiness.register(format!("control:{}", config.name));
            let prober = ControlProber::new(config)
                .map_err(|source| StartError::HttpClient { component: format!("control {}", config.name), source })?;
            control_metrics.precreate(&config.name);
            // Controls have no on-demand route.
            let timing = Timing { interval: config.interval.get(), on_demand_min_interval: config.interval.get() };
            let metrics = TargetMetrics::Control(control_metrics.clone());
            control_runners.push(Arc::new(Runner::new(&config.name, Prober::Control(prober), metrics, timing, ready)));
        }
        Ok(Self { probes: Arc::new(entries), controls: control_runners })
    }

    /// `GET /probe?name=NAME`.
    pub(crate) fn router(&self) -> Router {
        Router::new().route("/probe", get(on_demand)).with_state(self.probes.clone())
    }

    /// Starts one loop per probe and control target; each stops when `shutdown` is cancelled.
    pub(crate) fn spawn(self, tasks: &mut JoinSet<()>, shutdown: &CancellationToken) {
        let probes = self.probes.values().filter_map(|e| match e {
            Entry::Runnable(r) => Some(r.clone()),
            Entry::NotConfigured(_) => None,
        });
        for runner in probes.chain(self.controls.iter().cloned()) {
            let span = runner.span().clone();
            tasks.spawn(runner.schedule(shutdown.clone()).instrument(span));
        }
    }
}

/// Runs one probe now and answers its result as JSON (200 whatever the outcome, like the
/// blackbox exporter: the outcome is in the body).
async fn on_demand(
    State(probes): State<Arc<BTreeMap<String, Entry>>>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let names = || probes.keys().map(String::as_str).collect::<Vec<_>>().join(", ");
    let Query(params) = query.map_err(|e| ApiError::BadRequest(format!("invalid query string: {e}")))?;
    let Some(name) = params.get("name") else {
        return Err(ApiError::BadRequest(format!("missing ?name=; configured probes: {}", names())));
    };
    let runner = match probes.get(name) {
        Some(Entry::Runnable(r)) => r.clone(),
        Some(Entry::NotConfigured(reason)) => {
            return Err(ApiError::NotConfigured(format!("probe {name:?} is not configured: {reason}")));
        }
        None => {
            let name = crate::text::truncate(name, crate::config::MAX_LABEL_NAME_LEN);
            return Err(ApiError::BadRequest(format!("unknown probe {name:?}; configured probes: {}", names())));
        }
    };
    // A task of its own, so that a client that hangs up does not cancel a request that has
    // already cost tokens (its result is still recorded).
    let span = runner.span().clone();
    let run = tokio::spawn(async move { runner.run_on_demand().await }.instrument(span));
    match run.await {
        Ok(Ok(result)) => Ok(axum::Json(result).into_response()),
        Ok(Err(OnDemandRefusal::TooSoon(wait))) => {
            Err(ApiError::TooManyRequests(wait.as_secs_f64().ceil().max(1.0) as u64))
        }
        Ok(Err(OnDemandRefusal::Lost)) | Err(_) => Err(ApiError::Internal),
    }
}

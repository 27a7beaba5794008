//! The simulator of the Claude API and of a Statuspage feed: a product feature (teams rehearse
//! their dashboards and alerts against it with `claudewatch simulate`) and the test double every
//! integration test uses.
//!
//! # Test-facing API
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::time::Duration;
//! use claudewatch::sim::{Fault, Scenario, Simulator, Step};
//!
//! // Binds 127.0.0.1:0 and serves until `stop()` (or drop).
//! let sim = Simulator::new(Scenario::healthy()).start().await?;
//! let base_url = sim.url(); // "http://127.0.0.1:PORT", the clients' base URL
//!
//! // The next requests get these, in order; then the scenario decides again.
//! sim.script([Step::new(Fault::Reset), Step::new(Fault::Ok).latency(Duration::from_millis(150))]);
//! sim.script_repeat(Fault::Overloaded, 1000);
//!
//! let stats = sim.stats(); // what was served: stats.fault(Fault::Reset), stats.status(529), …
//! let log = sim.requests(); // the last 1000 API requests, oldest first
//! sim.stop().await;
//! # Ok(()) }
//! ```
//!
//! - [`Simulator`] is a builder: [`time_scale`](Simulator::time_scale) (scenario seconds per
//!   real second, to run a 10-minute scenario in 30 s), [`seed`](Simulator::seed) (reproducible
//!   draws), [`api_key`](Simulator::api_key) (accept only this key; by default any non-empty
//!   key is accepted, in `x-api-key` or `Authorization: Bearer`, which current SDKs send). [`Simulator::serve`] runs on a listener the caller bound (the
//!   `simulate` command uses it).
//! - Each `POST /v1/messages` gets one [`Step`] (a [`Fault`] plus optional latency and
//!   `retry-after`), chosen in this order: the request headers `x-claudewatch-sim-fault`,
//!   `x-claudewatch-sim-latency`, `x-claudewatch-sim-retry-after` (any of them present makes the
//!   step; an unknown value is a 400); else the scripted queue; else a draw from the scenario's
//!   current phase. `GET /v1/models` and `POST /v1/messages/count_tokens` take no faults.
//! - Faults that happen after a request is accepted (`ok`, `wrong_text`, `invalid_json`,
//!   `close_mid_body`, `stream_error`) check `x-api-key`, `anthropic-version` and the body
//!   first, like the API; every other fault pre-empts those checks, as an edge failure does.
//! - The same controls over HTTP, under `/_sim/` (which the API never uses): `POST
//!   /_sim/script` (a JSON list of steps, or `{"steps": [...], "replace": true}`; at most
//!   [`MAX_SCRIPTED`] steps queued, else a 400 that adds nothing), `GET`/`DELETE
//!   /_sim/script`, `GET /_sim/stats`, `GET /_sim/requests`, `POST /_sim/reset` (zero the stats
//!   and the log, empty the script), `GET`/`PUT /_sim/scenario` (a built-in name or a TOML
//!   document; restarts the timeline), `GET /_sim/health`.
//! - The simulated status page (see [`statuspage`]) is served alongside;
//!   [`SimHandle::status_page`] drives it from code.
//!
//! # Files
//!
//! `api/` (the Messages API: choosing a step, checking a request, errors, replies, models),
//! `statuspage/`, `fault.rs` (what a request can get, and how each fault is answered),
//! `scenario.rs` (the timeline, loaded with located diagnostics like the daemon's config),
//! `state.rs` (the shared state: script, stats, log, rate-limit window), `control.rs` (the
//! `/_sim/` routes), `server.rs` (the accept loop that can reset a connection), `body.rs`. The
//! simulator depends on no layer of the daemon.

mod api;
mod body;
mod control;
mod fault;
mod scenario;
mod server;
mod state;
pub mod statuspage;

pub use api::{FAULT_HEADER, LATENCY_HEADER, MAX_HANG, RETRY_AFTER_HEADER};
pub use fault::{Fault, Latency, ScriptEntry, Step, UnknownFault};
pub use scenario::{BUILTIN, MAX_RATE_LIMIT, Phase, RateLimits, Scenario, ScenarioError};
pub use state::{Endpoint, MAX_SCRIPTED, REQUEST_LOG_LEN, RequestRecord, Source, Stats};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use state::Shared;
use statuspage::StatusPage;

/// The time scales the simulator accepts (a thousandth of real time to a million times it).
pub const TIME_SCALE_RANGE: std::ops::RangeInclusive<f64> = 0.001..=1_000_000.0;

/// How long [`SimHandle::stop`] waits for the server to finish.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The simulator's settings; [`start`](Simulator::start) or [`serve`](Simulator::serve) it.
#[derive(Clone, Debug)]
pub struct Simulator {
    scenario: Scenario,
    time_scale: f64,
    seed: Option<u64>,
    api_key: Option<String>,
}

impl Default for Simulator {
    fn default() -> Self {
        Simulator::new(Scenario::healthy())
    }
}

impl Simulator {
    pub fn new(scenario: Scenario) -> Simulator {
        Simulator { scenario, time_scale: 1.0, seed: None, api_key: None }
    }

    /// Scenario seconds per real second: 20.0 runs a 10-minute timeline in 30 s. Latencies
    /// and `retry-after` values are not scaled. Clamped to [`TIME_SCALE_RANGE`]; a value that is
    /// not a number is ignored.
    pub fn time_scale(mut self, scale: f64) -> Simulator {
        if !scale.is_nan() {
            self.time_scale = scale.clamp(*TIME_SCALE_RANGE.start(), *TIME_SCALE_RANGE.end());
        }
        self
    }

    /// Seeds the random draws (scenario mix, latency distributions, ids).
    pub fn seed(mut self, seed: u64) -> Simulator {
        self.seed = Some(seed);
        self
    }

    /// Accepts only this `x-api-key` (others get 401). Without it any non-empty key passes.
    pub fn api_key(mut self, key: impl Into<String>) -> Simulator {
        self.api_key = Some(key.into());
        self
    }

    /// Binds 127.0.0.1:0 and serves in a background task until [`SimHandle::stop`] or drop.
    pub async fn start(self) -> std::io::Result<SimHandle> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let shared = self.shared(shutdown.clone());
        let status_page = StatusPage::new();
        let router = router(shared.clone(), &status_page);
        let token = shutdown.clone();
        let task = tokio::spawn(server::serve(listener, router, token));
        Ok(SimHandle { addr, shared, status_page, shutdown, task: Some(task) })
    }

    /// Serves on `listener` until `shutdown` is cancelled.
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) {
        let shared = self.shared(shutdown.clone());
        server::serve(listener, router(shared, &StatusPage::new()), shutdown).await;
    }

    fn shared(self, shutdown: CancellationToken) -> Arc<Shared> {
        Arc::new(Shared::new(self.scenario, self.time_scale, self.seed, self.api_key, shutdown))
    }
}

/// A running simulator. Dropping it stops the server (without waiting).
pub struct SimHandle {
    /// Where it listens (127.0.0.1, an ephemeral port).
    addr: SocketAddr,
    shared: Arc<Shared>,
    status_page: StatusPage,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl SimHandle {
    /// Where it listens (127.0.0.1, an ephemeral port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL clients use: `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues steps, each served once, after whatever is queued already. (Code is trusted:
    /// [`MAX_SCRIPTED`] bounds only `POST /_sim/script`.)
    pub fn script<S: Into<Step>>(&self, steps: impl IntoIterator<Item = S>) {
        let entries = steps.into_iter().map(|s| ScriptEntry { step: s.into(), count: 1 });
        // Unreachable with no limit.
        let _ = self.shared.push_script(entries, false, u64::MAX);
    }

    /// Queues one step served `count` times (`u64::MAX`: for good, until cleared).
    pub fn script_repeat(&self, step: impl Into<Step>, count: u64) {
        // Unreachable with no limit.
        let _ = self.shared.push_script([ScriptEntry { step: step.into(), count }], false, u64::MAX);
    }

    /// Empties the scripted queue.
    pub fn clear_script(&self) {
        self.shared.clear_script();
    }

    /// Counts of what was served.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// The recent API requests, oldest first (at most [`REQUEST_LOG_LEN`]).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.requests()
    }

    /// Zeroes the stats and the request log.
    pub fn reset_stats(&self) {
        self.shared.reset_stats();
    }

    /// Switches to another scenario, starting its timeline now.
    pub fn set_scenario(&self, scenario: Scenario) {
        self.shared.set_scenario(scenario);
    }

    /// The simulated status page this simulator serves (`/history.atom`, …): open and update
    /// incidents from code, as the `/_sim/status/` routes do over HTTP.
    pub fn status_page(&self) -> &StatusPage {
        &self.status_page
    }

    /// Stops the server: hanging requests end, in-flight answers get a moment to finish.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(STOP_TIMEOUT, task).await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The simulator's routes: the API, the control routes, the status page.
fn router(shared: Arc<Shared>, status_page: &StatusPage) -> Router {
    Router::new()
        .route("/v1/messages", post(api::messages))
        .route("/v1/messages/count_tokens", post(api::count_tokens))
        .route("/v1/models", get(api::models))
        .route("/v1/models/{id}", get(api::model))
        .merge(control::routes())
        .fallback(api::not_found)
        .with_state(shared)
        .merge(status_page.router())
}

//! The simulator's mutable state, shared by every connection: the scenario clock, the scripted
//! queue, the counters behind `/_sim/stats`, the recent-request log and the rate-limit window.
//! Every lock is held for a few field updates only, never across an `.await`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::fault::{Fault, ScriptEntry, Step};
use super::scenario::Scenario;

/// The recent-request log keeps this many entries.
pub const REQUEST_LOG_LEN: usize = 1000;

/// `POST /_sim/script` refuses to queue more than this many steps in all (counting every
/// repetition of a `count`), so that the queue cannot grow without bound.
pub const MAX_SCRIPTED: u64 = 100_000;

/// Who chose the step of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The `x-claudewatch-sim-fault` (or `-latency`, `-retry-after`) request header.
    Header,
    /// The scripted queue (`POST /_sim/script`, [`SimHandle::script`](super::SimHandle::script)).
    Script,
    /// The scenario timeline.
    Scenario,
}

impl Source {
    pub const ALL: [Source; 3] = [Source::Header, Source::Script, Source::Scenario];

    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Header => "header",
            Source::Script => "script",
            Source::Scenario => "scenario",
        }
    }
}

/// Which API endpoint a request hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    Messages,
    CountTokens,
    Models,
}

impl Endpoint {
    pub const ALL: [Endpoint; 3] = [Endpoint::Messages, Endpoint::CountTokens, Endpoint::Models];

    pub const fn as_str(self) -> &'static str {
        match self {
            Endpoint::Messages => "messages",
            Endpoint::CountTokens => "count_tokens",
            Endpoint::Models => "models",
        }
    }
}

/// Counts of what the simulator served since it started (or since the last reset), as
/// `GET /_sim/stats` returns them. Every known key is present, at 0 when unused.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// API requests of every endpoint (control routes and the status page not included).
    pub requests: u64,
    /// API requests per endpoint: `messages`, `count_tokens`, `models`.
    pub by_endpoint: BTreeMap<String, u64>,
    /// `POST /v1/messages` requests per fault served (`ok`, `reset`, …).
    pub by_fault: BTreeMap<String, u64>,
    /// `POST /v1/messages` requests per step source: `header`, `script`, `scenario`.
    pub by_source: BTreeMap<String, u64>,
    /// API requests per HTTP status sent (`"200"`, `"529"`, …); `"none"` when no status line
    /// was sent (reset, hang).
    pub by_status: BTreeMap<String, u64>,
    /// Steps still queued in the script.
    pub script_remaining: u64,
    /// The scenario and its current phase.
    pub scenario: String,
    pub phase: String,
}

impl Stats {
    /// Messages requests that were served `fault`.
    pub fn fault(&self, fault: Fault) -> u64 {
        self.by_fault.get(fault.as_str()).copied().unwrap_or(0)
    }

    /// API requests answered with `status`.
    pub fn status(&self, status: u16) -> u64 {
        self.by_status.get(&status.to_string()).copied().unwrap_or(0)
    }

    /// API requests that got no status line (reset, hang).
    pub fn no_status(&self) -> u64 {
        self.by_status.get("none").copied().unwrap_or(0)
    }

    /// Messages requests whose step came from `source`.
    pub fn source(&self, source: Source) -> u64 {
        self.by_source.get(source.as_str()).copied().unwrap_or(0)
    }

    /// Requests to `endpoint`.
    pub fn endpoint(&self, endpoint: Endpoint) -> u64 {
        self.by_endpoint.get(endpoint.as_str()).copied().unwrap_or(0)
    }
}

/// One API request as the simulator saw it (`GET /_sim/requests`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// 1 for the first API request since start or reset.
    pub seq: u64,
    /// When the request's body had been read, in seconds since the simulator started.
    pub at_seconds: f64,
    pub endpoint: Endpoint,
    /// The fault served (`ok` for endpoints that take no faults).
    pub fault: Fault,
    pub source: Source,
    /// The HTTP status sent; `None` for a reset or a hang.
    pub status: Option<u16>,
    /// The request asked for a stream.
    pub stream: bool,
    /// Latency added before the answer, in seconds.
    pub latency_seconds: f64,
    /// The official SDKs' `x-stainless-retry-count` header (0 on a first attempt).
    pub retry_count: Option<String>,
    pub request_id: String,
}

#[derive(Default)]
struct Counters {
    requests: u64,
    by_endpoint: BTreeMap<Endpoint, u64>,
    by_fault: BTreeMap<Fault, u64>,
    by_source: BTreeMap<Source, u64>,
    by_status: BTreeMap<Option<u16>, u64>,
    log: VecDeque<RequestRecord>,
}

struct Timeline {
    scenario: Scenario,
    started: Instant,
}

/// The rate-limit headers' window: a fixed one-minute window per resource.
struct Window {
    start: SystemTime,
    requests: u64,
    input_tokens: u64,
    output_tokens: u64,
}

/// The state behind every request.
pub(super) struct Shared {
    timeline: Mutex<Timeline>,
    /// Scenario seconds per real second (phase durations are divided by it).
    time_scale: f64,
    script: Mutex<VecDeque<ScriptEntry>>,
    counters: Mutex<Counters>,
    window: Mutex<Window>,
    rng: Mutex<fastrand::Rng>,
    /// The one key accepted, when configured; else any non-empty key is.
    pub api_key: Option<String>,
    /// Stops hangs and latency sleeps when the simulator stops.
    pub shutdown: CancellationToken,
    /// When the simulator started (for `at_seconds`).
    pub started: Instant,
}

/// The rate-limit figures for one response's headers.
pub(super) struct RateLimitSnapshot {
    pub limits: super::scenario::RateLimits,
    pub requests_remaining: u64,
    pub input_remaining: u64,
    pub output_remaining: u64,
    pub reset: SystemTime,
}

impl Shared {
    pub(super) fn new(
        scenario: Scenario,
        time_scale: f64,
        seed: Option<u64>,
        api_key: Option<String>,
        shutdown: CancellationToken,
    ) -> Shared {
        let now = Instant::now();
        Shared {
            timeline: Mutex::new(Timeline { scenario, started: now }),
            time_scale,
            script: Mutex::new(VecDeque::new()),
            counters: Mutex::new(Counters::default()),
            window: Mutex::new(Window { start: SystemTime::now(), requests: 0, input_tokens: 0, output_tokens: 0 }),
            rng: Mutex::new(seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed)),
            api_key,
            shutdown,
            started: now,
        }
    }

    /// Runs `f` with the random number generator.
    pub(super) fn with_rng<T>(&self, f: impl FnOnce(&mut fastrand::Rng) -> T) -> T {
        f(&mut lock(&self.rng))
    }

    /// Appends entries to the script (after emptying it when `replace`) and returns the steps
    /// queued. Refused, leaving the script as it was, when that would queue more than `limit`
    /// steps: the error carries the steps already queued and those asked for.
    pub(super) fn push_script(
        &self,
        entries: impl IntoIterator<Item = ScriptEntry>,
        replace: bool,
        limit: u64,
    ) -> Result<u64, (u64, u64)> {
        let entries: Vec<ScriptEntry> = entries.into_iter().filter(|e| e.count > 0).collect();
        let mut script = lock(&self.script);
        let before = if replace { 0 } else { queued(script.iter()) };
        let asked = queued(&entries);
        let total = before.saturating_add(asked);
        if total > limit {
            return Err((before, asked));
        }
        if replace {
            script.clear();
        }
        script.extend(entries);
        Ok(total)
    }

    pub(super) fn clear_script(&self) {
        lock(&self.script).clear();
    }

    /// The queued entries.
    pub(super) fn script(&self) -> Vec<ScriptEntry> {
        lock(&self.script).iter().copied().collect()
    }

    /// Takes the next scripted step, if any.
    pub(super) fn next_scripted(&self) -> Option<Step> {
        let mut script = lock(&self.script);
        let front = script.front_mut()?;
        let step = front.step;
        front.count -= 1;
        if front.count == 0 {
            script.pop_front();
        }
        Some(step)
    }

    /// Draws a step from the scenario at the current (scaled) time; returns it and the phase.
    pub(super) fn draw_from_scenario(&self) -> (Step, String) {
        let timeline = lock(&self.timeline);
        let elapsed = timeline.started.elapsed().mul_f64(self.time_scale);
        let mut rng = lock(&self.rng);
        let (step, phase) = timeline.scenario.draw(elapsed, &mut rng);
        (step, phase.to_owned())
    }

    /// The scenario's reply text.
    pub(super) fn reply(&self) -> String {
        lock(&self.timeline).scenario.reply.clone()
    }

    /// Replaces the scenario and restarts its clock.
    pub(super) fn set_scenario(&self, scenario: Scenario) {
        *lock(&self.timeline) = Timeline { scenario, started: Instant::now() };
    }

    /// The scenario in force.
    pub(super) fn scenario(&self) -> Scenario {
        lock(&self.timeline).scenario.clone()
    }

    /// The scenario's name and current phase.
    fn scenario_position(&self) -> (String, String) {
        let timeline = lock(&self.timeline);
        let elapsed = timeline.started.elapsed().mul_f64(self.time_scale);
        let (i, _) = timeline.scenario.position(elapsed);
        (timeline.scenario.name.clone(), timeline.scenario.phases[i].name.clone())
    }

    /// Counts one API request and logs it.
    pub(super) fn record(&self, mut record: RequestRecord) {
        let mut c = lock(&self.counters);
        c.requests += 1;
        record.seq = c.requests;
        *c.by_endpoint.entry(record.endpoint).or_default() += 1;
        if record.endpoint == Endpoint::Messages {
            *c.by_fault.entry(record.fault).or_default() += 1;
            *c.by_source.entry(record.source).or_default() += 1;
        }
        *c.by_status.entry(record.status).or_default() += 1;
        if c.log.len() == REQUEST_LOG_LEN {
            c.log.pop_front();
        }
        c.log.push_back(record);
    }

    /// Zeroes the counters and the log (the script and the scenario stay).
    pub(super) fn reset_stats(&self) {
        *lock(&self.counters) = Counters::default();
    }

    pub(super) fn stats(&self) -> Stats {
        let (scenario, phase) = self.scenario_position();
        let script_remaining = queued(lock(&self.script).iter());
        let c = lock(&self.counters);
        let mut stats = Stats { requests: c.requests, script_remaining, scenario, phase, ..Stats::default() };
        for e in Endpoint::ALL {
            stats.by_endpoint.insert(e.as_str().into(), c.by_endpoint.get(&e).copied().unwrap_or(0));
        }
        for f in Fault::ALL {
            stats.by_fault.insert(f.as_str().into(), c.by_fault.get(&f).copied().unwrap_or(0));
        }
        for s in Source::ALL {
            stats.by_source.insert(s.as_str().into(), c.by_source.get(&s).copied().unwrap_or(0));
        }
        for (status, n) in &c.by_status {
            let key = status.map_or_else(|| "none".to_owned(), |s| s.to_string());
            stats.by_status.insert(key, *n);
        }
        stats
    }

    /// The recent-request log, oldest first.
    pub(super) fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.counters).log.iter().cloned().collect()
    }

    /// Accounts one request (and its tokens, when it was answered) in the rate-limit window
    /// and returns what the headers report.
    pub(super) fn rate_limit(&self, input_tokens: u64, output_tokens: u64) -> RateLimitSnapshot {
        let limits = lock(&self.timeline).scenario.rate_limits;
        let mut w = lock(&self.window);
        let now = SystemTime::now();
        let window_len = Duration::from_secs(60);
        if now.duration_since(w.start).unwrap_or_default() >= window_len {
            *w = Window { start: now, requests: 0, input_tokens: 0, output_tokens: 0 };
        }
        w.requests = w.requests.saturating_add(1);
        w.input_tokens = w.input_tokens.saturating_add(input_tokens);
        w.output_tokens = w.output_tokens.saturating_add(output_tokens);
        RateLimitSnapshot {
            limits,
            requests_remaining: limits.requests.saturating_sub(w.requests),
            input_remaining: limits.input_tokens.saturating_sub(w.input_tokens),
            output_remaining: limits.output_tokens.saturating_sub(w.output_tokens),
            reset: w.start + window_len,
        }
    }
}

/// The number of requests a script still covers (saturating: counts come from clients).
pub(super) fn queued<'a>(entries: impl IntoIterator<Item = &'a ScriptEntry>) -> u64 {
    entries.into_iter().fold(0u64, |n, e| n.saturating_add(e.count))
}

/// Locks a mutex, recovering it if a holder panicked: the guarded data are plain counters and
/// queues that stay consistent between statements.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

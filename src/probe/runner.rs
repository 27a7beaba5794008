//! One target's life: its fixed-rate schedule, the rule that only one request is ever in flight
//! for it, and on-demand runs that neither disturb the schedule nor break that rule.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::Span;

use super::internal_events::ResultRecorded;
use super::metrics::{TargetKind, TargetMetrics};
use super::outcome::{ProbeResult, Trigger};
use super::prober::{ControlProber, MessagesProber};
use crate::readiness::ReadyHandle;
use crate::telemetry::event::InternalEvent;

/// What a runner sends requests with.
pub(super) enum Prober {
    Messages(MessagesProber),
    Control(ControlProber),
    /// A socket-free stand-in for the runner's own tests, which run on paused time.
    #[cfg(test)]
    Fake(tests::FakeProber),
}

impl Prober {
    fn timeout(&self) -> Duration {
        match self {
            Prober::Messages(p) => p.timeout(),
            Prober::Control(p) => p.timeout(),
            #[cfg(test)]
            Prober::Fake(p) => p.timeout,
        }
    }

    /// What must never appear in a result's texts (the API key); empty for controls, which
    /// have none (their request id is checked all the same).
    fn secret(&self) -> &str {
        match self {
            Prober::Messages(p) => p.key().expose_for_redaction(),
            Prober::Control(_) => "",
            #[cfg(test)]
            Prober::Fake(_) => "",
        }
    }

    async fn run(&self, trigger: Trigger) -> ProbeResult {
        match self {
            Prober::Messages(p) => p.run(trigger).await,
            Prober::Control(p) => p.run(trigger).await,
            #[cfg(test)]
            Prober::Fake(p) => p.run(trigger).await,
        }
    }
}

/// Why an on-demand run was not started.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum OnDemandRefusal {
    /// Too soon after the last on-demand run; retry after this long.
    TooSoon(Duration),
    /// The in-flight run did not report back in time (it is bounded by the timeout, so this
    /// means something is badly wrong).
    Lost,
}

pub(super) struct Runner {
    prober: Prober,
    /// Where the results are counted; also says the kind of target.
    metrics: TargetMetrics,
    /// `probe{probe}` or `control{control}`: every run, scheduled or on demand, runs in it.
    span: Span,
    interval: Duration,
    /// Held for the duration of every request: at most one in flight per target.
    in_flight: tokio::sync::Mutex<()>,
    /// The latest result, so an on-demand caller that finds a request in flight can wait for
    /// its result instead of sending a second one.
    latest: watch::Sender<Option<ProbeResult>>,
    on_demand_min_interval: Duration,
    last_on_demand: Mutex<Option<Instant>>,
    ready: ReadyHandle,
}

/// How often a target runs, scheduled and on demand.
pub(super) struct Timing {
    pub interval: Duration,
    /// `GET /probe` runs it at most once per this period.
    pub on_demand_min_interval: Duration,
}

impl Runner {
    pub(super) fn new(
        name: &str,
        prober: Prober,
        metrics: TargetMetrics,
        timing: Timing,
        ready: ReadyHandle,
    ) -> Runner {
        let span = match metrics.kind() {
            TargetKind::Probe => tracing::info_span!("probe", probe = %name),
            TargetKind::Control => tracing::info_span!("control", control = %name),
        };
        Runner {
            prober,
            metrics,
            span,
            interval: timing.interval,
            in_flight: tokio::sync::Mutex::new(()),
            latest: watch::Sender::new(None),
            on_demand_min_interval: timing.on_demand_min_interval,
            last_on_demand: Mutex::new(None),
            ready,
        }
    }

    /// The span every run of this target is in; the caller enters it around
    /// [`schedule`](Self::schedule) and [`run_on_demand`](Self::run_on_demand).
    pub(super) fn span(&self) -> &Span {
        &self.span
    }

    /// Runs one request while holding the in-flight lock, and records the result.
    async fn run_locked(&self, trigger: Trigger) -> ProbeResult {
        let mut result = self.prober.run(trigger).await;
        result.redact(self.prober.secret());
        ResultRecorded { result: &result }.emit(&self.metrics);
        self.latest.send_replace(Some(result.clone()));
        result
    }

    /// One scheduled run: waits for an on-demand run in flight to finish first.
    pub(super) async fn run_scheduled(&self) -> ProbeResult {
        let _guard = self.in_flight.lock().await;
        self.run_locked(Trigger::Schedule).await
    }

    /// An on-demand run, rate-limited. If a run is in flight, its result is returned instead
    /// of sending a second request.
    pub(super) async fn run_on_demand(&self) -> Result<ProbeResult, OnDemandRefusal> {
        {
            let mut last = self.last_on_demand.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            if let Some(at) = *last {
                let since = now.duration_since(at);
                if since < self.on_demand_min_interval {
                    return Err(OnDemandRefusal::TooSoon(self.on_demand_min_interval - since));
                }
            }
            *last = Some(now);
        }
        // Subscribe before looking at the lock, so a run that finishes in between is seen.
        let mut results = self.latest.subscribe();
        results.mark_unchanged();
        match self.in_flight.try_lock() {
            Ok(_guard) => Ok(self.run_locked(Trigger::OnDemand).await),
            Err(_) => {
                let wait = self.prober.timeout() + Duration::from_secs(1);
                match tokio::time::timeout(wait, results.changed()).await {
                    Ok(Ok(())) => results.borrow_and_update().clone().ok_or(OnDemandRefusal::Lost),
                    _ => Err(OnDemandRefusal::Lost),
                }
            }
        }
    }

    /// The fixed-rate loop: the first run at a random point within the first interval (so
    /// that many daemons, or many probes, do not fire in step), then every `interval` measured
    /// from that start, not from when the last request ended. A run that overruns its slot
    /// makes the next slot be skipped: neither fired late nor doubled up, the schedule stays
    /// on its grid.
    pub(super) async fn schedule(self: Arc<Self>, shutdown: CancellationToken) {
        self.ready.ready();
        let jitter = self.interval.mul_f64(fastrand::f64());
        let mut ticker = tokio::time::interval_at(Instant::now() + jitter, self.interval);
        // After a late `tick()` the ticker resumes on the grid (no catch-up burst), but it
        // still hands out the one slot that was missed; `last_end` tells that slot apart.
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut last_end: Option<Instant> = None;
        loop {
            let slot = tokio::select! {
                _ = shutdown.cancelled() => return,
                slot = ticker.tick() => slot,
            };
            // A slot that came due while the previous run was still going was overrun. (A
            // slot that is merely picked up late, on a busy machine, still runs.)
            if last_end.is_some_and(|end| slot < end) {
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.run_scheduled() => {}
            }
            last_end = Some(Instant::now());
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    //! On paused time with a fake prober: the schedule's arithmetic is exact, whatever the
    //! machine's load, and waiting is done on events rather than on sleeps.

    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::Semaphore;

    use prometheus_client::registry::Registry;

    use super::*;
    use crate::classify::ErrorClass;
    use crate::probe::metrics::ControlMetrics;
    use crate::readiness::Readiness;

    /// What the fake saw: when each run started, and the most runs ever open at once.
    #[derive(Default)]
    pub(crate) struct Log {
        starts: Mutex<Vec<Instant>>,
        open: AtomicUsize,
        max_open: AtomicUsize,
    }

    impl Log {
        fn starts(&self) -> Vec<Instant> {
            self.starts.lock().unwrap().clone()
        }

        fn runs(&self) -> usize {
            self.starts.lock().unwrap().len()
        }
    }

    /// A run takes `delay` (after passing the gate, if there is one) and succeeds.
    pub(crate) struct FakeProber {
        pub timeout: Duration,
        delay: Duration,
        gate: Option<Arc<Semaphore>>,
        log: Arc<Log>,
    }

    impl FakeProber {
        pub(crate) async fn run(&self, trigger: Trigger) -> ProbeResult {
            self.log.starts.lock().unwrap().push(Instant::now());
            let open = self.log.open.fetch_add(1, Ordering::SeqCst) + 1;
            self.log.max_open.fetch_max(open, Ordering::SeqCst);
            if let Some(gate) = &self.gate {
                gate.acquire().await.expect("gate open").forget();
            }
            tokio::time::sleep(self.delay).await;
            self.log.open.fetch_sub(1, Ordering::SeqCst);
            let mut result = ProbeResult::new("fake", trigger);
            result.class = ErrorClass::Ok;
            result.success = true;
            result.finish();
            result
        }
    }

    fn runner(
        delay: Duration,
        interval: Duration,
        on_demand: Duration,
        gate: Option<Arc<Semaphore>>,
    ) -> (Arc<Runner>, Arc<Log>) {
        let log = Arc::new(Log::default());
        let prober = FakeProber { timeout: Duration::from_secs(5), delay, gate, log: log.clone() };
        let ready = Readiness::new().register("control:fake");
        let metrics = TargetMetrics::Control(ControlMetrics::register(&mut Registry::default()));
        let timing = Timing { interval, on_demand_min_interval: on_demand };
        (Arc::new(Runner::new("fake", Prober::Fake(prober), metrics, timing, ready)), log)
    }

    /// Yields until `done` holds; panics if it never does (the tasks it waits for are all on
    /// this runtime, so a few thousand turns are plenty).
    async fn until(what: &str, done: impl Fn() -> bool) {
        for _ in 0..10_000 {
            if done() {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("never happened: {what}");
    }

    /// Runs the schedule of `run_time` runs in `interval` slots for `period`, stops it, and
    /// returns when each run started, having checked that none was in flight alongside another.
    async fn schedule_for(run_time: Duration, interval: Duration, period: Duration) -> Vec<Instant> {
        let (r, log) = runner(run_time, interval, Duration::from_secs(1), None);
        let shutdown = CancellationToken::new();
        let scheduled = tokio::spawn(r.schedule(shutdown.clone()));
        tokio::time::sleep(period).await;
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(1), scheduled).await.expect("loop stops on cancel").unwrap();
        assert_eq!(log.max_open.load(Ordering::SeqCst), 1, "two runs were in flight at once");
        let starts = log.starts();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(log.runs(), starts.len(), "no run after cancel");
        starts
    }

    fn gaps(starts: &[Instant]) -> Vec<Duration> {
        starts.windows(2).map(|w| w[1] - w[0]).collect()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Tolerance for the timer wheel's millisecond rounding.
    fn about(got: Duration, want: Duration) -> bool {
        got.abs_diff(want) <= Duration::from_millis(1)
    }

    #[tokio::test(start_paused = true)]
    async fn the_schedule_is_fixed_rate_and_stops_on_cancel() {
        // 70 ms runs in 100 ms slots: fixed-rate starts a run every 100 ms, 15 or 16 of them in
        // 1.55 s (the first lands within the first interval); a loop that slept the interval
        // after each run would start one every 170 ms, at most 10.
        let starts = schedule_for(ms(70), ms(100), ms(1550)).await;
        assert!((15..=16).contains(&starts.len()), "{} runs in 1.55 s at a 100 ms interval", starts.len());
        for gap in gaps(&starts) {
            assert!(about(gap, ms(100)), "runs {gap:?} apart: {:?}", gaps(&starts));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_that_overruns_its_slot_skips_the_next_one() {
        // 150 ms runs in 100 ms slots: the slot after each run is skipped, so runs start 200 ms
        // apart, on the original grid; firing the missed slot late would start them 150 ms apart.
        let starts = schedule_for(ms(150), ms(100), ms(1050)).await;
        assert!((5..=6).contains(&starts.len()), "{} runs in 1.05 s", starts.len());
        for gap in gaps(&starts) {
            assert!(about(gap, ms(200)), "runs {gap:?} apart: {:?}", gaps(&starts));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn never_two_in_flight_even_with_on_demand_calls() {
        // The interval is shorter than a run: ticks must be skipped, not stacked, and on-demand
        // calls must share a run in flight rather than start a second one.
        let (r, log) = runner(Duration::from_millis(60), Duration::from_millis(20), Duration::from_millis(1), None);
        let shutdown = CancellationToken::new();
        let scheduled = tokio::spawn(r.clone().schedule(shutdown.clone()));
        let mut calls = Vec::new();
        for _ in 0..8 {
            let r = r.clone();
            calls.push(tokio::spawn(async move { r.run_on_demand().await }));
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        for c in calls {
            let result = c.await.unwrap().expect("on-demand call answered");
            assert!(result.success(), "{result:?}");
        }
        shutdown.cancel();
        scheduled.await.unwrap();
        assert_eq!(log.max_open.load(Ordering::SeqCst), 1, "two runs were in flight at once");
        // 200 ms of calls with 60 ms runs back to back.
        assert!(log.runs() >= 3, "{} runs", log.runs());
    }

    #[tokio::test(start_paused = true)]
    async fn on_demand_is_rate_limited_and_coalesces_with_a_run_in_flight() {
        let gate = Arc::new(Semaphore::new(0));
        let (r, log) =
            runner(Duration::from_millis(150), Duration::from_secs(3600), Duration::from_secs(30), Some(gate.clone()));
        // A scheduled run in flight, held at the gate.
        let scheduled = tokio::spawn({
            let r = r.clone();
            async move { r.run_scheduled().await }
        });
        until("the scheduled run started", || log.runs() == 1).await;
        // An on-demand call arrives; once it watches for the next result it is committed to
        // sharing the run in flight (the lock is held until the gate opens).
        let on_demand = tokio::spawn({
            let r = r.clone();
            async move { r.run_on_demand().await }
        });
        until("the on-demand call waits for the result", || r.latest.receiver_count() == 1).await;
        gate.add_permits(1);
        let shared = on_demand.await.unwrap().unwrap();
        assert_eq!(shared.trigger, Trigger::Schedule, "the in-flight run's result is shared");
        scheduled.await.unwrap();
        assert_eq!(log.runs(), 1, "the on-demand call started no run of its own");
        // The next call within the limit is refused with the remaining wait.
        match r.run_on_demand().await {
            Err(OnDemandRefusal::TooSoon(wait)) => {
                assert!(wait > Duration::from_secs(29) && wait <= Duration::from_secs(30), "{wait:?}");
            }
            other => panic!("expected TooSoon, got {other:?}"),
        }
        assert_eq!(log.runs(), 1);
        // Once the limit has passed, an on-demand call runs by itself.
        tokio::time::sleep(Duration::from_secs(30)).await;
        gate.add_permits(1);
        let own = r.run_on_demand().await.unwrap();
        assert_eq!(own.trigger, Trigger::OnDemand);
        assert_eq!(log.runs(), 2);
    }
}

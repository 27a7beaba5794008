//! One target's life: its fixed-rate schedule, the rule that only one request is ever in flight
//! for it, and on-demand runs that neither disturb the schedule nor break that rule.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::metrics::{ControlMetrics, Kind, ProbeMetrics};
use super::outcome::{ProbeResult, Trigger};
use super::prober::{ControlProber, MessagesProber};
use crate::readiness::ReadyHandle;

/// What a runner sends requests with.
// One per target, built once and never moved afterwards: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Prober {
    Messages(MessagesProber, ProbeMetrics),
    Control(ControlProber, ControlMetrics),
}

impl Prober {
    fn kind(&self) -> Kind {
        match self {
            Prober::Messages(..) => Kind::Probe,
            Prober::Control(..) => Kind::Control,
        }
    }

    fn timeout(&self) -> Duration {
        match self {
            Prober::Messages(p, _) => p.timeout(),
            Prober::Control(p, _) => p.timeout(),
        }
    }
}

/// Why an on-demand run was not started.
#[derive(Debug, PartialEq, Eq)]
pub enum OnDemandRefusal {
    /// Too soon after the last on-demand run; retry after this long.
    TooSoon(Duration),
    /// The in-flight run did not report back in time (it is bounded by the timeout, so this
    /// means something is badly wrong).
    Lost,
}

pub struct Runner {
    pub name: String,
    prober: Prober,
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

impl Runner {
    pub fn new(
        name: &str,
        prober: Prober,
        interval: Duration,
        on_demand_min_interval: Duration,
        ready: ReadyHandle,
    ) -> Runner {
        Runner {
            name: name.to_owned(),
            prober,
            interval,
            in_flight: tokio::sync::Mutex::new(()),
            latest: watch::Sender::new(None),
            on_demand_min_interval,
            last_on_demand: Mutex::new(None),
            ready,
        }
    }

    /// Runs one request while holding the in-flight lock, and records the result.
    async fn run_locked(&self, trigger: Trigger) -> ProbeResult {
        let mut result = match &self.prober {
            Prober::Messages(p, _) => p.run(trigger).await,
            Prober::Control(p, _) => p.run(trigger).await,
        };
        match &self.prober {
            Prober::Messages(p, metrics) => {
                result.redact(p.key().expose_for_redaction());
                metrics.record(&result);
            }
            Prober::Control(_, metrics) => metrics.record(&result),
        }
        result.log(self.prober.kind().as_str());
        self.latest.send_replace(Some(result.clone()));
        result
    }

    /// One scheduled run: waits for an on-demand run in flight to finish first.
    pub async fn run_scheduled(&self) -> ProbeResult {
        let _guard = self.in_flight.lock().await;
        self.run_locked(Trigger::Schedule).await
    }

    /// An on-demand run, rate-limited. If a run is in flight, its result is returned instead
    /// of sending a second request.
    pub async fn run_on_demand(&self) -> Result<ProbeResult, OnDemandRefusal> {
        {
            let mut last = self.last_on_demand.lock().unwrap_or_else(|p| p.into_inner());
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
    /// makes the next slot be skipped rather than fired late in a burst.
    pub async fn schedule(self: Arc<Self>, shutdown: CancellationToken) {
        self.ready.ready();
        let jitter = self.interval.mul_f64(fastrand::f64());
        let mut ticker = tokio::time::interval_at(Instant::now() + jitter, self.interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.run_scheduled() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use prometheus_client::registry::Registry;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::config::Duration as ConfigDuration;
    use crate::probe::ControlConfig;
    use crate::readiness::Readiness;

    /// Counts requests and the most that were ever open at once; answers 200 after `delay`.
    #[derive(Default)]
    struct Counters {
        requests: AtomicUsize,
        open: AtomicUsize,
        max_open: AtomicUsize,
    }

    async fn slow_server(delay: Duration) -> (SocketAddr, Arc<Counters>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else { return };
                let c = c.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf).await;
                    c.requests.fetch_add(1, Ordering::SeqCst);
                    let now_open = c.open.fetch_add(1, Ordering::SeqCst) + 1;
                    c.max_open.fetch_max(now_open, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    c.open.fetch_sub(1, Ordering::SeqCst);
                    let _ =
                        stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
                });
            }
        });
        (addr, counters)
    }

    fn runner(addr: SocketAddr, interval: Duration, on_demand: Duration) -> Arc<Runner> {
        let config = ControlConfig {
            name: "c".into(),
            url: format!("http://{addr}/"),
            interval: ConfigDuration(interval),
            timeout: ConfigDuration::from_secs(5),
        };
        let metrics = ControlMetrics::register(&mut Registry::default());
        let prober = ControlProber::new(&config).unwrap();
        let ready = Readiness::new().register("control:c");
        Arc::new(Runner::new("c", Prober::Control(prober, metrics), interval, on_demand, ready))
    }

    #[tokio::test]
    async fn never_two_in_flight_even_with_on_demand_calls() {
        let (addr, counters) = slow_server(Duration::from_millis(60)).await;
        // The interval is shorter than a request: ticks must be skipped, not stacked.
        let r = runner(addr, Duration::from_millis(20), Duration::from_millis(1));
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
        assert_eq!(counters.max_open.load(Ordering::SeqCst), 1, "two requests were in flight at once");
        assert!(counters.requests.load(Ordering::SeqCst) >= 3);
    }

    #[tokio::test]
    async fn on_demand_is_rate_limited_and_coalesces_with_a_run_in_flight() {
        let (addr, counters) = slow_server(Duration::from_millis(150)).await;
        let r = runner(addr, Duration::from_secs(3600), Duration::from_secs(30));
        // A scheduled run in flight; an on-demand call gets its result, sending nothing.
        let scheduled = tokio::spawn({
            let r = r.clone();
            async move { r.run_scheduled().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let shared = r.run_on_demand().await.unwrap();
        assert_eq!(shared.trigger, Trigger::Schedule, "the in-flight run's result is shared");
        scheduled.await.unwrap();
        assert_eq!(counters.requests.load(Ordering::SeqCst), 1);
        // The next call within the limit is refused with the remaining wait.
        match r.run_on_demand().await {
            Err(OnDemandRefusal::TooSoon(wait)) => {
                assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30), "{wait:?}")
            }
            other => panic!("expected TooSoon, got {other:?}"),
        }
        assert_eq!(counters.requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_schedule_is_fixed_rate_and_stops_on_cancel() {
        // Each request takes 70 ms of a 100 ms slot: in 1.55 s fixed-rate gives 15 or 16 runs
        // where a sleep-after-run loop would give at most 10. Bounds leave room for a busy
        // machine either way.
        let (addr, counters) = slow_server(Duration::from_millis(70)).await;
        let r = runner(addr, Duration::from_millis(100), Duration::from_secs(1));
        let shutdown = CancellationToken::new();
        let scheduled = tokio::spawn(r.clone().schedule(shutdown.clone()));
        tokio::time::sleep(Duration::from_millis(1550)).await;
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(1), scheduled).await.expect("loop stops on cancel").unwrap();
        let runs = counters.requests.load(Ordering::SeqCst);
        assert!((12..=16).contains(&runs), "{runs} runs in 1.55 s at a 100 ms interval");
        let after = counters.requests.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(counters.requests.load(Ordering::SeqCst), after, "no run after cancel");
    }
}

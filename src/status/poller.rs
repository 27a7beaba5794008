//! The poll loops: one per URL (the feed, and the summary if configured), each on a fixed-rate
//! timer. A failed poll keeps the last good state, is counted, and is retried sooner, backing
//! off with jitter up to the interval; the loop never gives up and stops only on shutdown.

use std::future::Future;
use std::time::{Duration, SystemTime};

use reqwest::{Client, Url};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::feed;
use super::fetch::{self, Fetched, PollResult, Validators};
use super::internal_events::{Document, PollEnded};
use super::metrics::PageMetrics;
use super::summary;
use super::tracker::Tracker;
use crate::telemetry::event::InternalEvent;

const FEED_ACCEPT: &str =
    "application/atom+xml, application/rss+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1";
const SUMMARY_ACCEPT: &str = "application/json, */*;q=0.1";

/// The shortest retry delay after a failure.
const MIN_BACKOFF: Duration = Duration::from_millis(100);

/// What both loops need to reach their URL.
pub(super) struct PollTarget {
    pub client: Client,
    pub url: Url,
    pub timeout: Duration,
    pub max_body_bytes: u64,
}

/// One kind of poll (feed or summary).
pub(super) trait Poll {
    /// Polls once, updates the metrics, and returns the outcome.
    fn poll(&mut self) -> impl Future<Output = PollResult> + Send;
}

/// Runs `poller` every `interval` until `shutdown`: the first poll at once, then on a fixed-rate
/// schedule; after a failure, sooner ([`backoff`]).
pub(super) async fn run<P: Poll>(mut poller: P, interval: Duration, shutdown: CancellationToken) {
    let mut next = Instant::now();
    let mut failures: u32 = 0;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep_until(next) => {}
        }
        let scheduled = next;
        let result = tokio::select! {
            _ = shutdown.cancelled() => return,
            result = poller.poll() => result,
        };
        let now = Instant::now();
        if result.is_success() {
            failures = 0;
            next = scheduled + interval;
            // Skip the ticks a slow poll missed rather than firing them in a burst.
            while next <= now {
                next += interval;
            }
        } else {
            failures = failures.saturating_add(1);
            next = now + backoff(interval, failures);
        }
    }
}

/// The delay before retry number `failures` (1-based): a sixteenth of the interval doubling
/// per failure, with ±20 % jitter, never more than the interval.
pub(super) fn backoff(interval: Duration, failures: u32) -> Duration {
    let base = (interval / 16).max(MIN_BACKOFF).min(interval);
    let doubled = base.saturating_mul(1_u32 << failures.saturating_sub(1).min(16));
    let jittered = doubled.mul_f64(0.8 + fastrand::f64() * 0.4);
    jittered.min(interval)
}

/// One URL with what its polls remember: the validators of the last good body, and the result
/// of the last poll while polls fail (for the log lines of [`PollEnded`]).
struct PolledUrl {
    target: PollTarget,
    document: Document,
    accept: &'static str,
    validators: Validators,
    failing: Option<PollResult>,
}

/// What one fetch brought: its result, the parsed body if there was one, and why it failed.
struct Fetch<T> {
    result: PollResult,
    parsed: Option<T>,
    error: Option<String>,
}

impl PolledUrl {
    fn new(target: PollTarget, document: Document, accept: &'static str) -> Self {
        Self { target, document, accept, validators: Validators::default(), failing: None }
    }

    /// Fetches and parses; the body's validators are kept only once it has parsed, so a broken
    /// body is fetched again in full rather than answered with 304 for ever.
    async fn get<T, E: std::error::Error + 'static>(&mut self, parse: impl FnOnce(&[u8]) -> Result<T, E>) -> Fetch<T> {
        let t = &self.target;
        let fetched = fetch::fetch(&t.client, &t.url, self.accept, &self.validators, t.max_body_bytes, t.timeout).await;
        match fetched {
            Ok(Fetched::NotModified) => Fetch { result: PollResult::NotModified, parsed: None, error: None },
            Ok(Fetched::Body { body, validators }) => match parse(&body) {
                Ok(parsed) => {
                    self.validators = validators;
                    Fetch { result: PollResult::Ok, parsed: Some(parsed), error: None }
                }
                Err(e) => {
                    Fetch { result: PollResult::ParseError, parsed: None, error: Some(crate::error::describe(&e)) }
                }
            },
            Err(e) => Fetch { result: e.result(), parsed: None, error: Some(crate::error::describe(&e)) },
        }
    }

    /// Counts and logs the poll, and remembers whether polls are failing.
    fn ended<T>(&mut self, fetch: &Fetch<T>, elapsed: Duration, metrics: &PageMetrics) {
        PollEnded {
            document: self.document,
            url: &self.target.url,
            result: fetch.result,
            elapsed,
            at: SystemTime::now(),
            error: fetch.error.as_deref(),
            failing_before: self.failing,
        }
        .emit(metrics);
        self.failing = (!fetch.result.is_success()).then_some(fetch.result);
    }
}

/// Polls the history feed.
pub(super) struct FeedPoller {
    source: PolledUrl,
    metrics: PageMetrics,
    tracker: Tracker,
}

impl FeedPoller {
    pub(super) fn new(target: PollTarget, metrics: PageMetrics) -> Self {
        Self { source: PolledUrl::new(target, Document::Feed, FEED_ACCEPT), metrics, tracker: Tracker::new() }
    }
}

impl Poll for FeedPoller {
    async fn poll(&mut self) -> PollResult {
        let started = Instant::now();
        let fetch = self.source.get(feed::parse).await;
        if let Some(feed) = &fetch.parsed {
            self.tracker.apply(feed, SystemTime::now(), &self.metrics);
        }
        self.source.ended(&fetch, started.elapsed(), &self.metrics);
        fetch.result
    }
}

/// Polls the JSON summary.
pub(super) struct SummaryPoller {
    source: PolledUrl,
    metrics: PageMetrics,
    /// Component names shown now, to remove the series of those that disappear.
    components: Vec<String>,
}

impl SummaryPoller {
    pub(super) fn new(target: PollTarget, metrics: PageMetrics) -> Self {
        Self { source: PolledUrl::new(target, Document::Summary, SUMMARY_ACCEPT), metrics, components: Vec::new() }
    }
}

impl Poll for SummaryPoller {
    async fn poll(&mut self) -> PollResult {
        let started = Instant::now();
        let fetch = self.source.get(summary::parse).await;
        if let Some(parsed) = &fetch.parsed {
            let names: Vec<String> = parsed.components.iter().map(|c| c.name.clone()).collect();
            let gone: Vec<String> = self.components.iter().filter(|n| !names.contains(n)).cloned().collect();
            self.metrics.set_components(&parsed.components, &gone);
            self.metrics.set_indicator(parsed.indicator);
            self.metrics.set_unresolved(parsed.incidents.iter().map(|i| i.impact));
            self.components = names;
        }
        self.source.ended(&fetch, started.elapsed(), &self.metrics);
        fetch.result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_stays_within_the_interval() {
        let interval = Duration::from_secs(60);
        for _ in 0..200 {
            let first = backoff(interval, 1);
            assert!(first >= Duration::from_millis(3000) && first <= Duration::from_millis(4500), "{first:?}");
            let third = backoff(interval, 3);
            assert!(third >= Duration::from_secs(12) && third <= Duration::from_secs(18), "{third:?}");
            assert!(backoff(interval, 10) <= interval);
            assert!(backoff(interval, u32::MAX) <= interval);
        }
        // Fast test intervals: never below the floor, never above the interval.
        let fast = Duration::from_millis(200);
        for failures in 1..20 {
            let d = backoff(fast, failures);
            assert!(d >= Duration::from_millis(80) && d <= fast, "{d:?}");
        }
    }
}

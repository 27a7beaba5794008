//! The ingest layer's metric families, the cardinality guard in front of them, and the
//! attempts histogram.
//!
//! The hot path never builds a label set: the first event of a service creates (at zero) every
//! series that service can have and keeps handles on them, so later events are one map lookup
//! under a read lock plus atomic adds. The services listed in `[ingest] services` get theirs at
//! start-up instead, so that a scrape sees them at 0 before their first event (Prometheus's
//! `increase()` cannot count the first value of a series that appears already above 0).
//! Services beyond `max_services` (models beyond `max_models`) share the series of the value
//! `other`, and each such event is counted in `claudewatch_ingest_overflow_total{label}`;
//! memory is bounded by the caps.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

use super::event::{Event, OVERFLOW_VALUE, Outcome};
use crate::classify::ErrorClass;
use crate::telemetry::labels::label_enum;

/// Upper bounds of the attempts histogram: 1, 2, … 10 attempts, then `+Inf`.
pub(super) const ATTEMPT_BUCKETS: usize = 10;

label_enum! {
    /// `claudewatch_ingest_events_total{result}`.
    pub(super) enum EventResult { Accepted => "accepted", Rejected => "rejected" }
}

label_enum! {
    /// `claudewatch_ingest_rejected_requests_total{reason}`.
    pub(super) enum RejectReason {
        Invalid => "invalid",
        Unauthorized => "unauthorized",
        TooLarge => "too_large",
        UnsupportedMediaType => "unsupported_media_type",
        Duplicate => "duplicate",
    }
}

label_enum! {
    /// `claudewatch_ingest_overflow_total{label}`.
    pub(super) enum OverflowLabel { Service => "service", Model => "model" }
}

label_enum! {
    /// The `outcome` of `claudewatch_client_calls_total`: finished calls only.
    pub(super) enum CallOutcome { Success => "success", Exhausted => "exhausted", Failure => "failure" }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceClassLabels {
    service: Arc<str>,
    class: ErrorClass,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceOutcomeLabels {
    service: Arc<str>,
    outcome: CallOutcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelOutcomeLabels {
    model: Arc<str>,
    outcome: Outcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: EventResult,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: RejectReason,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OverflowLabels {
    label: OverflowLabel,
}

/// A histogram of whole attempts with buckets 1–10, where one observation can stand for many
/// calls (`count`), so a pre-aggregated event costs a few atomic adds instead of a loop.
#[derive(Clone, Debug, Default)]
pub(super) struct AttemptsHistogram {
    inner: Arc<AttemptsInner>,
}

#[derive(Debug, Default)]
struct AttemptsInner {
    /// Non-cumulative counts: `buckets[i]` holds calls that took `i + 1` attempts; the last
    /// slot holds calls that took more than [`ATTEMPT_BUCKETS`].
    buckets: [AtomicU64; ATTEMPT_BUCKETS + 1],
    /// Sum of attempts over every observed call.
    sum: AtomicU64,
}

impl AttemptsHistogram {
    /// Records `calls` calls that each took `attempts` attempts.
    pub(super) fn observe(&self, attempts: u8, calls: u64) {
        let slot = usize::from(attempts.max(1) - 1).min(ATTEMPT_BUCKETS);
        self.inner.buckets[slot].fetch_add(calls, Ordering::Relaxed);
        self.inner.sum.fetch_add(u64::from(attempts) * calls, Ordering::Relaxed);
    }
}

impl TypedMetric for AttemptsHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for AttemptsHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> std::fmt::Result {
        let mut buckets = [(0.0, 0u64); ATTEMPT_BUCKETS + 1];
        let mut count = 0;
        for (i, (bound, n)) in buckets.iter_mut().enumerate() {
            *bound = if i < ATTEMPT_BUCKETS { (i + 1) as f64 } else { f64::INFINITY };
            *n = self.inner.buckets[i].load(Ordering::Relaxed);
            count += *n;
        }
        // The count is the sum of the buckets read, so `_count` always equals the `+Inf`
        // bucket even while events are being recorded.
        let sum = self.inner.sum.load(Ordering::Relaxed) as f64;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// Every series of one service, created at zero when the service is first seen.
struct ServiceSeries {
    /// Indexed like [`ErrorClass::FAILURES`].
    retries: [Counter; 8],
    exhausted: [Counter; 8],
    /// Indexed like [`CallOutcome::ALL`].
    calls: [Counter; 3],
    attempts: AttemptsHistogram,
}

/// Every series of one model: events per outcome, indexed like [`Outcome::ALL`].
struct ModelSeries {
    events: [Counter; 4],
}

fn failure_index(class: ErrorClass) -> Option<usize> {
    ErrorClass::FAILURES.iter().position(|c| *c == class)
}

/// A set of at most `cap` label values, each mapped to its series, plus the shared `other`.
struct Bounded<T> {
    cap: usize,
    values: RwLock<HashMap<Box<str>, Arc<T>>>,
    other: OnceLock<Arc<T>>,
}

impl<T> Bounded<T> {
    fn new(cap: usize) -> Self {
        Self { cap, values: RwLock::new(HashMap::new()), other: OnceLock::new() }
    }

    /// The series of `value`, creating them with `make` if there is room; else those of
    /// `other`, and `true` for "overflowed".
    fn get(&self, value: &str, make: impl Fn(&str) -> T) -> (Arc<T>, bool) {
        {
            let values = self.values.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(series) = values.get(value) {
                return (Arc::clone(series), false);
            }
            // Values are never removed and are only added below the cap, so once the map is
            // full an unknown value can never get its own series: go to `other` without
            // queueing for the write lock (a flood of new names past the cap stays on the
            // read path).
            if values.len() >= self.cap {
                drop(values);
                return (self.other(make), true);
            }
        }
        let mut values = self.values.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(series) = values.get(value) {
            return (Arc::clone(series), false);
        }
        if values.len() < self.cap {
            let series = Arc::new(make(value));
            values.insert(value.into(), Arc::clone(&series));
            return (series, false);
        }
        // Another request filled the last slot between the two locks.
        drop(values);
        (self.other(make), true)
    }

    fn other(&self, make: impl Fn(&str) -> T) -> Arc<T> {
        Arc::clone(self.other.get_or_init(|| Arc::new(make(OVERFLOW_VALUE))))
    }
}

/// The layer's families and the guard in front of them.
pub(super) struct IngestMetrics {
    retries: Family<ServiceClassLabels, Counter>,
    exhausted: Family<ServiceClassLabels, Counter>,
    calls: Family<ServiceOutcomeLabels, Counter>,
    attempts: Family<ServiceLabels, AttemptsHistogram>,
    model_events: Family<ModelOutcomeLabels, Counter>,
    events: [Counter; 2],
    rejected: [Counter; 5],
    overflow: [Counter; 2],
    services: Bounded<ServiceSeries>,
    models: Bounded<ModelSeries>,
}

impl IngestMetrics {
    /// Registers the families; the bounded combinations of the `ingest_*` families start at 0,
    /// and so does every series of each of `services` (which take their place under
    /// `max_services`; the config has checked their names and number).
    pub(super) fn new(registry: &mut Registry, max_services: usize, max_models: usize, services: &[String]) -> Self {
        let events_family = Family::<ResultLabels, Counter>::default();
        let rejected_family = Family::<ReasonLabels, Counter>::default();
        let overflow_family = Family::<OverflowLabels, Counter>::default();
        let events = [EventResult::Accepted, EventResult::Rejected]
            .map(|result| events_family.get_or_create_owned(&ResultLabels { result }));
        let rejected = [
            RejectReason::Invalid,
            RejectReason::Unauthorized,
            RejectReason::TooLarge,
            RejectReason::UnsupportedMediaType,
            RejectReason::Duplicate,
        ]
        .map(|reason| rejected_family.get_or_create_owned(&ReasonLabels { reason }));
        let overflow = [OverflowLabel::Service, OverflowLabel::Model]
            .map(|label| overflow_family.get_or_create_owned(&OverflowLabels { label }));

        let metrics = Self {
            retries: Family::default(),
            exhausted: Family::default(),
            calls: Family::default(),
            attempts: Family::default(),
            model_events: Family::default(),
            events,
            rejected,
            overflow,
            services: Bounded::new(max_services),
            models: Bounded::new(max_models),
        };
        registry.register(
            "claudewatch_client_retries",
            "Failed attempts that apps reported as about to be retried, by service and error class",
            metrics.retries.clone(),
        );
        registry.register(
            "claudewatch_client_exhausted",
            "Retry chains that apps reported as given up, by service and the class of the last error",
            metrics.exhausted.clone(),
        );
        registry.register(
            "claudewatch_client_calls",
            "Finished calls that apps reported, by service and outcome (success, exhausted, failure)",
            metrics.calls.clone(),
        );
        registry.register(
            "claudewatch_client_attempts",
            "Attempts per finished call that reported its attempts, by service",
            metrics.attempts.clone(),
        );
        registry.register(
            "claudewatch_client_model_events",
            "Reported events (times their count) per model and outcome, for events that name a model",
            metrics.model_events.clone(),
        );
        registry.register(
            "claudewatch_ingest_events",
            "Events received on the ingest endpoint, by result; rejected counts the events of refused valid-JSON bodies",
            events_family,
        );
        registry.register(
            "claudewatch_ingest_rejected_requests",
            "Requests to the ingest endpoint that counted nothing, by reason",
            rejected_family,
        );
        registry.register(
            "claudewatch_ingest_overflow",
            "Events whose service or model was counted under \"other\" because the configured maximum of distinct values was reached",
            overflow_family,
        );
        for name in services {
            metrics.services.get(name, |n| metrics.service_series(n));
        }
        metrics
    }

    fn service_series(&self, name: &str) -> ServiceSeries {
        let service: Arc<str> = Arc::from(name);
        let by_class = |family: &Family<ServiceClassLabels, Counter>| {
            ErrorClass::FAILURES
                .map(|class| family.get_or_create_owned(&ServiceClassLabels { service: Arc::clone(&service), class }))
        };
        ServiceSeries {
            retries: by_class(&self.retries),
            exhausted: by_class(&self.exhausted),
            calls: [CallOutcome::Success, CallOutcome::Exhausted, CallOutcome::Failure].map(|outcome| {
                self.calls.get_or_create_owned(&ServiceOutcomeLabels { service: Arc::clone(&service), outcome })
            }),
            attempts: self.attempts.get_or_create_owned(&ServiceLabels { service: Arc::clone(&service) }),
        }
    }

    fn model_series(&self, name: &str) -> ModelSeries {
        let model: Arc<str> = Arc::from(name);
        ModelSeries {
            events: Outcome::ALL.map(|outcome| {
                self.model_events.get_or_create_owned(&ModelOutcomeLabels { model: Arc::clone(&model), outcome })
            }),
        }
    }

    /// Counts the events of one accepted body.
    pub(super) fn record(&self, events: &[Event<'_>]) {
        // Batches usually repeat one service and model: look each up once per run of equal
        // values, not once per event.
        let mut service: Option<(&str, Arc<ServiceSeries>, bool)> = None;
        let mut model: Option<(&str, Arc<ModelSeries>, bool)> = None;
        let (mut service_overflow, mut model_overflow) = (0u64, 0u64);

        for event in events {
            let name = event.service.as_ref();
            if service.as_ref().is_none_or(|(last, _, _)| *last != name) {
                let (series, overflowed) = self.services.get(name, |n| self.service_series(n));
                service = Some((name, series, overflowed));
            }
            let Some((_, series, overflowed)) = &service else { continue };
            service_overflow += u64::from(*overflowed);

            let count = u64::from(event.count);
            let class_slot = event.class.and_then(failure_index);
            match event.outcome {
                Outcome::Retry => {
                    if let Some(i) = class_slot {
                        series.retries[i].inc_by(count);
                    }
                }
                Outcome::Exhausted => {
                    if let Some(i) = class_slot {
                        series.exhausted[i].inc_by(count);
                    }
                    series.calls[1].inc_by(count);
                }
                Outcome::Success => {
                    series.calls[0].inc_by(count);
                }
                Outcome::Failure => {
                    series.calls[2].inc_by(count);
                }
            }
            if event.outcome.is_finished_call()
                && let Some(attempts) = event.attempts
            {
                series.attempts.observe(attempts, count);
            }

            if let Some(name) = event.model.as_deref() {
                if model.as_ref().is_none_or(|(last, _, _)| *last != name) {
                    let (series, overflowed) = self.models.get(name, |n| self.model_series(n));
                    model = Some((name, series, overflowed));
                }
                if let Some((_, series, overflowed)) = &model {
                    model_overflow += u64::from(*overflowed);
                    let slot = Outcome::ALL.iter().position(|o| *o == event.outcome).unwrap_or(0);
                    series.events[slot].inc_by(count);
                }
            }
        }

        if service_overflow > 0 {
            self.overflow[0].inc_by(service_overflow);
        }
        if model_overflow > 0 {
            self.overflow[1].inc_by(model_overflow);
        }
        self.events[0].inc_by(events.len() as u64);
    }

    /// Counts a refused request and the events it held (0 when unknown).
    pub(super) fn reject(&self, reason: RejectReason, events: usize) {
        self.rejected[reason as usize].inc();
        if events > 0 {
            self.events[1].inc_by(events as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::render::{Format, render};
    use std::borrow::Cow;

    fn event(service: &str, outcome: Outcome, class: Option<ErrorClass>) -> Event<'static> {
        Event {
            service: Cow::Owned(service.to_owned()),
            outcome,
            class,
            status: None,
            attempts: None,
            model: None,
            count: 1,
        }
    }

    #[test]
    fn reject_reason_slots_follow_the_declaration_order() {
        for (i, reason) in RejectReason::ALL.iter().enumerate() {
            assert_eq!(*reason as usize, i);
        }
        assert_eq!(CallOutcome::ALL, [CallOutcome::Success, CallOutcome::Exhausted, CallOutcome::Failure]);
    }

    #[test]
    fn the_cap_sends_new_services_to_other_and_counts_the_overflow() {
        let mut registry = Registry::default();
        let metrics = IngestMetrics::new(&mut registry, 2, 1, &[]);
        let events: Vec<_> =
            ["a", "b", "c", "d", "a"].iter().map(|s| event(s, Outcome::Retry, Some(ErrorClass::Overloaded))).collect();
        metrics.record(&events);
        let text = render(&registry, Format::Classic);
        assert!(text.contains("claudewatch_client_retries_total{service=\"a\",class=\"overloaded\"} 2\n"), "{text}");
        assert!(
            text.contains("claudewatch_client_retries_total{service=\"other\",class=\"overloaded\"} 2\n"),
            "{text}"
        );
        assert!(!text.contains("service=\"c\""), "{text}");
        assert!(text.contains("claudewatch_ingest_overflow_total{label=\"service\"} 2\n"), "{text}");
        assert!(text.contains("claudewatch_ingest_events_total{result=\"accepted\"} 5\n"), "{text}");
    }

    #[test]
    fn listed_services_exist_at_zero_from_the_start_and_count_toward_the_cap() {
        let mut registry = Registry::default();
        let listed = ["checkout".to_owned(), "search".to_owned()];
        let metrics = IngestMetrics::new(&mut registry, 3, 1, &listed);
        let text = render(&registry, Format::Classic);
        for service in ["checkout", "search"] {
            for class in ErrorClass::FAILURES {
                let class = class.as_str();
                for family in ["claudewatch_client_retries_total", "claudewatch_client_exhausted_total"] {
                    let line = format!("{family}{{service=\"{service}\",class=\"{class}\"}} 0\n");
                    assert!(text.contains(&line), "{line}{text}");
                }
            }
            for outcome in CallOutcome::ALL {
                let line = format!(
                    "claudewatch_client_calls_total{{service=\"{service}\",outcome=\"{}\"}} 0\n",
                    outcome.as_str()
                );
                assert!(text.contains(&line), "{line}{text}");
            }
            assert!(text.contains(&format!("claudewatch_client_attempts_count{{service=\"{service}\"}} 0\n")));
        }
        assert!(!text.contains("service=\"other\""), "{text}");

        // One slot is left: the first unlisted service takes it, the next one is `other`.
        let events: Vec<_> = ["new", "newer", "checkout"]
            .iter()
            .map(|s| event(s, Outcome::Exhausted, Some(ErrorClass::Timeout)))
            .collect();
        metrics.record(&events);
        let text = render(&registry, Format::Classic);
        for service in ["new", "other", "checkout"] {
            let line = format!("claudewatch_client_exhausted_total{{service=\"{service}\",class=\"timeout\"}} 1\n");
            assert!(text.contains(&line), "{line}{text}");
        }
        assert!(!text.contains("service=\"newer\""), "{text}");
        assert!(text.contains("claudewatch_ingest_overflow_total{label=\"service\"} 1\n"), "{text}");
    }

    /// At the cap, an unknown value goes to `other` from under the read lock: it must not
    /// queue for the write lock (here held off by a reader that does not let go).
    #[test]
    fn at_the_cap_a_new_value_does_not_wait_for_the_write_lock() {
        let bounded = Bounded::<&'static str>::new(2);
        for name in ["a", "b"] {
            assert!(!bounded.get(name, |_| "series").1);
        }
        let reader = bounded.values.read().unwrap();
        let (sent, received) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let got = bounded.get("c", |n| if n == OVERFLOW_VALUE { "other" } else { "own" });
                sent.send(got).unwrap();
            });
            // Generous: the fixed code answers in microseconds; the old one waits forever.
            let got = received.recv_timeout(std::time::Duration::from_secs(10));
            drop(reader);
            let (series, overflowed) = got.expect("get blocked on the write lock at the cap");
            assert_eq!((*series, overflowed), ("other", true));
        });
        // A known value still finds its own series, and the map did not grow.
        assert_eq!(*bounded.get("a", |_| "new").0, "series");
        assert_eq!(bounded.values.read().unwrap().len(), 2);
    }

    /// Many threads racing for the last slots: exactly `cap` values get their own series,
    /// every call gets an answer, and each value always gets the same one.
    #[test]
    fn racing_for_the_last_slots_admits_exactly_the_cap() {
        let bounded = Bounded::<String>::new(5);
        let answers: Vec<Vec<(String, bool)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let bounded = &bounded;
                    scope.spawn(move || {
                        (0..200)
                            .map(|i| {
                                let name = format!("v{}", (i * 7 + t * 13) % 20);
                                let (series, overflowed) = bounded.get(&name, str::to_owned);
                                assert_eq!(overflowed, series.as_str() == OVERFLOW_VALUE);
                                if !overflowed {
                                    assert_eq!(*series, name);
                                }
                                (name, overflowed)
                            })
                            .collect()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let own = bounded.values.read().unwrap().len();
        assert_eq!(own, 5);
        let admitted: std::collections::HashSet<&str> =
            answers.iter().flatten().filter(|(_, o)| !o).map(|(n, _)| n.as_str()).collect();
        assert_eq!(admitted.len(), 5, "{admitted:?}");
        for (name, overflowed) in answers.iter().flatten() {
            assert_eq!(*overflowed, !admitted.contains(name.as_str()), "{name} changed sides");
        }
    }

    #[test]
    fn attempts_histogram_takes_counts_and_keeps_count_equal_to_inf() {
        let h = AttemptsHistogram::default();
        h.observe(1, 3);
        h.observe(4, 2);
        h.observe(50, 1);
        let mut registry = Registry::default();
        registry.register("demo_attempts", "Attempts", h);
        let text = render(&registry, Format::Classic);
        assert!(text.contains("demo_attempts_sum 61.0\n"), "{text}");
        assert!(text.contains("demo_attempts_count 6\n"), "{text}");
        assert!(text.contains("demo_attempts_bucket{le=\"1.0\"} 3\n"), "{text}");
        assert!(text.contains("demo_attempts_bucket{le=\"3.0\"} 3\n"), "{text}");
        assert!(text.contains("demo_attempts_bucket{le=\"4.0\"} 5\n"), "{text}");
        assert!(text.contains("demo_attempts_bucket{le=\"10.0\"} 5\n"), "{text}");
        assert!(text.contains("demo_attempts_bucket{le=\"+Inf\"} 6\n"), "{text}");
    }
}

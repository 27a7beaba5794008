//! The probe layer's metric families and the one method that moves them for a result.
//!
//! Probes and control targets have families of their own (`claudewatch_probe_*{probe}` and
//! `claudewatch_control_*{control}`), so a dashboard's sum over probe classes never mixes in the
//! control target, and the label name says which kind a series is. Label values are config
//! names, classes and reasons: all bounded by the config.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::headers::Resource;
use super::outcome::ProbeResult;
use crate::classify::{ConnectionReason, ErrorClass};

/// Total probe durations: a healthy reply takes 0.3–3 s, the default timeout is 30 s, and
/// anything up to a minute must land in a bucket of its own.
const DURATION_BUCKETS: [f64; 14] = [0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0, 20.0, 30.0, 60.0];

/// Time to response headers and to first token start earlier.
const EARLY_BUCKETS: [f64; 15] = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0];

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

fn early_histogram() -> Histogram {
    Histogram::new(EARLY_BUCKETS)
}

/// `{probe="…"}` or `{control="…"}`.
type TargetLabel = [(&'static str, Arc<str>); 1];
/// The target plus one more label.
type TargetAnd<V> = (TargetLabel, [(&'static str, V); 1]);
type HistogramFamily = Family<TargetLabel, Histogram, fn() -> Histogram>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// Which family set a target belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TargetKind {
    Probe,
    Control,
}

impl TargetKind {
    /// The label name and the metric name part.
    pub(super) const fn as_str(self) -> &'static str {
        match self {
            TargetKind::Probe => "probe",
            TargetKind::Control => "control",
        }
    }
}

/// The families every target kind has.
#[derive(Clone)]
struct Common {
    kind: TargetKind,
    requests: Family<TargetAnd<ErrorClass>, Counter>,
    success: Family<TargetLabel, Gauge>,
    duration: HistogramFamily,
    last_success: Family<TargetLabel, FloatGauge>,
    connection_errors: Family<TargetAnd<ConnectionReason>, Counter>,
}

impl Common {
    fn register(kind: TargetKind, registry: &mut Registry) -> Common {
        let common = Common {
            kind,
            requests: Family::default(),
            success: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            last_success: Family::default(),
            connection_errors: Family::default(),
        };
        let k = kind.as_str();
        let what = match kind {
            TargetKind::Probe => "probe requests to the Messages API",
            TargetKind::Control => "control target requests",
        };
        registry.register(
            format!("claudewatch_{k}_requests"),
            format!("Finished {what}, by outcome class of the retry playbook"),
            common.requests.clone(),
        );
        registry.register(
            format!("claudewatch_{k}_success"),
            format!("Whether the last of the {what} succeeded (1) or not (0); absent until the first result"),
            common.success.clone(),
        );
        registry.register_with_unit(
            format!("claudewatch_{k}_duration"),
            format!("Time of {what}, from sending the request to the end of the response body"),
            Unit::Seconds,
            common.duration.clone(),
        );
        registry.register_with_unit(
            format!("claudewatch_{k}_last_success_timestamp"),
            format!("Unix time of the last successful of the {what}; absent until the first success"),
            Unit::Seconds,
            common.last_success.clone(),
        );
        registry.register(
            format!("claudewatch_{k}_connection_errors"),
            format!("Connection failures of {what}, by reason found in the error's source chain"),
            common.connection_errors.clone(),
        );
        common
    }

    fn target(&self, name: &str) -> TargetLabel {
        [(self.kind.as_str(), Arc::from(name))]
    }

    fn precreate(&self, target: &TargetLabel) {
        for class in ErrorClass::ALL {
            let _ = self.requests.get_or_create(&(target.clone(), [("class", class)]));
        }
        for reason in ConnectionReason::ALL {
            let _ = self.connection_errors.get_or_create(&(target.clone(), [("reason", reason)]));
        }
        let _ = self.duration.get_or_create(target);
    }

    fn record(&self, target: &TargetLabel, result: &ProbeResult) {
        self.requests.get_or_create(&(target.clone(), [("class", result.class)])).inc();
        let ok = result.class == ErrorClass::Ok;
        self.success.get_or_create(target).set(i64::from(ok));
        self.duration.get_or_create(target).observe(result.duration_seconds);
        if ok {
            self.last_success.get_or_create(target).set(result.timestamp);
        }
        if let Some(reason) = result.reason {
            self.connection_errors.get_or_create(&(target.clone(), [("reason", reason)])).inc();
        }
    }
}

/// The probe families.
#[derive(Clone)]
pub(super) struct ProbeMetrics {
    common: Common,
    configured: Family<TargetLabel, Gauge>,
    first_byte: HistogramFamily,
    ttft: HistogramFamily,
    tokens: Family<TargetAnd<&'static str>, Counter>,
    ratelimit_limit: Family<TargetAnd<Resource>, Gauge>,
    ratelimit_remaining: Family<TargetAnd<Resource>, Gauge>,
    ratelimit_reset: Family<TargetAnd<Resource>, FloatGauge>,
    retry_after: Family<TargetLabel, FloatGauge>,
}

impl ProbeMetrics {
    pub(super) fn register(registry: &mut Registry) -> ProbeMetrics {
        let metrics = ProbeMetrics {
            common: Common::register(TargetKind::Probe, registry),
            configured: Family::default(),
            first_byte: Family::new_with_constructor(early_histogram),
            ttft: Family::new_with_constructor(early_histogram),
            tokens: Family::default(),
            ratelimit_limit: Family::default(),
            ratelimit_remaining: Family::default(),
            ratelimit_reset: Family::default(),
            retry_after: Family::default(),
        };
        registry.register(
            "claudewatch_probe_configured",
            "Whether the probe can run (1) or is not configured because its API key variable is unset (0)",
            metrics.configured.clone(),
        );
        registry.register_with_unit(
            "claudewatch_probe_first_byte",
            "Time from sending a probe request to receiving the response status and headers",
            Unit::Seconds,
            metrics.first_byte.clone(),
        );
        registry.register_with_unit(
            "claudewatch_probe_ttft",
            "Time from sending a streaming probe request to its first content_block_delta event",
            Unit::Seconds,
            metrics.ttft.clone(),
        );
        registry.register(
            "claudewatch_probe_tokens",
            "Tokens the probes consumed according to the usage the API reported, by direction",
            metrics.tokens.clone(),
        );
        registry.register(
            "claudewatch_ratelimit_limit",
            "The anthropic-ratelimit-*-limit header of the last probe response that carried it",
            metrics.ratelimit_limit.clone(),
        );
        registry.register(
            "claudewatch_ratelimit_remaining",
            "The anthropic-ratelimit-*-remaining header of the last probe response that carried it",
            metrics.ratelimit_remaining.clone(),
        );
        registry.register_with_unit(
            "claudewatch_ratelimit_reset_timestamp",
            "Unix time from the anthropic-ratelimit-*-reset header of the last probe response that carried it",
            Unit::Seconds,
            metrics.ratelimit_reset.clone(),
        );
        registry.register_with_unit(
            "claudewatch_probe_retry_after",
            "The last retry-after (or retry-after-ms) a probe response carried",
            Unit::Seconds,
            metrics.retry_after.clone(),
        );
        metrics
    }

    /// Creates every bounded series of one probe at zero, so rates and alerts work before the
    /// first result. Gauges whose zero would be a lie (success, headroom) wait for data.
    pub(super) fn precreate(&self, name: &str, configured: bool, streaming: bool) {
        let target = self.common.target(name);
        self.configured.get_or_create(&target).set(i64::from(configured));
        self.common.precreate(&target);
        let _ = self.first_byte.get_or_create(&target);
        if streaming {
            let _ = self.ttft.get_or_create(&target);
        }
        for direction in ["input", "output"] {
            let _ = self.tokens.get_or_create(&(target.clone(), [("direction", direction)]));
        }
    }

    fn record(&self, result: &ProbeResult) {
        let target = self.common.target(&result.name);
        self.common.record(&target, result);
        if let Some(t) = result.first_byte_seconds {
            self.first_byte.get_or_create(&target).observe(t);
        }
        if let Some(t) = result.ttft_seconds {
            self.ttft.get_or_create(&target).observe(t);
        }
        if let Some(n) = result.input_tokens {
            self.tokens.get_or_create(&(target.clone(), [("direction", "input")])).inc_by(n);
        }
        if let Some(n) = result.output_tokens {
            self.tokens.get_or_create(&(target.clone(), [("direction", "output")])).inc_by(n);
        }
        for limit in &result.rate_limits {
            let labels = (target.clone(), [("resource", limit.resource)]);
            if let Some(v) = limit.limit {
                self.ratelimit_limit.get_or_create(&labels).set(v);
            }
            if let Some(v) = limit.remaining {
                self.ratelimit_remaining.get_or_create(&labels).set(v);
            }
            if let Some(v) = limit.reset_timestamp {
                self.ratelimit_reset.get_or_create(&labels).set(v);
            }
        }
        if let Some(secs) = result.retry_after_seconds {
            self.retry_after.get_or_create(&target).set(secs);
        }
    }
}

/// The families of one target, whichever kind it is: what a runner records its results in.
#[derive(Clone)]
pub(super) enum TargetMetrics {
    Probe(ProbeMetrics),
    Control(ControlMetrics),
}

impl TargetMetrics {
    pub(super) fn kind(&self) -> TargetKind {
        match self {
            TargetMetrics::Probe(_) => TargetKind::Probe,
            TargetMetrics::Control(_) => TargetKind::Control,
        }
    }

    pub(super) fn record(&self, result: &ProbeResult) {
        match self {
            TargetMetrics::Probe(m) => m.record(result),
            TargetMetrics::Control(m) => m.record(result),
        }
    }
}

/// The control target families.
#[derive(Clone)]
pub(super) struct ControlMetrics {
    common: Common,
}

impl ControlMetrics {
    pub(super) fn register(registry: &mut Registry) -> ControlMetrics {
        ControlMetrics { common: Common::register(TargetKind::Control, registry) }
    }

    pub(super) fn precreate(&self, name: &str) {
        self.common.precreate(&self.common.target(name));
    }

    fn record(&self, result: &ProbeResult) {
        self.common.record(&self.common.target(&result.name), result);
    }
}

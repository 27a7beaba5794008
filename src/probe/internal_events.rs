//! The probe layer's occurrences, each logging and counting together (see
//! [`crate::telemetry::event`]). The target's name is not in them: every line is written inside
//! its target's `probe{probe}` or `control{control}` span.

use super::metrics::TargetMetrics;
use super::outcome::ProbeResult;
use crate::classify::ConnectionReason;
use crate::telemetry::event::InternalEvent;

/// A probe or control request finished (scheduled or on demand): its result is counted in the
/// target's families and logged, at info for a success and at warn with the error for a
/// failure. Absent fields are left out of the line rather than logged as 0 or "".
pub(super) struct ResultRecorded<'a> {
    pub(super) result: &'a ProbeResult,
}

impl InternalEvent for ResultRecorded<'_> {
    type Sink = TargetMetrics;

    fn emit(self, metrics: &TargetMetrics) {
        metrics.record(self.result);
        let r = self.result;
        let kind = metrics.kind().as_str();
        let duration_ms = (r.duration_seconds * 1000.0 * 1000.0).round() / 1000.0;
        let (status, request_id) = (r.status, r.request_id.as_deref());
        let (class, trigger) = (r.class.as_str(), r.trigger.as_str());
        if r.success() {
            tracing::info!(kind, class, status, duration_ms, request_id, trigger, "probe result");
        } else {
            let reason = r.reason.map(ConnectionReason::as_str);
            let error = r.error.as_deref();
            tracing::warn!(kind, class, reason, status, duration_ms, request_id, trigger, error, "probe result");
        }
    }
}

/// A probe whose key variable is unset or unusable: it is registered but never sends a request.
pub(super) struct ProbeNotConfigured<'a> {
    pub(super) probe: &'a str,
    pub(super) reason: &'a str,
}

impl InternalEvent for ProbeNotConfigured<'_> {
    type Sink = ();

    fn emit(self, (): &()) {
        tracing::warn!(probe = self.probe, reason = self.reason, "probe not configured; it will not run");
    }
}

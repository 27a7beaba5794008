//! The ingest layer's occurrences, each logging and counting together (see
//! [`crate::telemetry::event`]).

use std::time::{Duration, Instant};

use super::event::Event;
use super::metrics::{IngestMetrics, RejectReason};
use crate::telemetry::event::InternalEvent;
use crate::telemetry::throttle::LogThrottle;

/// At most one rejection line per reason in this period; the next line says how many were held
/// back.
const REJECTION_LOG_EVERY: Duration = Duration::from_secs(10);

/// What the layer's events write to: its families, and the throttle of the rejection lines.
pub(super) struct Telemetry {
    pub(super) metrics: IngestMetrics,
    rejections: LogThrottle,
}

impl Telemetry {
    pub(super) fn new(metrics: IngestMetrics) -> Telemetry {
        Telemetry { metrics, rejections: LogThrottle::new(REJECTION_LOG_EVERY, RejectReason::ALL.len()) }
    }
}

/// The events of one valid body are counted. Not logged: this is the endpoint's normal work,
/// at tens of thousands of requests a second.
pub(super) struct EventsAccepted<'a, 'b> {
    pub(super) events: &'a [Event<'b>],
}

impl InternalEvent for EventsAccepted<'_, '_> {
    type Sink = Telemetry;

    fn emit(self, telemetry: &Telemetry) {
        telemetry.metrics.record(self.events);
    }
}

/// A request counted nothing: counted by reason (with the events it held), and logged with
/// what the client was told, at most once per reason every [`REJECTION_LOG_EVERY`] (the line
/// says how many were `suppressed` since the last). A duplicate resend is normal client
/// behaviour and logs at info; every other reason at warn.
pub(super) struct RequestRejected<'a> {
    pub(super) reason: RejectReason,
    /// Events in the body, as far as it could be read (0 when unknown).
    pub(super) events: usize,
    /// What the client was told.
    pub(super) message: &'a str,
    /// What went wrong underneath, when that is not the client's message (a broken connection).
    pub(super) cause: Option<&'a str>,
}

impl InternalEvent for RequestRejected<'_> {
    type Sink = Telemetry;

    fn emit(self, telemetry: &Telemetry) {
        telemetry.metrics.reject(self.reason, self.events);
        let Some(suppressed) = telemetry.rejections.allow(self.reason as usize, Instant::now()) else { return };
        let (reason, events, error, cause) = (self.reason.as_str(), self.events, self.message, self.cause);
        if self.reason == RejectReason::Duplicate {
            tracing::info!(reason, events, error, suppressed, "ingest request rejected");
        } else {
            tracing::warn!(reason, events, error, cause, suppressed, "ingest request rejected");
        }
    }
}

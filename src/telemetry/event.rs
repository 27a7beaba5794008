//! The rule every layer's telemetry follows (Vector's, `docs/specs/instrumentation.md`): each
//! occurrence the daemon reports is one type in its layer's `internal_events.rs`, and its
//! [`InternalEvent::emit`] writes the log line and moves the counters together, so logs and
//! metrics never disagree and a call site is one line. Nothing else in a layer logs an
//! occurrence or moves an occurrence counter (gauges that mirror state are set where the state
//! lives).

/// One occurrence: `emit` logs it and counts it.
pub(crate) trait InternalEvent {
    /// Where the event's counters live (and any state its log line needs, such as a throttle).
    type Sink: ?Sized;

    fn emit(self, sink: &Self::Sink);
}

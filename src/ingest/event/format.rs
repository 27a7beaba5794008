//! The event format itself: what a valid event is ([`Event`]), what the body holds
//! ([`Events`]), and how a refusal reads ([`Invalid`]).

use std::borrow::Cow;
use std::fmt;

use crate::classify::ErrorClass;
use crate::telemetry::labels::label_enum;

/// Longest service or model name, in characters.
pub(super) const MAX_NAME_LEN: usize = 64;
/// Highest `attempts` a finished call may report.
pub(super) const MAX_ATTEMPTS: u64 = 100;
/// Highest pre-aggregated `count` of one event.
pub(super) const MAX_COUNT: u64 = 1_000_000;
/// The label value that overflowing services and models are counted under; apps cannot use it.
pub(crate) const OVERFLOW_VALUE: &str = "other";

/// The fields an event may have, in the order the error messages list them.
pub(super) const FIELDS: &str = "service, outcome, class, status, attempts, model, count";

label_enum! {
    /// What happened to the call an event reports.
    pub enum Outcome {
        /// One attempt failed and will be retried.
        Retry => "retry",
        /// A retry chain gave up.
        Exhausted => "exhausted",
        /// A call finished well, perhaps after retries.
        Success => "success",
        /// A non-retryable error reached the caller.
        Failure => "failure",
    }
}

impl Outcome {
    /// Whether the event reports a finished call (everything but `retry`).
    pub const fn is_finished_call(self) -> bool {
        !matches!(self, Outcome::Retry)
    }
}

/// One valid event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    pub service: Cow<'a, str>,
    pub outcome: Outcome,
    /// Always set for `retry`, `exhausted` and `failure` (and then never `ok`); optional for
    /// `success`.
    pub class: Option<ErrorClass>,
    pub status: Option<u16>,
    pub attempts: Option<u8>,
    pub model: Option<Cow<'a, str>>,
    /// Pre-aggregated occurrences (1 unless the client aggregated).
    pub count: u32,
}

/// Why a request body was refused. `Display` gives the whole message, prefixed by where the
/// problem is (`events[3].class: …`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// The event's index in `events`; `None` for a single-event body or a body-level problem.
    pub index: Option<usize>,
    /// The field at fault; `None` when the problem is the body or the event as a whole.
    pub field: Option<String>,
    /// What is wrong, without the location prefix.
    pub problem: String,
}

impl Invalid {
    pub(super) fn body(problem: impl Into<String>) -> Invalid {
        Invalid { index: None, field: None, problem: problem.into() }
    }

    pub(super) fn field(index: Option<usize>, field: &str, problem: impl Into<String>) -> Invalid {
        Invalid { index, field: Some(field.to_owned()), problem: problem.into() }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.index, &self.field) {
            (Some(i), Some(field)) => write!(f, "events[{i}].{field}: {}", self.problem),
            (Some(i), None) => write!(f, "events[{i}]: {}", self.problem),
            (None, Some(field)) => write!(f, "{field}: {}", self.problem),
            (None, None) => write!(f, "{}", self.problem),
        }
    }
}

impl std::error::Error for Invalid {}

/// The events of one valid body.
#[derive(Debug)]
pub enum Events<'a> {
    Single(Event<'a>),
    Batch(Vec<Event<'a>>),
}

impl<'a> Events<'a> {
    pub fn as_slice(&self) -> &[Event<'a>] {
        match self {
            Events::Single(e) => std::slice::from_ref(e),
            Events::Batch(v) => v,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }
}

/// A refused body, with how many events it held (as far as the JSON could be read), so that
/// the rejected events can be counted.
#[derive(Debug)]
pub struct Rejected {
    pub error: Invalid,
    /// Events in the body: 1 for a single event, the length of `events` for a batch, 0 when
    /// the body is not JSON or not an object.
    pub events: usize,
}

//! The event format of `POST /v1/events` and its validation, without sockets.
//!
//! The body is one event object, or `{"events": [ … ]}`. The body is parsed once, straight
//! from the request bytes: field values borrow from the body where JSON needs no unescaping,
//! each batch element is validated as soon as it is read, and a hand-written visitor (rather
//! than a derived struct) lets every error name the event's index and the field, and say what
//! is wrong in words a developer can act on.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::classify::ErrorClass;
use crate::telemetry::labels::label_enum;
use crate::text::truncate;

/// Longest service or model name, in characters.
pub const MAX_NAME_LEN: usize = 64;
/// Highest `attempts` a finished call may report.
pub const MAX_ATTEMPTS: u64 = 100;
/// Highest pre-aggregated `count` of one event.
pub const MAX_COUNT: u64 = 1_000_000;
/// The label value that overflowing services and models are counted under; apps cannot use it.
pub const OVERFLOW_VALUE: &str = "other";

/// The fields an event may have, in the order the error messages list them.
const FIELDS: &str = "service, outcome, class, status, attempts, model, count";

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
    fn body(problem: impl Into<String>) -> Invalid {
        Invalid { index: None, field: None, problem: problem.into() }
    }

    fn field(index: Option<usize>, field: &str, problem: impl Into<String>) -> Invalid {
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

    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
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

/// Parses and validates a whole body. A batch is all-or-nothing: the first invalid event
/// refuses it.
pub fn parse(body: &[u8], max_batch: usize) -> Result<Events<'_>, Rejected> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = BodySeed { max_batch }.deserialize(&mut de).and_then(|parsed| de.end().map(|()| parsed));
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) => {
            let what = if e.is_syntax() || e.is_eof() { "body is not valid JSON" } else { "body is not an event" };
            return Err(Rejected { error: Invalid::body(format!("{what}: {e}")), events: 0 });
        }
    };
    match parsed {
        Parsed::Single(raw) => match raw.validate(None) {
            Ok(event) => Ok(Events::Single(event)),
            Err(error) => Err(Rejected { error, events: 1 }),
        },
        Parsed::Batch(batch) => match batch.error {
            None => Ok(Events::Batch(batch.events)),
            Some(error) => Err(Rejected { error, events: batch.total }),
        },
        Parsed::Mixed(field) => Err(Rejected {
            error: Invalid::body(format!(
                "a batch body holds only \"events\"; found the event field {field:?} beside it \
                 (send one event object, or {{\"events\": [ ... ]}})"
            )),
            events: 0,
        }),
    }
}

/// A JSON value as far as validation needs to know it. Strings borrow from the body.
#[derive(Debug)]
enum Value<'de> {
    Str(Cow<'de, str>),
    UInt(u64),
    Int(i64),
    Float,
    Bool,
    Null,
    Array,
    Object,
}

impl Value<'_> {
    /// The JSON type, for "must be a string, got an array".
    fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::UInt(_) | Value::Int(_) => "an integer",
            Value::Float => "a fractional number",
            Value::Bool => "a boolean",
            Value::Null => "null",
            Value::Array => "an array",
            Value::Object => "an object",
        }
    }
}

impl<'de> de::Deserialize<'de> for Value<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Value<'de>, E> {
        Ok(Value::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value<'de>, E> {
        Ok(Value::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Value<'de>, E> {
        Ok(Value::Str(Cow::Owned(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value<'de>, E> {
        Ok(Value::UInt(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value<'de>, E> {
        Ok(if v >= 0 { Value::UInt(v as u64) } else { Value::Int(v) })
    }

    fn visit_f64<E>(self, _: f64) -> Result<Value<'de>, E> {
        Ok(Value::Float)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Value<'de>, E> {
        Ok(Value::Bool)
    }

    fn visit_unit<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Array)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Value::Object)
    }
}

/// A key of an event object (or of the batch wrapper).
enum Key {
    Service,
    Outcome,
    Class,
    Status,
    Attempts,
    Model,
    Count,
    Events,
    Unknown(String),
}

impl Key {
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Key::Service => "service",
            Key::Outcome => "outcome",
            Key::Class => "class",
            Key::Status => "status",
            Key::Attempts => "attempts",
            Key::Model => "model",
            Key::Count => "count",
            Key::Events => "events",
            Key::Unknown(name) => return Cow::Owned(name.clone()),
        })
    }
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E>(self, v: &str) -> Result<Key, E> {
        Ok(match v {
            "service" => Key::Service,
            "outcome" => Key::Outcome,
            "class" => Key::Class,
            "status" => Key::Status,
            "attempts" => Key::Attempts,
            "model" => Key::Model,
            "count" => Key::Count,
            "events" => Key::Events,
            other => Key::Unknown(truncate(other, 64).into_owned()),
        })
    }
}

/// The fields of one event object as sent, before validation.
#[derive(Default, Debug)]
struct RawEvent<'de> {
    service: Option<Value<'de>>,
    outcome: Option<Value<'de>>,
    class: Option<Value<'de>>,
    status: Option<Value<'de>>,
    attempts: Option<Value<'de>>,
    model: Option<Value<'de>>,
    count: Option<Value<'de>>,
    /// The first structural problem seen while reading the object (an unknown or repeated
    /// field), reported before the values are checked.
    problem: Option<(String, &'static str)>,
}

impl<'de> RawEvent<'de> {
    /// Stores the value of `key`, or notes why it cannot be stored.
    fn set(&mut self, key: Key, value: Value<'de>) {
        let slot = match key {
            Key::Service => &mut self.service,
            Key::Outcome => &mut self.outcome,
            Key::Class => &mut self.class,
            Key::Status => &mut self.status,
            Key::Attempts => &mut self.attempts,
            Key::Model => &mut self.model,
            Key::Count => &mut self.count,
            Key::Events => {
                self.problem.get_or_insert(("events".into(), "a batch cannot be nested inside an event"));
                return;
            }
            Key::Unknown(name) => {
                self.problem.get_or_insert((name, "unknown field"));
                return;
            }
        };
        if slot.is_some() {
            self.problem.get_or_insert((key.name().into_owned(), "appears more than once"));
        } else {
            *slot = Some(value);
        }
    }

    /// Reads the fields of one event object.
    fn read_map<A: MapAccess<'de>>(mut map: A) -> Result<RawEvent<'de>, A::Error> {
        let mut raw = RawEvent::default();
        while let Some(key) = map.next_key::<Key>()? {
            let value = map.next_value::<Value<'de>>()?;
            raw.set(key, value);
        }
        Ok(raw)
    }

    /// Checks every field; the event at `index` (`None` for a single-event body).
    fn validate(self, index: Option<usize>) -> Result<Event<'de>, Invalid> {
        let err = |field: &str, problem: String| Invalid::field(index, field, problem);
        if let Some((field, problem)) = self.problem {
            let problem = if problem == "unknown field" {
                format!("unknown field; an event has only {FIELDS}")
            } else {
                problem.to_owned()
            };
            return Err(err(&field, problem));
        }

        let service = required_name(self.service, "service").map_err(|p| err("service", p))?;

        let outcome = match present(self.outcome) {
            None => return Err(err("outcome", "is required: one of retry, exhausted, success, failure".into())),
            Some(Value::Str(s)) => Outcome::from_value(&s).ok_or_else(|| {
                err("outcome", format!("must be one of retry, exhausted, success, failure; got {:?}", truncate(&s, 64)))
            })?,
            Some(other) => return Err(err("outcome", format!("must be a string, got {}", other.kind()))),
        };

        let class = match present(self.class) {
            None if outcome == Outcome::Success => None,
            None => {
                return Err(err(
                    "class",
                    format!("is required when outcome is {:?}: one of {}", outcome.as_str(), failure_classes()),
                ));
            }
            Some(Value::Str(s)) => match s.parse::<ErrorClass>() {
                Ok(ErrorClass::Ok) if outcome != Outcome::Success => {
                    return Err(err(
                        "class",
                        format!(
                            "\"ok\" is not a failure class; outcome {:?} needs one of {}",
                            outcome.as_str(),
                            failure_classes()
                        ),
                    ));
                }
                Ok(class) => Some(class),
                Err(_) => {
                    return Err(err(
                        "class",
                        format!("unknown error class {:?}; expected one of {}", truncate(&s, 64), failure_classes()),
                    ));
                }
            },
            Some(other) => return Err(err("class", format!("must be a string, got {}", other.kind()))),
        };

        let status = optional_int(self.status, 100, 599, "an HTTP status code").map_err(|p| err("status", p))?;
        let attempts = optional_int(self.attempts, 1, MAX_ATTEMPTS, "the number of attempts the call took")
            .map_err(|p| err("attempts", p))?;
        let count = optional_int(self.count, 1, MAX_COUNT, "a count of occurrences").map_err(|p| err("count", p))?;
        let model = match present(self.model) {
            None => None,
            value => Some(required_name(value, "model").map_err(|p| err("model", p))?),
        };

        Ok(Event {
            service,
            outcome,
            class,
            // The ranges above fit these types.
            status: status.map(|s| s as u16),
            attempts: attempts.map(|a| a as u8),
            model,
            count: count.unwrap_or(1) as u32,
        })
    }
}

/// `null` counts as absent, as JSON encoders write missing optionals.
fn present(value: Option<Value<'_>>) -> Option<Value<'_>> {
    value.filter(|v| !matches!(v, Value::Null))
}

/// A service or model name: 1–64 characters of `A-Za-z0-9_.:-`, and not the overflow value.
fn required_name<'de>(value: Option<Value<'de>>, field: &str) -> Result<Cow<'de, str>, String> {
    let s = match present(value) {
        None => return Err(format!("is required: 1–{MAX_NAME_LEN} characters of A-Za-z0-9_.:-")),
        Some(Value::Str(s)) => s,
        Some(other) => return Err(format!("must be a string, got {}", other.kind())),
    };
    check_name(&s, field)?;
    Ok(s)
}

/// The rule for a service or model name, shared by events and the config's `services` list:
/// 1–64 characters of `A-Za-z0-9_.:-`, and not the overflow value. `field` names what it is
/// ("service", "model") in the message.
pub fn check_name(s: &str, field: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > MAX_NAME_LEN || !s.bytes().all(is_name_byte) {
        return Err(format!("must be 1–{MAX_NAME_LEN} characters of A-Za-z0-9_.:-; got {:?}", truncate(s, 80)));
    }
    if s == OVERFLOW_VALUE {
        return Err(format!(
            "{OVERFLOW_VALUE:?} is reserved: it is where {field}s beyond the configured maximum are counted"
        ));
    }
    Ok(())
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-')
}

fn optional_int(value: Option<Value<'_>>, min: u64, max: u64, what: &str) -> Result<Option<u64>, String> {
    match present(value) {
        None => Ok(None),
        Some(Value::UInt(n)) if (min..=max).contains(&n) => Ok(Some(n)),
        Some(Value::UInt(n)) => Err(format!("must be {what} from {min} to {max}; got {n}")),
        Some(Value::Int(n)) => Err(format!("must be {what} from {min} to {max}; got {n}")),
        Some(other) => Err(format!("must be an integer from {min} to {max}, got {}", other.kind())),
    }
}

fn failure_classes() -> String {
    let names: Vec<&str> = ErrorClass::FAILURES.iter().map(|c| c.as_str()).collect();
    names.join(", ")
}

/// The visitor methods for JSON scalars, each handing the value's JSON type, in words, to
/// `$wrap` (for "must be an event object, got a string").
macro_rules! visit_scalars {
    ($value:ty, $wrap:expr) => {
        fn visit_str<E>(self, _: &str) -> Result<$value, E> {
            Ok($wrap("a string"))
        }

        fn visit_u64<E>(self, _: u64) -> Result<$value, E> {
            Ok($wrap("an integer"))
        }

        fn visit_i64<E>(self, _: i64) -> Result<$value, E> {
            Ok($wrap("an integer"))
        }

        fn visit_f64<E>(self, _: f64) -> Result<$value, E> {
            Ok($wrap("a fractional number"))
        }

        fn visit_bool<E>(self, _: bool) -> Result<$value, E> {
            Ok($wrap("a boolean"))
        }

        fn visit_unit<E>(self) -> Result<$value, E> {
            Ok($wrap("null"))
        }
    };
}

/// What the top-level object turned out to be.
enum Parsed<'de> {
    Single(RawEvent<'de>),
    Batch(Batch<'de>),
    /// `events` next to event fields: the first such field.
    Mixed(String),
}

struct BodySeed {
    max_batch: usize,
}

impl<'de> DeserializeSeed<'de> for BodySeed {
    type Value = Parsed<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Parsed<'de>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BodySeed {
    type Value = Parsed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("one event object, or {\"events\": [ ... ]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed<'de>, A::Error> {
        let mut single = RawEvent::default();
        // The first event field seen, for the error when a batch wrapper mixes some in.
        let mut first_field: Option<Cow<'static, str>> = None;
        let mut batch: Option<Batch<'de>> = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Events if batch.is_some() => {
                    map.next_value::<IgnoredAny>()?;
                    single.problem.get_or_insert(("events".into(), "appears more than once"));
                }
                Key::Events => batch = Some(map.next_value_seed(BatchSeed { max_batch: self.max_batch })?),
                key => {
                    if first_field.is_none() {
                        first_field = Some(key.name());
                    }
                    let value = map.next_value::<Value<'de>>()?;
                    single.set(key, value);
                }
            }
        }
        Ok(match batch {
            None => Parsed::Single(single),
            Some(_) if first_field.is_some() => Parsed::Mixed(first_field.unwrap_or_default().into_owned()),
            Some(mut batch) => {
                if let Some((field, problem)) = single.problem
                    && batch.error.is_none()
                {
                    batch.error = Some(Invalid::field(None, &field, problem));
                }
                Parsed::Batch(batch)
            }
        })
    }
}

/// The validated events of `events`, or the first error and the number of elements.
struct Batch<'de> {
    events: Vec<Event<'de>>,
    error: Option<Invalid>,
    total: usize,
}

struct BatchSeed {
    max_batch: usize,
}

impl<'de> DeserializeSeed<'de> for BatchSeed {
    type Value = Batch<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Batch<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BatchSeed {
    type Value = Batch<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of event objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Batch<'de>, A::Error> {
        let capacity = seq.size_hint().unwrap_or(16).min(self.max_batch);
        let mut batch = Batch { events: Vec::with_capacity(capacity), error: None, total: 0 };
        // Once an element is invalid or the batch is too long, the rest is only counted (so
        // the rejected events can be), never stored: memory stays bounded by `max_batch`.
        loop {
            let index = batch.total;
            if batch.error.is_some() {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    break;
                }
            } else if index == self.max_batch {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    break;
                }
                batch.error = Some(Invalid::field(
                    None,
                    "events",
                    format!("holds more than {} events (the configured max_batch); split the batch", self.max_batch),
                ));
                batch.events = Vec::new();
            } else {
                match seq.next_element::<Element<'de>>()? {
                    None => break,
                    Some(Element::Object(raw)) => match raw.validate(Some(index)) {
                        Ok(event) => batch.events.push(event),
                        Err(e) => {
                            batch.error = Some(e);
                            batch.events = Vec::new();
                        }
                    },
                    Some(Element::Other(kind)) => {
                        batch.error = Some(Invalid {
                            index: Some(index),
                            field: None,
                            problem: format!("must be an event object, got {kind}"),
                        });
                        batch.events = Vec::new();
                    }
                }
            }
            batch.total += 1;
        }
        Ok(batch)
    }

    // Anything else than an array: say so in our own words, after skipping the value.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Batch<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Batch::not_an_array("an object"))
    }

    visit_scalars!(Batch<'de>, Batch::not_an_array);
}

impl Batch<'_> {
    fn not_an_array(kind: &'static str) -> Self {
        Batch {
            events: Vec::new(),
            error: Some(Invalid::field(None, "events", format!("must be an array of event objects, got {kind}"))),
            total: 0,
        }
    }
}

/// One element of `events`: an object to validate, or the JSON type it was instead.
enum Element<'de> {
    Object(RawEvent<'de>),
    Other(&'static str),
}

impl<'de> de::Deserialize<'de> for Element<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ElementVisitor)
    }
}

struct ElementVisitor;

impl<'de> Visitor<'de> for ElementVisitor {
    type Value = Element<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Element<'de>, A::Error> {
        RawEvent::read_map(map).map(Element::Object)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Element<'de>, A::Error> {
        ValueVisitor.visit_seq(seq).map(|_| Element::Other("an array"))
    }

    visit_scalars!(Element<'de>, Element::Other);
}

#[cfg(test)]
mod tests;

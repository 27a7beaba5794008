//! Reading a body with serde, once, straight from the request bytes: one event object or
//! `{"events": [...]}`, each batch element validated as soon as it is read so that memory stays
//! bounded by `max_batch`, and every non-object said in our own words.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::format::{Event, Invalid};
use super::raw::{Key, RawEvent, Value, ValueVisitor};
use super::rules::validate;

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
pub(super) enum Parsed<'de> {
    Single(RawEvent<'de>),
    Batch(Batch<'de>),
    /// `events` next to event fields: the first such field.
    Mixed(String),
}

pub(super) struct BodySeed {
    pub(super) max_batch: usize,
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
pub(super) struct Batch<'de> {
    pub(super) events: Vec<Event<'de>>,
    pub(super) error: Option<Invalid>,
    pub(super) total: usize,
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
                    Some(Element::Object(raw)) => match validate(raw, Some(index)) {
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

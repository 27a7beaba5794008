//! An event object as sent, before any rule is applied: each field as a [`Value`] that only
//! knows its JSON type (strings borrow from the body), and the first structural problem (an
//! unknown or repeated key).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::text::truncate;

/// A JSON value as far as validation needs to know it. Strings borrow from the body.
#[derive(Debug)]
pub(super) enum Value<'de> {
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
    pub(super) fn kind(&self) -> &'static str {
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

pub(super) struct ValueVisitor;

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
pub(super) enum Key {
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
    pub(super) fn name(&self) -> Cow<'static, str> {
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
pub(super) struct RawEvent<'de> {
    pub(super) service: Option<Value<'de>>,
    pub(super) outcome: Option<Value<'de>>,
    pub(super) class: Option<Value<'de>>,
    pub(super) status: Option<Value<'de>>,
    pub(super) attempts: Option<Value<'de>>,
    pub(super) model: Option<Value<'de>>,
    pub(super) count: Option<Value<'de>>,
    /// The first structural problem seen while reading the object (an unknown or repeated
    /// field), reported before the values are checked.
    pub(super) problem: Option<(String, &'static str)>,
}

impl<'de> RawEvent<'de> {
    /// Stores the value of `key`, or notes why it cannot be stored.
    pub(super) fn set(&mut self, key: Key, value: Value<'de>) {
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
    pub(super) fn read_map<A: MapAccess<'de>>(mut map: A) -> Result<RawEvent<'de>, A::Error> {
        let mut raw = RawEvent::default();
        while let Some(key) = map.next_key::<Key>()? {
            let value = map.next_value::<Value<'de>>()?;
            raw.set(key, value);
        }
        Ok(raw)
    }
}

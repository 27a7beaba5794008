//! The rules of each field, applied to one raw event: what is required, the ranges, the name
//! rule (shared with the config's `services` list), and the words of each refusal.

use std::borrow::Cow;

use super::format::{Event, FIELDS, Invalid, MAX_ATTEMPTS, MAX_COUNT, MAX_NAME_LEN, OVERFLOW_VALUE, Outcome};
use super::raw::{RawEvent, Value};
use crate::classify::ErrorClass;
use crate::text::truncate;

/// Checks every field of `raw`, the event at `index` (`None` for a single-event body).
pub(super) fn validate<'de>(raw: RawEvent<'de>, index: Option<usize>) -> Result<Event<'de>, Invalid> {
    let err = |field: &str, problem: String| Invalid::field(index, field, problem);
    if let Some((field, problem)) = raw.problem {
        let problem = if problem == "unknown field" {
            format!("unknown field; an event has only {FIELDS}")
        } else {
            problem.to_owned()
        };
        return Err(err(&field, problem));
    }

    let service = required_name(raw.service, "service").map_err(|p| err("service", p))?;

    let outcome = match present(raw.outcome) {
        None => return Err(err("outcome", "is required: one of retry, exhausted, success, failure".into())),
        Some(Value::Str(s)) => Outcome::from_value(&s).ok_or_else(|| {
            err("outcome", format!("must be one of retry, exhausted, success, failure; got {:?}", truncate(&s, 64)))
        })?,
        Some(other) => return Err(err("outcome", format!("must be a string, got {}", other.kind()))),
    };

    let class = match present(raw.class) {
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

    let status = optional_int(raw.status, 100, 599, "an HTTP status code").map_err(|p| err("status", p))?;
    let attempts = optional_int(raw.attempts, 1, MAX_ATTEMPTS, "the number of attempts the call took")
        .map_err(|p| err("attempts", p))?;
    let count = optional_int(raw.count, 1, MAX_COUNT, "a count of occurrences").map_err(|p| err("count", p))?;
    let model = match present(raw.model) {
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
pub(crate) fn check_name(s: &str, field: &str) -> Result<(), String> {
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

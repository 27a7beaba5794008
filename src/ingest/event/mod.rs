//! The event format of `POST /v1/events` and its validation, without sockets.
//!
//! The body is one event object, or `{"events": [ … ]}`. The body is parsed once, straight
//! from the request bytes: field values borrow from the body where JSON needs no unescaping,
//! each batch element is validated as soon as it is read, and a hand-written visitor (rather
//! than a derived struct) lets every error name the event's index and the field, and say what
//! is wrong in words a developer can act on.
//!
//! - `format`: the types: a valid [`Event`], the [`Events`] of a body, a refusal ([`Invalid`]).
//! - `raw`: an event object as sent, field by field, before any rule.
//! - `rules`: the rules of each field.
//! - `json`: the serde plumbing that reads a body and a batch.
//!
//! [`parse`] is the entry point.

mod format;
mod json;
mod raw;
mod rules;

pub(crate) use format::OVERFLOW_VALUE;
pub use format::{Event, Events, Invalid, Outcome, Rejected};
pub(crate) use rules::check_name;

use serde::de::DeserializeSeed;

use self::json::{BodySeed, Parsed};
use self::rules::validate;

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
        Parsed::Single(raw) => match validate(raw, None) {
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

#[cfg(test)]
mod tests;

//! What the simulator checks of a request before answering it normally, as the API does: the
//! body's size and JSON shape, the key, the `anthropic-version`.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;
use serde_json::Value;

use super::error::ApiFailure;
use crate::sim::state::Shared;

/// The Messages API's request size limit.
const MAX_REQUEST_BODY: usize = 32 * 1024 * 1024;

/// The oldest `anthropic-version` the API knows.
const OLDEST_VERSION: &str = "2023-01-01";

/// Whether `v` is an `anthropic-version` the simulator accepts: a `YYYY-MM-DD` date from
/// [`OLDEST_VERSION`] on. (The SDKs move to newer dates than any list here would know.)
fn valid_version(v: &str) -> bool {
    let b = v.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() });
    let month_day = shape
        && matches!(&v[5..7], "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09" | "10" | "11" | "12")
        && (1..=31).contains(&v[8..10].parse::<u8>().unwrap_or(0));
    // Same-shape dates compare correctly as strings.
    month_day && v >= OLDEST_VERSION
}

/// A request the simulator would answer normally.
pub(super) struct MessagesRequest {
    pub(super) model: String,
    pub(super) max_tokens: u64,
    pub(super) stream: bool,
    pub(super) input_tokens: u64,
}

/// A rough token count: a quarter of the characters, at least one.
pub(super) fn tokens_of(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4).max(1)
}

/// The characters of every text part of `messages` (and `system`).
fn text_of(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Array(items) => items.iter().for_each(|v| text_of(v, out)),
        Value::Object(map) => {
            if let Some(t) = map.get("text") {
                text_of(t, out);
            }
            if let Some(c) = map.get("content") {
                text_of(c, out);
            }
        }
        _ => {}
    }
}

/// Checks the body like the API does (for the fields the simulator uses); the error is the
/// message of a 400 `invalid_request_error`.
pub(super) fn parse_body(bytes: &[u8], need_max_tokens: bool) -> Result<MessagesRequest, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("The request body is not valid JSON: {e}"))?;
    let Value::Object(map) = &value else {
        return Err("The request body must be a JSON object".into());
    };
    let model = match map.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        Some(_) => return Err("model: Input should be a valid string".into()),
        None => return Err("model: Field required".into()),
    };
    let max_tokens = match map.get("max_tokens") {
        Some(Value::Number(n)) => match n.as_u64() {
            Some(0) => return Err("max_tokens: Input should be greater than or equal to 1".into()),
            Some(n) => n,
            None => return Err("max_tokens: Input should be a valid integer".into()),
        },
        Some(_) => return Err("max_tokens: Input should be a valid integer".into()),
        None if need_max_tokens => return Err("max_tokens: Field required".into()),
        None => 0,
    };
    let messages = match map.get("messages") {
        Some(Value::Array(m)) => m,
        Some(_) => return Err("messages: Input should be a valid list".into()),
        None => return Err("messages: Field required".into()),
    };
    if messages.is_empty() {
        return Err("messages: at least one message is required".into());
    }
    for (i, m) in messages.iter().enumerate() {
        match m.get("role").and_then(Value::as_str) {
            Some("user" | "assistant") => {}
            Some(other) => {
                return Err(format!("messages.{i}.role: Input should be 'user' or 'assistant', not {other:?}"));
            }
            None => return Err(format!("messages.{i}.role: Field required")),
        }
        match m.get("content") {
            Some(Value::String(_) | Value::Array(_)) => {}
            Some(_) => return Err(format!("messages.{i}.content: Input should be a valid string or list")),
            None => return Err(format!("messages.{i}.content: Field required")),
        }
    }
    let stream = match map.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("stream: Input should be a valid boolean".into()),
    };
    let mut text = String::new();
    text_of(&Value::Array(messages.clone()), &mut text);
    if let Some(system) = map.get("system") {
        text_of(system, &mut text);
    }
    Ok(MessagesRequest { model, max_tokens, stream, input_tokens: tokens_of(&text) + 7 })
}

/// Whether the body asks for a stream, read leniently (for faults that pre-empt validation).
pub(super) fn wants_stream(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bytes).ok().and_then(|v| v.get("stream").and_then(Value::as_bool)).unwrap_or(false)
}

/// The API key of a request: `x-api-key`, or `Authorization: Bearer` (which recent official
/// SDKs send instead). Empty when neither is there.
fn api_key_of(headers: &HeaderMap) -> &str {
    let x_api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok()).unwrap_or("").trim();
    if !x_api_key.is_empty() {
        return x_api_key;
    }
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("").trim();
    match authorization.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => "",
    }
}

/// The key and version checks every endpoint makes.
pub(super) fn check_headers(shared: &Shared, headers: &HeaderMap) -> Result<(), ApiFailure> {
    let key = api_key_of(headers);
    if key.is_empty() {
        return Err(ApiFailure::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "x-api-key header is required (or Authorization: Bearer)",
        ));
    }
    if let Some(expected) = &shared.api_key {
        use subtle::ConstantTimeEq;
        if !bool::from(key.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(ApiFailure::new(StatusCode::UNAUTHORIZED, "authentication_error", "invalid x-api-key"));
        }
    }
    match headers.get("anthropic-version").map(|v| v.to_str().unwrap_or("")) {
        None => Err(ApiFailure::invalid("anthropic-version: header is required")),
        Some(v) if valid_version(v.trim()) => Ok(()),
        Some(v) => Err(ApiFailure::invalid(format!("anthropic-version: {v:?} is not a valid version"))),
    }
}

/// Reads the body within [`MAX_REQUEST_BODY`]; a larger body is the edge's 413.
pub(super) async fn read_body(body: Body) -> Result<Bytes, ApiFailure> {
    match axum::body::to_bytes(body, MAX_REQUEST_BODY).await {
        Ok(b) => Ok(b),
        Err(e) => {
            if crate::error::chain(&e).any(|err| err.is::<http_body_util::LengthLimitError>()) {
                return Err(ApiFailure::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request_too_large",
                    "Request exceeds the maximum allowed number of bytes",
                ));
            }
            Err(ApiFailure::invalid("could not read the request body"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_validation_names_the_field() {
        let ok = parse_body(br#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi there"}]}"#, true)
            .unwrap();
        assert_eq!((ok.model.as_str(), ok.max_tokens, ok.stream), ("m", 5, false));
        assert!(ok.input_tokens > 7);
        let cases: [(&[u8], &str); 9] = [
            (b"{not json", "not valid JSON"),
            (b"[]", "JSON object"),
            (br#"{"max_tokens":5,"messages":[]}"#, "model: Field required"),
            (br#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#, "max_tokens: Field required"),
            (
                br#"{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]}"#,
                "greater than or equal to 1",
            ),
            (br#"{"model":"m","max_tokens":"5","messages":[{"role":"user","content":"x"}]}"#, "valid integer"),
            (br#"{"model":"m","max_tokens":5,"messages":[]}"#, "at least one message"),
            (br#"{"model":"m","max_tokens":5,"messages":[{"role":"robot","content":"x"}]}"#, "messages.0.role"),
            (br#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"stream":"yes"}"#, "stream:"),
        ];
        for (body, want) in cases {
            let err =
                parse_body(body, true).err().unwrap_or_else(|| panic!("{:?} accepted", String::from_utf8_lossy(body)));
            assert!(err.contains(want), "{err} lacks {want}");
        }
    }

    #[test]
    fn versions_are_dates_from_2023_on() {
        for ok in ["2023-06-01", "2023-01-01", "2026-10-21"] {
            assert!(valid_version(ok), "{ok}");
        }
        for bad in ["", "2022-12-31", "2023-13-01", "2023-06-00", "2023-6-1", "latest", "2023-06-01x", "२०२३-०६-०१"]
        {
            assert!(!valid_version(bad), "{bad}");
        }
    }
}

//! A normal reply to a messages request, JSON or SSE, in the API's shape and order, and the ways
//! the faults that strike after the 200 break it (a body cut in half, a stream that errs or
//! stops); plus the `anthropic-ratelimit-*` headers every answer carries.

use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use super::request::tokens_of;
use crate::sim::body;
use crate::sim::fault::Fault;
use crate::sim::state::RateLimitSnapshot;

/// The text a `wrong_text` fault replies with (nothing an "OK" check can match).
pub(super) const WRONG_TEXT: &str = "I cannot help with that request.";

/// One normal reply, before a fault breaks it.
pub(super) struct MessageReply<'a> {
    /// The message id (`msg_01…`).
    pub(super) id: &'a str,
    pub(super) model: &'a str,
    pub(super) input_tokens: u64,
    /// The text, already cut to `max_tokens` ([`reply_within`]).
    pub(super) text: &'a str,
    pub(super) output_tokens: u64,
    pub(super) stop_reason: &'static str,
}

/// The JSON reply, whole, cut off mid-body (`close_mid_body`) or cut in half (`invalid_json`).
pub(super) fn json_reply(reply: &MessageReply<'_>, fault: Fault) -> Response {
    let full = Bytes::from(message_json(reply).to_string());
    let body = match fault {
        Fault::CloseMidBody => return truncated_json_response(full),
        Fault::InvalidJson => full.slice(..full.len() / 2),
        _ => full,
    };
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The SSE reply: the whole event sequence, an `error` event after the first events
/// (`stream_error`), a `data:` line that is not JSON (`invalid_json`), or the first events and
/// then the connection broken off (`close_mid_body`).
pub(super) fn stream_reply(reply: &MessageReply<'_>, fault: Fault) -> Response {
    let mut events = match fault {
        Fault::StreamError => {
            let mut events = stream_events(reply);
            events.truncate(3);
            events.push(sse(
                "error",
                &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            ));
            events
        }
        Fault::InvalidJson => {
            vec![Bytes::from_static(
                b"event: message_start\ndata: {\"type\": \"message_start\", \"message\": {\"id\"\n\n",
            )]
        }
        _ => stream_events(reply),
    };
    let abort = fault == Fault::CloseMidBody;
    if abort {
        events.truncate(3);
    }
    stream_response(events, abort)
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Adds the `anthropic-ratelimit-*` headers.
pub(super) fn add_rate_limit_headers(headers: &mut HeaderMap, rl: &RateLimitSnapshot) {
    let round = |n: u64| n / 1000 * 1000;
    let reset = rfc3339(rl.reset);
    // The `tokens-*` set reports whichever token limit is closer to running out: compares
    // remaining/limit across the two without division, in u128 so that no u64 limits overflow.
    let input_share = u128::from(rl.input_remaining) * u128::from(rl.limits.output_tokens.max(1));
    let output_share = u128::from(rl.output_remaining) * u128::from(rl.limits.input_tokens.max(1));
    let (tokens_limit, tokens_remaining) = if input_share <= output_share {
        (rl.limits.input_tokens, rl.input_remaining)
    } else {
        (rl.limits.output_tokens, rl.output_remaining)
    };
    let sets = [
        ("requests", rl.limits.requests, rl.requests_remaining),
        ("tokens", tokens_limit, round(tokens_remaining)),
        ("input-tokens", rl.limits.input_tokens, round(rl.input_remaining)),
        ("output-tokens", rl.limits.output_tokens, round(rl.output_remaining)),
    ];
    for (resource, limit, remaining) in sets {
        for (what, value) in
            [("limit", limit.to_string()), ("remaining", remaining.to_string()), ("reset", reset.clone())]
        {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(format!("anthropic-ratelimit-{resource}-{what}").as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                headers.insert(name, value);
            }
        }
    }
}

/// The reply text cut to `max_tokens`, and whether it was cut.
pub(super) fn reply_within(text: &str, max_tokens: u64) -> (String, u64, &'static str) {
    let tokens = tokens_of(text);
    if tokens <= max_tokens {
        return (text.to_owned(), tokens, "end_turn");
    }
    let chars = (max_tokens * 4) as usize;
    (text.chars().take(chars).collect(), max_tokens, "max_tokens")
}

fn usage(input_tokens: u64, output_tokens: u64) -> Value {
    json!({
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    })
}

fn message_json(reply: &MessageReply<'_>) -> Value {
    json!({
        "id": reply.id,
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": [{"type": "text", "text": reply.text}],
        "stop_reason": reply.stop_reason,
        "stop_sequence": null,
        "usage": usage(reply.input_tokens, reply.output_tokens),
    })
}

fn sse(event: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

/// The SSE events of a normal streamed reply, in the API's order.
fn stream_events(reply: &MessageReply<'_>) -> Vec<Bytes> {
    let mut start = message_json(&MessageReply { text: "", output_tokens: 1, stop_reason: "", ..*reply });
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    let mut events = vec![
        sse("message_start", &json!({"type": "message_start", "message": start})),
        sse(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        sse("ping", &json!({"type": "ping"})),
    ];
    // Deltas of a few words each, as the API sends them.
    let mut chunk = String::new();
    for word in reply.text.split_inclusive(' ') {
        chunk.push_str(word);
        if chunk.len() >= 12 {
            events.push(delta(&chunk));
            chunk.clear();
        }
    }
    if !chunk.is_empty() || reply.text.is_empty() {
        events.push(delta(&chunk));
    }
    events.push(sse("content_block_stop", &json!({"type": "content_block_stop", "index": 0})));
    events.push(sse(
        "message_delta",
        &json!({
            "type": "message_delta",
            "delta": {"stop_reason": reply.stop_reason, "stop_sequence": null},
            "usage": {"output_tokens": reply.output_tokens},
        }),
    ));
    events.push(sse("message_stop", &json!({"type": "message_stop"})));
    events
}

fn delta(text: &str) -> Bytes {
    sse(
        "content_block_delta",
        &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
    )
}

/// A 200 `text/event-stream` response fed by `events`, optionally broken off at the end.
fn stream_response(events: Vec<Bytes>, then_abort: bool) -> Response {
    let (tx, rx) = body::channel();
    tokio::spawn(async move {
        for e in events {
            if !tx.send(e).await {
                return;
            }
        }
        if then_abort {
            // Let hyper flush what was written before the body breaks off.
            tokio::time::sleep(Duration::from_millis(20)).await;
            tx.abort().await;
        }
    });
    let mut response = Response::new(Body::new(rx));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A 200 JSON response that declares `full`'s length but sends only its first half.
fn truncated_json_response(full: Bytes) -> Response {
    let half = full.slice(..full.len() / 2);
    let len = full.len();
    let (tx, rx) = body::channel();
    tokio::spawn(async move {
        if tx.send(half).await {
            tokio::time::sleep(Duration::from_millis(20)).await;
            tx.abort().await;
        }
    });
    let mut response = Response::new(Body::new(rx));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_headers_hold_at_any_limit() {
        use crate::sim::scenario::RateLimits;
        let header = |h: &HeaderMap, name: &str| h[name].to_str().unwrap().parse::<u64>().unwrap();
        let snapshot = |limits: RateLimits, input_remaining, output_remaining| RateLimitSnapshot {
            limits,
            requests_remaining: limits.requests,
            input_remaining,
            output_remaining,
            reset: SystemTime::UNIX_EPOCH,
        };
        // Products far beyond u64 (the review's 1e10 × 1e10, and the extremes).
        let huge = RateLimits { requests: u64::MAX, input_tokens: 10_000_000_000, output_tokens: 10_000_000_000 };
        let mut h = HeaderMap::new();
        add_rate_limit_headers(&mut h, &snapshot(huge, 9_999_999_000, 4_000_000_000));
        assert_eq!(header(&h, "anthropic-ratelimit-tokens-limit"), 10_000_000_000, "output is closer to running out");
        assert_eq!(header(&h, "anthropic-ratelimit-tokens-remaining"), 4_000_000_000);
        let max = RateLimits { requests: u64::MAX, input_tokens: u64::MAX, output_tokens: u64::MAX };
        let mut h = HeaderMap::new();
        add_rate_limit_headers(&mut h, &snapshot(max, u64::MAX, u64::MAX - 1));
        assert_eq!(header(&h, "anthropic-ratelimit-tokens-remaining"), (u64::MAX - 1) / 1000 * 1000);
        // Zero limits (code may set them) do not divide by zero either.
        let zero = RateLimits { requests: 0, input_tokens: 0, output_tokens: 0 };
        let mut h = HeaderMap::new();
        add_rate_limit_headers(&mut h, &snapshot(zero, 0, 0));
        assert_eq!(header(&h, "anthropic-ratelimit-tokens-limit"), 0);
    }

    #[test]
    fn replies_are_cut_at_max_tokens() {
        assert_eq!(reply_within("OK", 1), ("OK".to_owned(), 1, "end_turn"));
        let (text, tokens, stop) = reply_within("a fairly long reply that takes many tokens", 2);
        assert_eq!((text.as_str(), tokens, stop), ("a fairly", 2, "max_tokens"));
    }

    #[test]
    fn stream_events_come_in_the_api_order() {
        let text = "Hello there, this is a longer reply";
        let reply =
            MessageReply { id: "msg_1", model: "m", input_tokens: 9, text, output_tokens: 9, stop_reason: "end_turn" };
        let events = stream_events(&reply);
        let names: Vec<String> = events
            .iter()
            .map(|e| String::from_utf8_lossy(e).lines().next().unwrap().trim_start_matches("event: ").to_owned())
            .collect();
        assert_eq!(names[..3], ["message_start", "content_block_start", "ping"]);
        assert!(names[3..names.len() - 3].iter().all(|n| n == "content_block_delta") && names.len() > 7, "{names:?}");
        assert_eq!(names[names.len() - 3..], ["content_block_stop", "message_delta", "message_stop"]);
        let text: String = events[3..events.len() - 3]
            .iter()
            .map(|e| {
                let data = String::from_utf8_lossy(e).lines().nth(1).unwrap().trim_start_matches("data: ").to_owned();
                serde_json::from_str::<Value>(&data).unwrap()["delta"]["text"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(text, "Hello there, this is a longer reply");
    }
}

//! The simulated Messages API: `POST /v1/messages` (JSON and SSE), `POST
//! /v1/messages/count_tokens`, `GET /v1/models[/{id}]`, with the real error body, the
//! `request-id` and `anthropic-ratelimit-*` headers, and every fault of [`Fault`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use super::body;
use super::fault::{Fault, Latency, Step};
use super::server::{ConnControl, Kill};
use super::state::{Endpoint, RateLimitSnapshot, RequestRecord, Shared, Source};

/// Request header that picks the fault of one request (`reset`, `overloaded`, …).
pub const FAULT_HEADER: &str = "x-claudewatch-sim-fault";
/// Request header that adds latency to one request (`"250ms"`).
pub const LATENCY_HEADER: &str = "x-claudewatch-sim-latency";
/// Request header that sets the `retry-after` seconds of one request's answer.
pub const RETRY_AFTER_HEADER: &str = "x-claudewatch-sim-retry-after";

/// A `hang` ends after this long even if the simulator keeps running.
pub const MAX_HANG: Duration = Duration::from_secs(600);

/// The Messages API's request size limit.
pub const MAX_BODY: usize = 32 * 1024 * 1024;

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

/// The models `GET /v1/models` lists, newest first as the API lists them: id, alias, display
/// name, release. Ids from the 4.6 generation on are undated (`claude-haiku-5-5`), so there
/// id and alias are the same; older ids carry their snapshot date. `GET /v1/models/{id}` also resolves the alias; `POST /v1/messages` accepts
/// any model name.
const MODELS: [(&str, &str, &str, &str); 4] = [
    ("claude-haiku-5-5", "claude-haiku-5-5", "Claude Haiku 5.5", "2026-10-07T00:00:00Z"),
    ("claude-opus-4-5-20251101", "claude-opus-4-5", "Claude Opus 4.5", "2025-11-01T00:00:00Z"),
    ("claude-haiku-4-5-20251001", "claude-haiku-4-5", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
];

/// The body of a 502 from the edge: HTML, as a CDN sends it.
const BAD_GATEWAY_HTML: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n";

/// The text a `wrong_text` fault replies with (nothing an "OK" check can match).
const WRONG_TEXT: &str = "I cannot help with that request.";

/// `prefix` and 24 random alphanumerics, like the API's ids.
pub fn new_id(shared: &Shared, prefix: &str) -> String {
    shared.with_rng(|rng| {
        let mut id = String::with_capacity(prefix.len() + 24);
        id.push_str(prefix);
        id.extend((0..24).map(|_| rng.alphanumeric()));
        id
    })
}

/// The API's error body: `{"type":"error","error":{"type","message"},"request_id"}`.
pub fn error_response(status: StatusCode, kind: &str, message: &str, request_id: &str) -> Response {
    let body = json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id});
    with_request_id(json_response(status, &body), request_id)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("request-id", v);
    }
    response
}

/// An error the API would answer with, before it is given its request id.
struct ApiFailure {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl ApiFailure {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiFailure { status, kind, message: message.into() }
    }

    fn invalid(message: impl Into<String>) -> Self {
        ApiFailure::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    fn respond(&self, request_id: &str) -> Response {
        error_response(self.status, self.kind, &self.message, request_id)
    }
}

/// A request the simulator would answer normally.
struct MessagesRequest {
    model: String,
    max_tokens: u64,
    stream: bool,
    input_tokens: u64,
}

/// A rough token count: a quarter of the characters, at least one.
fn tokens_of(text: &str) -> u64 {
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
fn parse_body(bytes: &[u8], need_max_tokens: bool) -> Result<MessagesRequest, String> {
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
fn wants_stream(bytes: &[u8]) -> bool {
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
fn check_headers(shared: &Shared, headers: &HeaderMap) -> Result<(), ApiFailure> {
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

/// Picks the step for a messages request: header, then script, then scenario.
fn choose(shared: &Shared, headers: &HeaderMap) -> Result<(Step, Source), String> {
    let text = |name: &str| -> Result<Option<String>, String> {
        match headers.get(name) {
            None => Ok(None),
            Some(v) => v.to_str().map(|s| Some(s.trim().to_owned())).map_err(|_| format!("{name}: not ASCII")),
        }
    };
    let fault = text(FAULT_HEADER)?;
    let latency = text(LATENCY_HEADER)?;
    let retry_after = text(RETRY_AFTER_HEADER)?;
    if fault.is_none() && latency.is_none() && retry_after.is_none() {
        if let Some(step) = shared.next_scripted() {
            return Ok((step, Source::Script));
        }
        return Ok((shared.draw_from_scenario().0, Source::Scenario));
    }
    let fault = match fault {
        Some(f) => f.parse::<Fault>().map_err(|e| format!("{FAULT_HEADER}: {e}"))?,
        None => Fault::Ok,
    };
    let latency = match latency {
        Some(l) => Some(l.parse::<Latency>().map_err(|e| format!("{LATENCY_HEADER}: {e}"))?),
        None => None,
    };
    let retry_after = match retry_after {
        Some(r) => Some(
            r.parse::<u64>().map_err(|_| format!("{RETRY_AFTER_HEADER}: {r:?} is not a whole number of seconds"))?,
        ),
        None => None,
    };
    Ok((Step { fault, latency, retry_after }, Source::Header))
}

/// The last stretch of an injected latency, slept on a blocking thread rather than on tokio's
/// timer. The timer rounds every sleep up to the next millisecond and then waits for a worker
/// to wake, which adds 1–2 ms to each latency; probes are judged against these latencies to
/// within a millisecond (`bench/run`), so the tail uses the OS's high-resolution sleep.
const PRECISE_TAIL: Duration = Duration::from_millis(3);

/// Sleeps `d`, or until the simulator stops (then returns false).
async fn sleep_unless_stopped(shared: &Shared, d: Duration) -> bool {
    if d.is_zero() {
        return true;
    }
    let deadline = std::time::Instant::now() + d;
    let sleep = async {
        let coarse = d.saturating_sub(PRECISE_TAIL);
        if !coarse.is_zero() {
            tokio::time::sleep(coarse).await;
        }
        let rest = deadline.saturating_duration_since(std::time::Instant::now());
        if !rest.is_zero() {
            // Only fails if the runtime is shutting down; the sleep is over either way.
            let _ = tokio::task::spawn_blocking(move || std::thread::sleep(rest)).await;
        }
    };
    tokio::select! {
        _ = sleep => true,
        _ = shared.shutdown.cancelled() => false,
    }
}

/// Ends the connection from inside a handler, then waits for the connection task to drop us.
async fn end_connection(conn: Option<&ConnControl>, how: Kill) -> Response {
    match conn {
        Some(c) => {
            c.kill(how);
            std::future::pending::<Response>().await
        }
        // Only reachable when the router is served by something other than the simulator's
        // own accept loop; say so rather than pretend.
        None => (StatusCode::INTERNAL_SERVER_ERROR, "this fault needs the simulator's own server").into_response(),
    }
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Adds the `anthropic-ratelimit-*` headers.
fn add_rate_limit_headers(headers: &mut HeaderMap, rl: &RateLimitSnapshot) {
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
fn reply_within(text: &str, max_tokens: u64) -> (String, u64, &'static str) {
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

fn message_json(id: &str, req: &MessagesRequest, text: &str, output_tokens: u64, stop_reason: &str) -> Value {
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": req.model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": usage(req.input_tokens, output_tokens),
    })
}

fn sse(event: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

/// The SSE events of a normal streamed reply, in the API's order.
fn stream_events(id: &str, req: &MessagesRequest, text: &str, output_tokens: u64, stop_reason: &str) -> Vec<Bytes> {
    let mut start = message_json(id, req, "", 1, "");
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
    for word in text.split_inclusive(' ') {
        chunk.push_str(word);
        if chunk.len() >= 12 {
            events.push(delta(&chunk));
            chunk.clear();
        }
    }
    if !chunk.is_empty() || text.is_empty() {
        events.push(delta(&chunk));
    }
    events.push(sse("content_block_stop", &json!({"type": "content_block_stop", "index": 0})));
    events.push(sse(
        "message_delta",
        &json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": null},
            "usage": {"output_tokens": output_tokens},
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

/// What one messages request turned into, for the stats.
struct Served {
    response: Response,
    status: Option<u16>,
}

fn served(response: Response) -> Served {
    let status = Some(response.status().as_u16());
    Served { response, status }
}

/// Reads the body within [`MAX_BODY`]; a larger body is the edge's 413.
async fn read_body(body: Body) -> Result<Bytes, ApiFailure> {
    match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => Ok(b),
        Err(e) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(err) = source {
                if err.is::<http_body_util::LengthLimitError>() {
                    return Err(ApiFailure::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "request_too_large",
                        "Request exceeds the maximum allowed number of bytes",
                    ));
                }
                source = err.source();
            }
            Err(ApiFailure::invalid("could not read the request body"))
        }
    }
}

/// `POST /v1/messages`.
pub async fn messages(
    State(shared): State<Arc<Shared>>,
    conn: Option<Extension<ConnControl>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let conn = conn.map(|Extension(c)| c);
    let request_id = new_id(&shared, "req_011C");
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(failure) => return failure.respond(&request_id),
    };
    let at = shared.started.elapsed();
    let retry_count = headers.get("x-stainless-retry-count").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut record = RequestRecord {
        seq: 0,
        at_seconds: at.as_secs_f64(),
        endpoint: Endpoint::Messages,
        fault: Fault::Ok,
        source: Source::Scenario,
        status: None,
        stream: wants_stream(&bytes),
        latency_seconds: 0.0,
        retry_count,
        request_id: request_id.clone(),
    };

    let (step, source) = match choose(&shared, &headers) {
        Ok(chosen) => chosen,
        Err(message) => {
            record.fault = Fault::BadRequest;
            record.source = Source::Header;
            record.status = Some(400);
            shared.record(record);
            return error_response(StatusCode::BAD_REQUEST, "invalid_request_error", &message, &request_id);
        }
    };
    record.fault = step.fault;
    record.source = source;

    let latency = step.latency.map(|l| shared.with_rng(|rng| l.sample(rng))).unwrap_or_default();
    record.latency_seconds = latency.as_secs_f64();

    // Connection-level faults: recorded before the connection goes.
    match step.fault {
        Fault::Reset | Fault::Hang => {
            shared.record(record);
            if !sleep_unless_stopped(&shared, latency).await {
                return end_connection(conn.as_ref(), Kill::Close).await;
            }
            if step.fault == Fault::Reset {
                return end_connection(conn.as_ref(), Kill::Reset).await;
            }
            tokio::select! {
                _ = shared.shutdown.cancelled() => {}
                _ = tokio::time::sleep(MAX_HANG) => {}
            }
            return end_connection(conn.as_ref(), Kill::Close).await;
        }
        _ => {}
    }

    if !sleep_unless_stopped(&shared, latency).await {
        shared.record(record);
        return end_connection(conn.as_ref(), Kill::Close).await;
    }

    let mut served = serve_step(&shared, &headers, &bytes, step, &request_id);
    let retry_after = step.effective_retry_after();
    if let Some(secs) = retry_after {
        served.response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    record.status = served.status;
    shared.record(record);
    served.response
}

/// Builds the answer of a messages request for every fault but reset and hang.
fn serve_step(shared: &Shared, headers: &HeaderMap, bytes: &[u8], step: Step, request_id: &str) -> Served {
    let err = |status: u16, kind: &str, message: &str| {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = error_response(status, kind, message, request_id);
        add_rate_limit_headers(response.headers_mut(), &shared.rate_limit(0, 0));
        served(response)
    };
    let fault = step.fault;
    match fault {
        Fault::Overloaded => return err(529, "overloaded_error", "Overloaded"),
        Fault::Unavailable => return err(503, "api_error", "Service Unavailable"),
        Fault::RateLimited | Fault::RateLimitedNoRetryAfter => {
            return err(
                429,
                "rate_limit_error",
                "This request would exceed the rate limit for your organization of 4,000 requests per minute. Please retry later.",
            );
        }
        Fault::SpendLimit => {
            let body = json!({
                "type": "error",
                "error": {
                    "type": "rate_limit_error",
                    "message": "You have reached your specified API usage limits. You will regain access on the first of next month.",
                    "details": {"error_code": "enforced_spend_limit_reached"},
                },
                "request_id": request_id,
            });
            let mut response = with_request_id(json_response(StatusCode::TOO_MANY_REQUESTS, &body), request_id);
            add_rate_limit_headers(response.headers_mut(), &shared.rate_limit(0, 0));
            return served(response);
        }
        Fault::ServerError => return err(500, "api_error", "Internal server error"),
        Fault::BadGateway => {
            // From the edge: HTML, and no request-id.
            let mut response = (StatusCode::BAD_GATEWAY, BAD_GATEWAY_HTML).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
            return served(response);
        }
        Fault::GatewayTimeout => return err(504, "timeout_error", "Request timed out"),
        Fault::BadRequest => return err(400, "invalid_request_error", "messages: simulated invalid request"),
        Fault::Unauthorized => return err(401, "authentication_error", "invalid x-api-key"),
        Fault::Forbidden => {
            return err(
                403,
                "permission_error",
                "Your API key does not have permission to use the specified resource.",
            );
        }
        _ => {}
    }

    // From here the request is accepted like a real one: key, version and body are checked.
    if let Err(failure) = check_headers(shared, headers) {
        return served(failure.respond(request_id));
    }
    let req = match parse_body(bytes, true) {
        Ok(r) => r,
        Err(message) => return err(400, "invalid_request_error", &message),
    };
    if fault == Fault::StreamError && !req.stream {
        return err(529, "overloaded_error", "Overloaded");
    }
    let text = if fault == Fault::WrongText { WRONG_TEXT.to_owned() } else { shared.reply() };
    let (text, output_tokens, stop_reason) = reply_within(&text, req.max_tokens);
    let rl = shared.rate_limit(req.input_tokens, output_tokens);
    let id = new_id(shared, "msg_01");

    let mut response = if req.stream {
        let events = match fault {
            Fault::StreamError => {
                let mut events = stream_events(&id, &req, &text, output_tokens, stop_reason);
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
            _ => stream_events(&id, &req, &text, output_tokens, stop_reason),
        };
        let mut events = events;
        let abort = fault == Fault::CloseMidBody;
        if abort {
            events.truncate(3);
        }
        stream_response(events, abort)
    } else {
        let full = Bytes::from(message_json(&id, &req, &text, output_tokens, stop_reason).to_string());
        match fault {
            Fault::CloseMidBody => truncated_json_response(full),
            Fault::InvalidJson => {
                let mut response = (StatusCode::OK, full.slice(..full.len() / 2)).into_response();
                response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                response
            }
            _ => {
                let mut response = (StatusCode::OK, full).into_response();
                response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                response
            }
        }
    };
    let response_headers = response.headers_mut();
    add_rate_limit_headers(response_headers, &rl);
    let response = with_request_id(response, request_id);
    served(response)
}

/// `POST /v1/messages/count_tokens`.
pub async fn count_tokens(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    let request_id = new_id(&shared, "req_011C");
    let response = async {
        let bytes = read_body(body).await?;
        check_headers(&shared, &headers)?;
        parse_body(&bytes, false).map_err(ApiFailure::invalid)
    }
    .await
    .map_or_else(
        |failure| failure.respond(&request_id),
        |req| with_request_id(json_response(StatusCode::OK, &json!({"input_tokens": req.input_tokens})), &request_id),
    );
    record_plain(&shared, Endpoint::CountTokens, &headers, &request_id, &response);
    response
}

fn model_json(id: &str, name: &str, created: &str) -> Value {
    json!({"type": "model", "id": id, "display_name": name, "created_at": created})
}

/// `GET /v1/models`.
pub async fn models(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let request_id = new_id(&shared, "req_011C");
    let response = match check_headers(&shared, &headers) {
        Err(failure) => failure.respond(&request_id),
        Ok(()) => {
            let data: Vec<Value> = MODELS.iter().map(|(id, _, name, created)| model_json(id, name, created)).collect();
            let body = json!({
                "data": data,
                "has_more": false,
                "first_id": MODELS[0].0,
                "last_id": MODELS[MODELS.len() - 1].0,
            });
            with_request_id(json_response(StatusCode::OK, &body), &request_id)
        }
    };
    record_plain(&shared, Endpoint::Models, &headers, &request_id, &response);
    response
}

/// `GET /v1/models/{id}`.
pub async fn model(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let request_id = new_id(&shared, "req_011C");
    let response = match check_headers(&shared, &headers) {
        Err(failure) => failure.respond(&request_id),
        Ok(()) => match MODELS.iter().find(|(m, alias, _, _)| *m == id || *alias == id) {
            Some((id, _, name, created)) => {
                with_request_id(json_response(StatusCode::OK, &model_json(id, name, created)), &request_id)
            }
            None => error_response(StatusCode::NOT_FOUND, "not_found_error", &format!("model: {id}"), &request_id),
        },
    };
    record_plain(&shared, Endpoint::Models, &headers, &request_id, &response);
    response
}

fn record_plain(shared: &Shared, endpoint: Endpoint, headers: &HeaderMap, request_id: &str, response: &Response) {
    shared.record(RequestRecord {
        seq: 0,
        at_seconds: shared.started.elapsed().as_secs_f64(),
        endpoint,
        fault: Fault::Ok,
        source: Source::Scenario,
        status: Some(response.status().as_u16()),
        stream: false,
        latency_seconds: 0.0,
        retry_count: headers.get("x-stainless-retry-count").and_then(|v| v.to_str().ok()).map(str::to_owned),
        request_id: request_id.to_owned(),
    });
}

/// Anything else: the API's 404.
pub async fn not_found(State(shared): State<Arc<Shared>>) -> Response {
    let request_id = new_id(&shared, "req_011C");
    error_response(StatusCode::NOT_FOUND, "not_found_error", "Not Found", &request_id)
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

    #[test]
    fn rate_limit_headers_hold_at_any_limit() {
        use super::super::scenario::RateLimits;
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
    fn models_are_newest_first() {
        assert!(MODELS.windows(2).all(|w| w[0].3 > w[1].3), "{MODELS:?}");
        for (id, alias, _, created) in MODELS {
            humantime::parse_rfc3339(created).unwrap();
            // From the 4.6 generation on, ids carry no snapshot date; before it they do.
            if id == alias {
                continue;
            }
            assert!(id.starts_with(alias) && id.len() == alias.len() + 9, "{id} is {alias}-YYYYMMDD");
            assert_eq!(id[alias.len() + 1..], created[..10].replace('-', ""), "{id} matches {created}");
        }
    }

    #[test]
    fn replies_are_cut_at_max_tokens() {
        assert_eq!(reply_within("OK", 1), ("OK".to_owned(), 1, "end_turn"));
        let (text, tokens, stop) = reply_within("a fairly long reply that takes many tokens", 2);
        assert_eq!((text.as_str(), tokens, stop), ("a fairly", 2, "max_tokens"));
    }

    #[test]
    fn stream_events_come_in_the_api_order() {
        let req = MessagesRequest { model: "m".into(), max_tokens: 100, stream: true, input_tokens: 9 };
        let events = stream_events("msg_1", &req, "Hello there, this is a longer reply", 9, "end_turn");
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

//! The simulated Messages API: `POST /v1/messages` (JSON and SSE), `POST
//! /v1/messages/count_tokens`, `GET /v1/models[/{id}]`, with the real error body, the
//! `request-id` and `anthropic-ratelimit-*` headers, and every fault of [`Fault`].
//!
//! - `choose`: which step a request gets (headers, script, scenario).
//! - `request`: what is checked of a request before it is answered normally.
//! - `error`: the API's error answers and the edge's HTML page.
//! - `reply`: a normal reply, JSON or SSE, and the faults that break it after the 200.
//! - `models`: the models the API lists.
//!
//! This file holds the handlers; `POST /v1/messages` is a sequence of named steps: read the
//! body, choose the step, cut the connection or wait the latency, answer, record.

mod choose;
mod error;
mod models;
mod reply;
mod request;

pub use choose::{FAULT_HEADER, LATENCY_HEADER, RETRY_AFTER_HEADER};

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use self::choose::choose;
use self::error::{ApiFailure, edge_page, error_response, json_response, with_request_id};
use self::reply::{MessageReply, WRONG_TEXT, add_rate_limit_headers, json_reply, reply_within, stream_reply};
use self::request::{check_headers, parse_body, read_body, wants_stream};
use super::fault::{Answer, ErrorAnswer, Fault, OVERLOADED, Step};
use super::server::{ConnControl, Kill};
use super::state::{Endpoint, RequestRecord, Shared, Source};

/// A `hang` ends after this long even if the simulator keeps running.
pub const MAX_HANG: Duration = Duration::from_secs(600);

/// `prefix` and 24 random alphanumerics, like the API's ids.
fn new_id(shared: &Shared, prefix: &str) -> String {
    shared.with_rng(|rng| {
        let mut id = String::with_capacity(prefix.len() + 24);
        id.push_str(prefix);
        id.extend((0..24).map(|_| rng.alphanumeric()));
        id
    })
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

/// What one messages request turned into, for the stats.
struct Served {
    response: Response,
    status: Option<u16>,
}

fn served(response: Response) -> Served {
    let status = Some(response.status().as_u16());
    Served { response, status }
}

/// `POST /v1/messages`.
pub(super) async fn messages(
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
    let mut record = first_record(&shared, &headers, &bytes, &request_id);
    let (step, source) = match choose(&shared, &headers) {
        Ok(chosen) => chosen,
        Err(message) => return refuse_choice(&shared, record, &message, &request_id),
    };
    record.fault = step.fault;
    record.source = source;
    let latency = step.latency.map(|l| shared.with_rng(|rng| l.sample(rng))).unwrap_or_default();
    record.latency_seconds = latency.as_secs_f64();

    if step.fault.answer() == Answer::Connection {
        // Recorded before the connection goes.
        shared.record(record);
        return cut_connection(&shared, conn.as_ref(), step.fault, latency).await;
    }
    if !sleep_unless_stopped(&shared, latency).await {
        shared.record(record);
        return end_connection(conn.as_ref(), Kill::Close).await;
    }
    let mut served = serve_step(&shared, &headers, &bytes, step, &request_id);
    if let Some(secs) = step.effective_retry_after() {
        served.response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    record.status = served.status;
    shared.record(record);
    served.response
}

/// The request's entry in the log, before its step is known.
fn first_record(shared: &Shared, headers: &HeaderMap, bytes: &[u8], request_id: &str) -> RequestRecord {
    RequestRecord {
        seq: 0,
        at_seconds: shared.started.elapsed().as_secs_f64(),
        endpoint: Endpoint::Messages,
        fault: Fault::Ok,
        source: Source::Scenario,
        status: None,
        stream: wants_stream(bytes),
        latency_seconds: 0.0,
        retry_count: headers.get("x-stainless-retry-count").and_then(|v| v.to_str().ok()).map(str::to_owned),
        request_id: request_id.to_owned(),
    }
}

/// A fault header the simulator cannot read: a 400 that names it.
fn refuse_choice(shared: &Shared, mut record: RequestRecord, message: &str, request_id: &str) -> Response {
    record.fault = Fault::BadRequest;
    record.source = Source::Header;
    record.status = Some(400);
    shared.record(record);
    error_response(StatusCode::BAD_REQUEST, "invalid_request_error", message, None, request_id)
}

/// `reset` and `hang`: after the latency, a real RST, or no answer until the simulator stops
/// (at most [`MAX_HANG`]) and then a close.
async fn cut_connection(shared: &Shared, conn: Option<&ConnControl>, fault: Fault, latency: Duration) -> Response {
    if !sleep_unless_stopped(shared, latency).await {
        return end_connection(conn, Kill::Close).await;
    }
    if fault == Fault::Reset {
        return end_connection(conn, Kill::Reset).await;
    }
    tokio::select! {
        _ = shared.shutdown.cancelled() => {}
        _ = tokio::time::sleep(MAX_HANG) => {}
    }
    end_connection(conn, Kill::Close).await
}

/// The answer of a messages request for every fault but reset and hang.
fn serve_step(shared: &Shared, headers: &HeaderMap, bytes: &[u8], step: Step, request_id: &str) -> Served {
    match step.fault.answer() {
        Answer::Error(e) => served(api_error(shared, e, request_id)),
        Answer::EdgePage { status } => {
            served(edge_page(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY)))
        }
        Answer::AfterChecks | Answer::Connection => serve_checked(shared, headers, bytes, step.fault, request_id),
    }
}

/// An error answer with the rate-limit headers the API sends on errors too.
fn api_error(shared: &Shared, e: ErrorAnswer, request_id: &str) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = error_response(status, e.error_type, e.message, e.error_code, request_id);
    add_rate_limit_headers(response.headers_mut(), &shared.rate_limit(0, 0));
    response
}

/// The request is accepted like a real one: key, version and body are checked, then a normal
/// reply is served, which the fault may break.
fn serve_checked(shared: &Shared, headers: &HeaderMap, bytes: &[u8], fault: Fault, request_id: &str) -> Served {
    if let Err(failure) = check_headers(shared, headers) {
        return served(failure.respond(request_id));
    }
    let req = match parse_body(bytes, true) {
        Ok(r) => r,
        Err(message) => {
            let status = StatusCode::BAD_REQUEST;
            let mut response = error_response(status, "invalid_request_error", &message, None, request_id);
            add_rate_limit_headers(response.headers_mut(), &shared.rate_limit(0, 0));
            return served(response);
        }
    };
    if fault == Fault::StreamError && !req.stream {
        // A non-streaming request cannot get an error event after its 200: the same error as
        // a 529 instead.
        return served(api_error(shared, OVERLOADED, request_id));
    }
    let text = if fault == Fault::WrongText { WRONG_TEXT.to_owned() } else { shared.reply() };
    let (text, output_tokens, stop_reason) = reply_within(&text, req.max_tokens);
    let rate_limits = shared.rate_limit(req.input_tokens, output_tokens);
    let id = new_id(shared, "msg_01");
    let reply = MessageReply {
        id: &id,
        model: &req.model,
        input_tokens: req.input_tokens,
        text: &text,
        output_tokens,
        stop_reason,
    };
    let mut response = if req.stream { stream_reply(&reply, fault) } else { json_reply(&reply, fault) };
    add_rate_limit_headers(response.headers_mut(), &rate_limits);
    served(with_request_id(response, request_id))
}

/// `POST /v1/messages/count_tokens`.
pub(super) async fn count_tokens(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
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

/// `GET /v1/models`.
pub(super) async fn models(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let request_id = new_id(&shared, "req_011C");
    let response = match check_headers(&shared, &headers) {
        Err(failure) => failure.respond(&request_id),
        Ok(()) => with_request_id(json_response(StatusCode::OK, &models::list()), &request_id),
    };
    record_plain(&shared, Endpoint::Models, &headers, &request_id, &response);
    response
}

/// `GET /v1/models/{id}`.
pub(super) async fn model(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let request_id = new_id(&shared, "req_011C");
    let response = match check_headers(&shared, &headers) {
        Err(failure) => failure.respond(&request_id),
        Ok(()) => match models::find(&id) {
            Some(model) => with_request_id(json_response(StatusCode::OK, &model), &request_id),
            None => {
                error_response(StatusCode::NOT_FOUND, "not_found_error", &format!("model: {id}"), None, &request_id)
            }
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
pub(super) async fn not_found(State(shared): State<Arc<Shared>>) -> Response {
    let request_id = new_id(&shared, "req_011C");
    error_response(StatusCode::NOT_FOUND, "not_found_error", "Not Found", None, &request_id)
}

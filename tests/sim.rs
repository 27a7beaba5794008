//! The simulator seen from a real HTTP client (reqwest): the API's shapes and headers, every
//! fault, the three ways of choosing one, and the control routes.

mod common;

use std::time::{Duration, Instant};

use claudewatch::sim::statuspage::{MAX_COMPONENTS, MAX_INCIDENTS, MAX_UPDATES, SimState};
use claudewatch::sim::{Fault, MAX_SCRIPTED, RateLimits, Scenario, SimHandle, Simulator, Source, Step};
use serde_json::{Value, json};

const BODY: &str =
    r#"{"model":"claude-haiku-4-5","max_tokens":16,"messages":[{"role":"user","content":"Reply with the word OK"}]}"#;
const STREAM_BODY: &str = r#"{"model":"claude-haiku-4-5","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"Reply with the word OK"}]}"#;

async fn start() -> SimHandle {
    Simulator::default().seed(1).start().await.expect("simulator starts")
}

fn post(sim: &SimHandle, body: &'static str) -> reqwest::RequestBuilder {
    common::client()
        .post(format!("{}/v1/messages", sim.url()))
        .header("x-api-key", "test-key")
        .header("anthropic-version", "2023-06-01")
        .header("content-type", "application/json")
        .body(body)
}

async fn json_of(r: reqwest::Response) -> Value {
    let text = r.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The io::ErrorKind in an error's source chain (the first io::Error found).
fn io_kind(err: &reqwest::Error) -> Option<std::io::ErrorKind> {
    claudewatch::error::chain(err).find_map(|e| e.downcast_ref::<std::io::Error>()).map(std::io::Error::kind)
}

/// The SSE event names of a stream body.
fn event_names(body: &str) -> Vec<String> {
    body.lines().filter_map(|l| l.strip_prefix("event: ")).map(str::to_owned).collect()
}

#[tokio::test]
async fn a_normal_reply_has_the_api_shape_and_headers() {
    let sim = start().await;
    let r = post(&sim, BODY).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    let request_id = h["request-id"].to_str().unwrap().to_owned();
    assert!(request_id.starts_with("req_"), "{request_id}");
    assert_eq!(h["content-type"], "application/json");
    for resource in ["requests", "tokens", "input-tokens", "output-tokens"] {
        let limit: u64 = h[format!("anthropic-ratelimit-{resource}-limit").as_str()].to_str().unwrap().parse().unwrap();
        let remaining: u64 =
            h[format!("anthropic-ratelimit-{resource}-remaining").as_str()].to_str().unwrap().parse().unwrap();
        assert!(remaining <= limit && limit > 0, "{resource}: {remaining}/{limit}");
        let reset = h[format!("anthropic-ratelimit-{resource}-reset").as_str()].to_str().unwrap();
        humantime::parse_rfc3339(reset).unwrap_or_else(|e| panic!("{resource} reset {reset:?}: {e}"));
    }
    assert_eq!(h["anthropic-ratelimit-requests-remaining"], "3999");
    let body = json_of(r).await;
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "claude-haiku-4-5");
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(body["content"], json!([{"type": "text", "text": "OK"}]));
    assert_eq!(body["stop_reason"], "end_turn");
    assert!(body["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(body["usage"]["output_tokens"], 1);

    let stats = sim.stats();
    assert_eq!((stats.requests, stats.fault(Fault::Ok), stats.status(200)), (1, 1, 1));
    assert_eq!(stats.source(Source::Scenario), 1);
    let log = sim.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].request_id, request_id);
    sim.stop().await;
}

#[tokio::test]
async fn a_stream_carries_the_real_event_sequence() {
    let sim = start().await;
    let r = post(&sim, STREAM_BODY).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream; charset=utf-8");
    assert!(r.headers().contains_key("request-id"));
    assert!(r.headers().contains_key("anthropic-ratelimit-requests-remaining"));
    let body = r.text().await.unwrap();
    assert_eq!(
        event_names(&body),
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let data: Vec<Value> =
        body.lines().filter_map(|l| l.strip_prefix("data: ")).map(|d| serde_json::from_str(d).unwrap()).collect();
    assert_eq!(data[0]["message"]["content"], json!([]));
    assert_eq!(data[3]["delta"], json!({"type": "text_delta", "text": "OK"}));
    assert_eq!(data[5]["delta"]["stop_reason"], "end_turn");
    assert_eq!(data[5]["usage"]["output_tokens"], 1);
    assert!(sim.requests()[0].stream);
    sim.stop().await;
}

#[tokio::test]
async fn reset_is_a_real_econnreset() {
    let sim = start().await;
    sim.script([Fault::Reset]);
    let err = post(&sim, BODY).send().await.expect_err("a reset is an error");
    assert_eq!(io_kind(&err), Some(std::io::ErrorKind::ConnectionReset), "{err:?}");
    // The next request is back to the scenario, on a fresh connection.
    assert_eq!(post(&sim, BODY).send().await.unwrap().status(), 200);
    let stats = sim.stats();
    assert_eq!((stats.fault(Fault::Reset), stats.no_status(), stats.status(200)), (1, 1, 1));
    assert_eq!(stats.source(Source::Script), 1);
    sim.stop().await;
}

#[tokio::test]
async fn every_http_fault_has_its_status_body_and_headers() {
    // fault, status, error.type (None: not JSON), retry-after
    let table: [(Fault, u16, Option<&str>, Option<&str>); 11] = [
        (Fault::Overloaded, 529, Some("overloaded_error"), None),
        (Fault::Unavailable, 503, Some("api_error"), None),
        (Fault::RateLimited, 429, Some("rate_limit_error"), Some("1")),
        (Fault::RateLimitedNoRetryAfter, 429, Some("rate_limit_error"), None),
        (Fault::SpendLimit, 429, Some("rate_limit_error"), None),
        (Fault::ServerError, 500, Some("api_error"), None),
        (Fault::BadGateway, 502, None, None),
        (Fault::GatewayTimeout, 504, Some("timeout_error"), None),
        (Fault::BadRequest, 400, Some("invalid_request_error"), None),
        (Fault::Unauthorized, 401, Some("authentication_error"), None),
        (Fault::Forbidden, 403, Some("permission_error"), None),
    ];
    let sim = start().await;
    sim.script(table.iter().map(|(f, ..)| *f));
    for (fault, status, kind, retry_after) in table {
        let r = post(&sim, BODY).send().await.unwrap();
        assert_eq!(r.status(), status, "{fault}");
        assert_eq!(r.headers().get("retry-after").map(|v| v.to_str().unwrap()), retry_after, "{fault}");
        let request_id = r.headers().get("request-id").map(|v| v.to_str().unwrap().to_owned());
        let text = r.text().await.unwrap();
        match kind {
            Some(kind) => {
                let body: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(body["type"], "error", "{fault}");
                assert_eq!(body["error"]["type"], kind, "{fault}");
                assert!(!body["error"]["message"].as_str().unwrap().is_empty(), "{fault}");
                assert_eq!(body["request_id"].as_str(), request_id.as_deref(), "{fault}");
                if fault == Fault::SpendLimit {
                    assert_eq!(body["error"]["details"]["error_code"], "enforced_spend_limit_reached");
                }
            }
            None => {
                assert!(text.starts_with("<html>") && text.contains("502 Bad Gateway"), "{text}");
                assert!(request_id.is_none(), "the edge's 502 has no request-id");
            }
        }
        assert_eq!(sim.stats().fault(fault), 1, "{fault}");
    }
    let stats = sim.stats();
    assert_eq!((stats.requests, stats.script_remaining, stats.status(429)), (11, 0, 3));
    sim.stop().await;
}

#[tokio::test]
async fn retry_after_and_latency_come_from_the_step() {
    let sim = start().await;
    sim.script([
        Step::new(Fault::RateLimited).retry_after(7),
        Step::new(Fault::Overloaded).retry_after(3),
        Step::new(Fault::Ok).latency(Duration::from_millis(300)),
    ]);
    let r = post(&sim, BODY).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["retry-after"].to_str().unwrap()), (429, "7"));
    let r = post(&sim, BODY).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["retry-after"].to_str().unwrap()), (529, "3"));
    let started = Instant::now();
    let r = post(&sim, BODY).send().await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(r.status(), 200);
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(sim.requests()[2].latency_seconds, 0.3);
    sim.stop().await;
}

#[tokio::test]
async fn hang_outlasts_the_client_timeout_and_ends_on_stop() {
    let sim = start().await;
    sim.script([Fault::Hang]);
    let started = Instant::now();
    let err = post(&sim, BODY).timeout(Duration::from_millis(400)).send().await.expect_err("hangs");
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(400));

    // A hang in flight does not hold up stop().
    sim.script([Fault::Hang]);
    let request = tokio::spawn(post(&sim, BODY).send());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    sim.stop().await;
    assert!(started.elapsed() < Duration::from_secs(3), "stop took {:?}", started.elapsed());
    let result = tokio::time::timeout(Duration::from_secs(3), request).await.expect("the hung request ends").unwrap();
    assert!(result.is_err(), "the hung request gets no answer: {result:?}");
}

#[tokio::test]
async fn content_faults_break_the_body_not_the_status() {
    let sim = start().await;
    sim.script([Fault::InvalidJson, Fault::WrongText, Fault::CloseMidBody]);

    let r = post(&sim, BODY).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "invalid_json parsed: {text}");

    let body = json_of(post(&sim, BODY).send().await.unwrap()).await;
    let reply = body["content"][0]["text"].as_str().unwrap();
    assert!(!reply.to_lowercase().contains("ok"), "{reply}");

    let r = post(&sim, BODY).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let err = r.text().await.expect_err("the body breaks off");
    assert!(err.is_body() || err.is_decode(), "{err:?}");
    sim.stop().await;
}

#[tokio::test]
async fn stream_faults() {
    let sim = start().await;
    sim.script([Fault::StreamError, Fault::CloseMidBody, Fault::InvalidJson, Fault::WrongText]);

    let r = post(&sim, STREAM_BODY).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert_eq!(event_names(&body), ["message_start", "content_block_start", "ping", "error"]);
    let last: Value =
        serde_json::from_str(body.lines().filter_map(|l| l.strip_prefix("data: ")).next_back().unwrap()).unwrap();
    assert_eq!(last, json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}));

    let mut r = post(&sim, STREAM_BODY).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let mut got = Vec::new();
    let err = loop {
        match r.chunk().await {
            Ok(Some(c)) => got.extend_from_slice(&c),
            Ok(None) => panic!("the stream ended cleanly: {}", String::from_utf8_lossy(&got)),
            Err(e) => break e,
        }
    };
    assert!(err.is_body() || err.is_decode(), "{err:?}");
    assert!(String::from_utf8_lossy(&got).contains("event: message_start"));

    let body = post(&sim, STREAM_BODY).send().await.unwrap().text().await.unwrap();
    let data = body.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    assert!(serde_json::from_str::<Value>(data).is_err(), "{data}");

    let body = post(&sim, STREAM_BODY).send().await.unwrap().text().await.unwrap();
    assert!(!body.contains("\"text\":\"OK\""), "{body}");
    assert!(body.contains("text_delta"));

    // A stream_error on a non-streaming request is the same error before the body: a 529.
    sim.script([Fault::StreamError]);
    assert_eq!(post(&sim, BODY).send().await.unwrap().status(), 529);
    sim.stop().await;
}

#[tokio::test]
async fn key_version_and_body_are_checked_like_the_api() {
    let sim = Simulator::default().api_key("right-key").start().await.unwrap();
    let client = common::client();
    let url = format!("{}/v1/messages", sim.url());
    let build = |key: Option<&str>, version: Option<&str>, body: &str| {
        let mut r = client.post(&url).body(body.to_owned());
        if let Some(k) = key {
            r = r.header("x-api-key", k);
        }
        if let Some(v) = version {
            r = r.header("anthropic-version", v);
        }
        r
    };
    // key, version, body, status, error.type
    type Case<'a> = (Option<&'a str>, Option<&'a str>, &'a str, u16, &'a str);
    let cases: [Case; 6] = [
        (None, Some("2023-06-01"), BODY, 401, "authentication_error"),
        (Some("wrong-key"), Some("2023-06-01"), BODY, 401, "authentication_error"),
        (Some("right-key"), None, BODY, 400, "invalid_request_error"),
        (Some("right-key"), Some("1999-01-01"), BODY, 400, "invalid_request_error"),
        (Some("right-key"), Some("2023-06-01"), "{\"model\": ", 400, "invalid_request_error"),
        (Some("right-key"), Some("2023-06-01"), r#"{"model":"m","messages":[]}"#, 400, "invalid_request_error"),
    ];
    for (key, version, body, status, kind) in cases {
        let r = build(key, version, body).send().await.unwrap();
        assert_eq!(r.status(), status, "{key:?} {version:?} {body}");
        assert!(r.headers().contains_key("request-id"));
        let v = json_of(r).await;
        assert_eq!(v["error"]["type"], kind, "{v}");
    }
    assert_eq!(build(Some("right-key"), Some("2023-06-01"), BODY).send().await.unwrap().status(), 200);
    // Garbage bytes never break it.
    let r = client.post(&url).header("x-api-key", "right-key").header("anthropic-version", "2023-06-01");
    let r = r.body(vec![0xff, 0xfe, 0x00, 0x7b]).send().await.unwrap();
    assert_eq!(r.status(), 400);
    sim.stop().await;
}

#[tokio::test]
async fn the_fault_header_picks_one_request() {
    let sim = start().await;
    sim.script([Fault::ServerError]);
    let r = post(&sim, BODY).header("x-claudewatch-sim-fault", "overloaded").send().await.unwrap();
    assert_eq!(r.status(), 529, "the header wins over the script");
    let r = post(&sim, BODY)
        .header("x-claudewatch-sim-fault", "429")
        .header("x-claudewatch-sim-retry-after", "4")
        .send()
        .await
        .unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["retry-after"].to_str().unwrap()), (429, "4"));
    let err = post(&sim, BODY).header("x-claudewatch-sim-fault", "reset").send().await.unwrap_err();
    assert_eq!(io_kind(&err), Some(std::io::ErrorKind::ConnectionReset));
    let started = Instant::now();
    let r = post(&sim, BODY).header("x-claudewatch-sim-latency", "250ms").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(250));

    let r = post(&sim, BODY).header("x-claudewatch-sim-fault", "explode").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let msg = json_of(r).await["error"]["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("x-claudewatch-sim-fault") && msg.contains("explode"), "{msg}");

    assert_eq!(post(&sim, BODY).send().await.unwrap().status(), 500, "the script was left for this request");
    let stats = sim.stats();
    assert_eq!((stats.source(Source::Header), stats.source(Source::Script)), (5, 1));
    sim.stop().await;
}

#[tokio::test]
async fn control_routes_drive_the_same_state() {
    let sim = start().await;
    let client = common::client();
    let url = |p: &str| format!("{}{p}", sim.url());

    let r = client
        .post(url("/_sim/script"))
        .body(r#"[{"fault": "overloaded", "count": 2}, "reset", {"fault": "ok", "latency": "10ms"}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json_of(r).await["queued"], 4);
    let script = json_of(client.get(url("/_sim/script")).send().await.unwrap()).await;
    assert_eq!(script["steps"][0], json!({"fault": "overloaded", "count": 2}));

    let r = client.post(url("/_sim/script")).body(r#"{"steps": ["server_error"], "replace": true}"#).send().await;
    assert_eq!(json_of(r.unwrap()).await["queued"], 1);
    assert_eq!(post(&sim, BODY).send().await.unwrap().status(), 500);

    for bad in [r#"["explode"]"#, "not json", r#"{"steps": "reset"}"#, r#"[{"fault": "reset", "count": -1}]"#] {
        let r = client.post(url("/_sim/script")).body(bad).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(json_of(r).await["error"]["type"], "invalid_request_error");
    }

    let stats = json_of(client.get(url("/_sim/stats")).send().await.unwrap()).await;
    assert_eq!(stats["requests"], 1);
    assert_eq!(stats["by_fault"]["server_error"], 1);
    assert_eq!(stats["by_fault"]["reset"], 0, "every fault is listed");
    assert_eq!(stats["scenario"], "healthy");
    let log = json_of(client.get(url("/_sim/requests")).send().await.unwrap()).await;
    assert_eq!(log["requests"][0]["fault"], "server_error");
    assert_eq!(log["requests"][0]["source"], "script");
    assert_eq!(log["requests"][0]["status"], 500);

    client.post(url("/_sim/script")).body(r#"["reset"]"#).send().await.unwrap();
    let reset = json_of(client.post(url("/_sim/reset")).send().await.unwrap()).await;
    assert_eq!((reset["requests"].as_u64(), reset["script_remaining"].as_u64()), (Some(0), Some(0)));

    let r = client.put(url("/_sim/scenario")).body("econnreset-wave").send().await.unwrap();
    assert_eq!(json_of(r).await["phase"], "baseline");
    let r = client.put(url("/_sim/scenario")).body("no-such").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let toml = "name = \"all-529\"\n[[phase]]\nname = \"storm\"\nduration = \"1m\"\nfaults = { overloaded = 1.0 }\n";
    let r = client.put(url("/_sim/scenario")).body(toml).send().await.unwrap();
    assert_eq!(json_of(r).await["scenario"]["name"], "all-529");
    assert_eq!(post(&sim, BODY).send().await.unwrap().status(), 529);
    let r = client.put(url("/_sim/scenario")).body("name = \"x\"\n[[phase]]\n").send().await.unwrap();
    assert_eq!(r.status(), 400);

    assert_eq!(client.get(url("/_sim/health")).send().await.unwrap().status(), 200);
    let r = client.get(url("/v2/nothing")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(json_of(r).await["error"]["type"], "not_found_error");
    sim.stop().await;
}

#[tokio::test]
async fn models_and_count_tokens_answer_without_faults() {
    let sim = start().await;
    sim.script([Fault::Reset]);
    let client = common::client();
    let get = |p: &str| {
        client.get(format!("{}{p}", sim.url())).header("x-api-key", "k").header("anthropic-version", "2023-06-01")
    };
    let models = json_of(get("/v1/models").send().await.unwrap()).await;
    assert_eq!(models["has_more"], false);
    let first = models["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(models["first_id"], first.as_str());
    assert_eq!(models["data"][0]["type"], "model");
    assert_eq!(json_of(get(&format!("/v1/models/{first}")).send().await.unwrap()).await["id"], first.as_str());
    assert_eq!(get("/v1/models/claude-nonexistent").send().await.unwrap().status(), 404);

    let r = client
        .post(format!("{}/v1/messages/count_tokens", sim.url()))
        .header("x-api-key", "k")
        .header("anthropic-version", "2023-06-01")
        .body(r#"{"model":"m","messages":[{"role":"user","content":"hello world"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(json_of(r).await["input_tokens"].as_u64().unwrap() > 0);
    let stats = sim.stats();
    assert_eq!(stats.script_remaining, 1, "the script waits for a messages request");
    assert_eq!(stats.requests, 4);
    sim.stop().await;
}

#[tokio::test]
async fn a_fast_econnreset_wave_rises_and_falls() {
    // 10 scenario minutes in 10 s. Each request is attributed to a phase by when the simulator
    // itself read it (its request log), not by when the client sent it, so a slow machine moves
    // no request across a phase boundary.
    const SCALE: f64 = 60.0;
    let sim =
        Simulator::new(Scenario::builtin("econnreset-wave").unwrap()).time_scale(SCALE).seed(3).start().await.unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(11) {
        let _ = post(&sim, BODY).send().await;
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    // The built-in timeline: baseline 1m, onset 2m, peak 3m, recovery 2m, then recovered.
    let phase_of = |scenario_seconds: f64| match scenario_seconds {
        t if t < 60.0 => "baseline",
        t if t < 180.0 => "onset",
        t if t < 360.0 => "peak",
        t if t < 480.0 => "recovery",
        _ => "recovered",
    };
    let mut by_phase: std::collections::BTreeMap<&str, (u32, u32)> = Default::default();
    let log = sim.requests();
    assert!(log.len() < 1000, "the request log holds the whole run: {}", log.len());
    for r in &log {
        let e = by_phase.entry(phase_of(r.at_seconds * SCALE)).or_default();
        e.0 += 1;
        e.1 += u32::from(r.fault == Fault::Reset);
    }
    let rate = |p: &str| {
        let (n, resets) = by_phase.get(p).copied().unwrap_or_default();
        assert!(n >= 5, "too few requests in {p} to judge: {by_phase:?}");
        f64::from(resets) / f64::from(n)
    };
    assert!(rate("baseline") == 0.0, "no resets before the wave: {by_phase:?}");
    assert!(rate("peak") > 0.6, "{by_phase:?}");
    assert!(rate("recovered") == 0.0, "no resets once recovered: {by_phase:?}");
    sim.stop().await;
}

/// Runs `claudewatch simulate ARGS` and returns the child with the URL it printed.
fn spawn_simulate(args: &[&str]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(common::binary())
        .arg("simulate")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("claudewatch simulate starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(10)).expect("the simulator prints its URL");
    (child, line.trim().to_owned())
}

#[tokio::test]
async fn the_simulate_command_serves_a_scenario_and_stops_on_sigterm() {
    let (mut child, url) = spawn_simulate(&["--listen", "127.0.0.1:0", "--scenario", "rehearsal", "--seed", "5"]);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let client = common::client();
    let stats = json_of(client.get(format!("{url}/_sim/stats")).send().await.unwrap()).await;
    assert_eq!((stats["scenario"].as_str(), stats["phase"].as_str()), (Some("rehearsal"), Some("ok")));
    let r = client
        .post(format!("{url}/v1/messages"))
        .header("x-api-key", "k")
        .header("anthropic-version", "2023-06-01")
        .body(BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "simulate did not stop within 5 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}

#[test]
fn the_simulate_command_rejects_a_bad_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "name = \"bad\"\n[[phase]]\nname = \"a\"\nduration = \"1m\"\nfaults = { reset = 2 }\n")
        .unwrap();
    for (scenario, want) in [(file.to_str().unwrap(), "bad.toml"), ("no-such-scenario", "econnreset-wave")] {
        let out = std::process::Command::new(common::binary())
            .args(["simulate", "--listen", "127.0.0.1:0", "--scenario", scenario])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{scenario}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(want), "{scenario}: {stderr}");
    }
}

#[tokio::test]
async fn garbage_gets_a_4xx_never_a_crash() {
    let sim = start().await;
    let client = common::client();
    let huge = u64::MAX.to_string();
    let script_bodies = [
        format!(r#"[{{"fault": "reset", "count": {huge}}}, {{"fault": "reset", "count": {huge}}}]"#),
        r#"[{"fault": "ok", "latency": {"median": "1s", "p99": "1ms"}}]"#.to_owned(),
        r#"[{"fault": "ok", "latency": "9999999h"}]"#.to_owned(),
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".to_owned(),
        "\u{0}\u{1}".to_owned(),
    ];
    let mut statuses = Vec::new();
    for body in &script_bodies {
        statuses
            .push(client.post(format!("{}/_sim/script", sim.url())).body(body.clone()).send().await.unwrap().status());
    }
    assert!(statuses.iter().all(|s| *s == 400), "huge counts saturate and are refused: {statuses:?}");
    assert_eq!(sim.stats().script_remaining, 0);

    let message_bodies: [&[u8]; 7] = [
        b"",
        b"null",
        b"{\"model\": 5}",
        b"{\"model\":\"m\",\"max_tokens\":1e400,\"messages\":[]}",
        b"{\"model\":\"m\",\"max_tokens\":-1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        b"{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":{\"deep\":[[[[[[[[[]]]]]]]]]}}]}",
        &[0xc3, 0x28, 0xa0, 0xa1],
    ];
    for body in message_bodies {
        let r = post(&sim, "").body(body.to_vec()).send().await.unwrap();
        assert_eq!(r.status(), 400, "{:?}", String::from_utf8_lossy(body));
        assert_eq!(json_of(r).await["error"]["type"], "invalid_request_error");
    }
    for (name, value) in [
        ("x-claudewatch-sim-latency", "soon"),
        ("x-claudewatch-sim-latency", "99999h"),
        ("x-claudewatch-sim-retry-after", "-3"),
        ("x-claudewatch-sim-fault", ""),
    ] {
        let r = post(&sim, BODY).header(name, value).send().await.unwrap();
        assert_eq!(r.status(), 400, "{name}: {value}");
    }
    // Still serving.
    assert_eq!(post(&sim, BODY).send().await.unwrap().status(), 200);
    sim.stop().await;
}

/// Review finding: limits whose products overflow u64 made every answer panic. The control
/// route refuses them with a clear message, and limits set from code (unchecked) still answer.
#[tokio::test]
async fn huge_rate_limits_are_refused_and_never_panic() {
    let sim = start().await;
    let client = common::client();
    let toml = "name = \"huge\"\nrate_limits = { input_tokens = 10000000000, output_tokens = 10000000000 }\n\
                [[phase]]\nname = \"a\"\nduration = \"1m\"\n";
    let r = client.put(format!("{}/_sim/scenario", sim.url())).body(toml).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let msg = json_of(r).await["error"]["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("rate_limits.input_tokens = 10000000000") && msg.contains("1000000000"), "{msg}");
    assert_eq!(sim.stats().scenario, "healthy", "the refused scenario was not installed");

    let mut scenario = Scenario::healthy();
    scenario.rate_limits = RateLimits { requests: u64::MAX, input_tokens: u64::MAX, output_tokens: u64::MAX };
    sim.set_scenario(scenario);
    for body in [BODY, STREAM_BODY] {
        let r = post(&sim, body).send().await.expect("an answer, not a dropped connection");
        assert_eq!(r.status(), 200);
        let h = r.headers();
        assert_eq!(h["anthropic-ratelimit-input-tokens-limit"], u64::MAX.to_string().as_str());
        let tokens: u64 = h["anthropic-ratelimit-tokens-remaining"].to_str().unwrap().parse().unwrap();
        assert!(tokens > u64::MAX / 2, "{tokens}");
        r.text().await.unwrap();
    }
    sim.stop().await;
}

/// Review finding: repeated `POST /_sim/script` grew the queue without bound.
#[tokio::test]
async fn the_script_queue_is_bounded() {
    let sim = start().await;
    let client = common::client();
    let push = |body: String| client.post(format!("{}/_sim/script", sim.url())).body(body).send();

    let half = MAX_SCRIPTED / 2;
    for _ in 0..2 {
        let r = push(format!(r#"[{{"fault": "overloaded", "count": {half}}}]"#)).await.unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(sim.stats().script_remaining, MAX_SCRIPTED);
    let r = push(r#"["reset"]"#.to_owned()).await.unwrap();
    assert_eq!(r.status(), 400, "one step beyond the cap");
    let msg = json_of(r).await["error"]["message"].as_str().unwrap().to_owned();
    assert!(msg.contains(&format!("at most {MAX_SCRIPTED} steps")) && msg.contains("nothing was added"), "{msg}");
    assert_eq!(sim.stats().script_remaining, MAX_SCRIPTED, "a refused script adds nothing");

    // A refused replacement keeps the old script; an accepted one starts over.
    let too_many = MAX_SCRIPTED + 1;
    let r = push(format!(r#"{{"steps": [{{"fault": "reset", "count": {too_many}}}], "replace": true}}"#)).await;
    assert_eq!(r.unwrap().status(), 400);
    assert_eq!(sim.stats().script_remaining, MAX_SCRIPTED);
    let r = push(r#"{"steps": ["server_error"], "replace": true}"#.to_owned()).await.unwrap();
    assert_eq!(json_of(r).await["queued"], 1);
    assert_eq!(post(&sim, BODY).send().await.unwrap().status(), 500);

    // Code is trusted: a step for good is still possible from a test.
    sim.script_repeat(Fault::Overloaded, u64::MAX);
    assert_eq!(sim.stats().script_remaining, u64::MAX);
    sim.stop().await;
}

/// Review finding: the default probe model was not among the listed models.
#[tokio::test]
async fn models_are_listed_newest_first_and_aliases_resolve() {
    let sim = start().await;
    let client = common::client();
    let get = |p: &str| {
        client.get(format!("{}{p}", sim.url())).header("x-api-key", "k").header("anthropic-version", "2023-06-01")
    };
    let models = json_of(get("/v1/models").send().await.unwrap()).await;
    let data = models["data"].as_array().unwrap();
    let ids: Vec<&str> = data.iter().map(|m| m["id"].as_str().unwrap()).collect();
    let haiku_5_5 = ids.iter().position(|id| *id == "claude-haiku-5-5").expect("claude-haiku-5-5 listed");
    let haiku_4_5 = ids.iter().position(|id| id.starts_with("claude-haiku-4-5-")).expect("claude-haiku-4-5 listed");
    assert!(haiku_5_5 < haiku_4_5, "{ids:?}");
    let created: Vec<_> = data
        .iter()
        .map(|m| humantime::parse_rfc3339(m["created_at"].as_str().unwrap()).expect("created_at is RFC 3339"))
        .collect();
    assert!(created.windows(2).all(|w| w[0] > w[1]), "newest first: {models}");
    assert_eq!(models["first_id"], ids[0]);
    assert_eq!(models["last_id"], ids[ids.len() - 1]);

    let one = json_of(get("/v1/models/claude-haiku-5-5").send().await.unwrap()).await;
    assert_eq!(one["id"], ids[haiku_5_5], "an undated id names itself");
    assert_eq!(one["display_name"], "Claude Haiku 5.5");
    let aliased = json_of(get("/v1/models/claude-haiku-4-5").send().await.unwrap()).await;
    assert_eq!(aliased["id"], ids[haiku_4_5], "an older alias resolves to its dated id");
    sim.stop().await;
}

/// A status-page control call. Reuse `client` across calls: building one is the slow part in
/// a debug build.
async fn status_control(
    client: &reqwest::Client,
    sim: &SimHandle,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let request = client.request(method, format!("{}{path}", sim.url()));
    let request = if body.is_null() { request } else { request.body(body.to_string()) };
    let r = request.send().await.unwrap();
    (r.status().as_u16(), json_of(r).await)
}

/// Review findings: fault statuses above 599 were accepted, and the control routes could grow
/// the page without bound. Also drives the page from code through `SimHandle::status_page`.
#[tokio::test]
async fn the_status_page_control_routes_are_bounded() {
    use reqwest::Method;
    let sim = start().await;
    let client = common::client();

    for (status, want) in [(399, 400), (600, 400), (999, 400), (400, 200), (599, 200)] {
        let (got, body) = status_control(
            &client,
            &sim,
            Method::PUT,
            "/_sim/status/fault",
            json!({"kind": "status", "status": status}),
        )
        .await;
        assert_eq!(got, want, "status {status}: {body}");
        if want == 400 {
            assert!(body["error"]["message"].as_str().unwrap().contains("400-599"), "{body}");
        }
    }
    status_control(&client, &sim, Method::DELETE, "/_sim/status/fault", Value::Null).await;

    // Components first, while the page (whose state every control answer returns) is small: 5
    // by default; updating an existing one stays possible at the cap.
    let (_, state) = status_control(&client, &sim, Method::GET, "/_sim/status", Value::Null).await;
    let defaults = state["components"].as_array().unwrap().len();
    let put = |name: String| {
        let path = format!("/_sim/status/components/{name}");
        let (client, sim) = (&client, &sim);
        async move { status_control(client, sim, Method::PUT, &path, json!({"status": "operational"})).await }
    };
    for i in defaults..MAX_COMPONENTS {
        assert_eq!(put(format!("c{i}")).await.0, 200, "component {}", i + 1);
    }
    let (got, body) = put("one-too-many".into()).await;
    assert_eq!(got, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains(&format!("{MAX_COMPONENTS} components")), "{body}");
    assert_eq!(put("c10".into()).await.0, 200, "an existing component can still change");

    // Driven from code: what the simulator serves.
    let page = sim.status_page();
    let code = page.open("From code", SimState::Investigating, "Looking.");
    let feed = client.get(format!("{}/history.atom", sim.url())).send().await.unwrap().text().await.unwrap();
    assert!(feed.contains("From code") && feed.contains(&code), "{feed}");

    // Updates: the opening one counts.
    for _ in 2..MAX_UPDATES {
        assert!(page.update(&code, SimState::Update, "more"));
    }
    let updates = format!("/_sim/status/incidents/{code}/updates");
    let (got, _) = status_control(&client, &sim, Method::POST, &updates, json!({"state": "identified"})).await;
    assert_eq!(got, 200, "update number {MAX_UPDATES}");
    let (got, body) = status_control(&client, &sim, Method::POST, &updates, json!({"state": "resolved"})).await;
    assert_eq!(got, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains(&format!("{MAX_UPDATES} updates")), "{body}");

    // Incidents.
    for i in 1..MAX_INCIDENTS - 1 {
        page.open(&format!("bulk {i}"), SimState::Resolved, "x");
    }
    let open = json!({"title": "last one"});
    let (got, _) = status_control(&client, &sim, Method::POST, "/_sim/status/incidents", open.clone()).await;
    assert_eq!(got, 201, "incident number {MAX_INCIDENTS}");
    let (got, body) = status_control(&client, &sim, Method::POST, "/_sim/status/incidents", open.clone()).await;
    assert_eq!(got, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains(&format!("{MAX_INCIDENTS} incidents")), "{body}");
    let (got, _) =
        status_control(&client, &sim, Method::DELETE, &format!("/_sim/status/incidents/{code}"), Value::Null).await;
    assert_eq!(got, 200);
    let (got, _) = status_control(&client, &sim, Method::POST, "/_sim/status/incidents", open).await;
    assert_eq!(got, 201, "room again after a delete");

    sim.stop().await;
}

/// The simulator's feeds read back through the daemon's parsers: what the page holds is what
/// the daemon sees, in both feed formats and in the summary.
#[tokio::test]
async fn rendered_feeds_parse_to_what_the_page_holds() {
    use claudewatch::parse::{self, EntryKind as FeedKind, IncidentState as FeedState, Lifecycle as Phase};

    let sim = start().await;
    let page = sim.status_page();
    let a = page.open("Elevated errors <Opus> & \"Sonnet\"", SimState::Investigating, "Looking into it.\nMore soon.");
    assert!(page.update(&a, SimState::Identified, "Found it."));
    let m = page.open("Database maintenance", SimState::Scheduled, "Planned.");
    assert!(page.update(&m, SimState::InProgress, "Started."));
    let r = page.open("Old", SimState::Investigating, "x");
    assert!(page.update(&r, SimState::Resolved, "Fixed."));
    let labelled = json!({"state": "update", "label": "Mitigated", "text": "after the fact"});
    let path = format!("/_sim/status/incidents/{r}/updates");
    let (status, _) = status_control(&common::client(), &sim, reqwest::Method::POST, &path, labelled).await;
    assert_eq!(status, 200);
    assert!(!page.update("nope", SimState::Resolved, "x"));

    let get = |path: &str| {
        let url = format!("{}{path}", sim.url());
        async move { common::client().get(url).send().await.unwrap().bytes().await.unwrap() }
    };
    for body in [get("/history.atom").await, get("/history.rss").await] {
        let parsed = parse::feed(&body).unwrap();
        let by_id = |id: &str| parsed.incidents.iter().find(|i| i.id == id).unwrap();
        let ia = by_id(&a);
        assert_eq!(ia.title, "Elevated errors <Opus> & \"Sonnet\"");
        assert_eq!((ia.kind, ia.state, ia.phase), (FeedKind::Incident, FeedState::Identified, Phase::Active));
        assert_eq!(ia.updates[1].text, "Looking into it.\nMore soon.");
        assert_eq!(ia.link.as_deref(), Some(format!("{}/incidents/{a}", sim.url()).as_str()));
        assert!(ia.updates[0].at.is_some());
        let im = by_id(&m);
        assert_eq!((im.kind, im.state, im.phase), (FeedKind::Maintenance, FeedState::InProgress, Phase::Active));
        let ir = by_id(&r);
        assert_eq!((ir.state, ir.phase), (FeedState::Unknown, Phase::Ended));
        assert_eq!(ir.updates[0].label, "Mitigated");
    }
    let summary = parse::summary(&get("/api/v2/summary.json").await).unwrap();
    let names: Vec<&str> = summary.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["claude.ai", "Claude Code", "platform.claude.com", "Claude API (api.anthropic.com)"]);
    assert_eq!(summary.incidents.len(), 1);
    assert_eq!(summary.incidents[0].id, a);
    sim.stop().await;
}

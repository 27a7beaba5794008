//! The ingest endpoint over real HTTP: valid events, every kind of bad input, auth, the body
//! limit, the cardinality cap, idempotent resends, and exact totals under concurrent posters.

mod common;

use std::time::Duration;

use common::{BinaryDaemon, Daemon, Metrics, client, config_file, promtool_check_metrics};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const RETRIES: &str = "claudewatch_client_retries_total";
const EXHAUSTED: &str = "claudewatch_client_exhausted_total";
const CALLS: &str = "claudewatch_client_calls_total";
const EVENTS: &str = "claudewatch_ingest_events_total";
const REJECTED: &str = "claudewatch_ingest_rejected_requests_total";
const OVERFLOW: &str = "claudewatch_ingest_overflow_total";

fn config(ingest: &str) -> String {
    format!("[server]\nlisten = \"127.0.0.1:0\"\n\n[ingest]\n{ingest}\n")
}

/// POSTs `body` as JSON with extra headers; returns the status and the parsed JSON answer.
async fn post_with(daemon: &Daemon, body: impl Into<reqwest::Body>, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = client().post(daemon.url("/v1/events")).header("content-type", "application/json");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.body(body).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("answer is not JSON ({e}): {text:?}"));
    (status, value)
}

async fn post(daemon: &Daemon, body: &Value) -> (u16, Value) {
    post_with(daemon, body.to_string(), &[]).await
}

/// Every series of the client families, to show that a refused request changed nothing.
fn client_series(m: &Metrics) -> Vec<(String, f64)> {
    m.samples.iter().filter(|(k, _)| k.starts_with("claudewatch_client_")).map(|(k, v)| (k.clone(), *v)).collect()
}

#[tokio::test]
async fn bounded_series_exist_at_zero_before_any_event() {
    let daemon = Daemon::start(&config("")).await;
    let m = daemon.scrape().await;
    for result in ["accepted", "rejected"] {
        m.assert_value(EVENTS, &[("result", result)], 0.0);
    }
    for reason in ["invalid", "unauthorized", "too_large", "unsupported_media_type", "duplicate"] {
        m.assert_value(REJECTED, &[("reason", reason)], 0.0);
    }
    for label in ["service", "model"] {
        m.assert_value(OVERFLOW, &[("label", label)], 0.0);
    }
    assert!(client_series(&m).is_empty(), "no service series before a service reports");
    daemon.stop().await;
}

/// `[ingest] services`: their series are scraped at 0 before their first event (so that
/// `increase()` counts that event), and they take their place under `max_services`.
#[tokio::test]
async fn listed_services_exist_at_zero_from_start_up() {
    let daemon = Daemon::start(&config("max_services = 3\nservices = [\"checkout\", \"search\"]")).await;
    let m = daemon.scrape().await;
    for service in ["checkout", "search"] {
        for class in ["overloaded", "connection", "rate_limited", "server_error", "timeout", "client_error", "auth"] {
            m.assert_value(RETRIES, &[("service", service), ("class", class)], 0.0);
            m.assert_value(EXHAUSTED, &[("service", service), ("class", class)], 0.0);
        }
        for outcome in ["success", "exhausted", "failure"] {
            m.assert_value(CALLS, &[("service", service), ("outcome", outcome)], 0.0);
        }
        m.assert_value("claudewatch_client_attempts_count", &[("service", service)], 0.0);
    }
    assert!(!m.text.contains("service=\"other\""), "{}", m.text);

    let batch = json!({"events": [
        {"service": "checkout", "outcome": "exhausted", "class": "overloaded", "count": 16},
        {"service": "unlisted", "outcome": "exhausted", "class": "overloaded"},
        {"service": "one-too-many", "outcome": "exhausted", "class": "overloaded"},
    ]});
    assert_eq!(post(&daemon, &batch).await, (202, json!({"accepted": 3})));
    let m = daemon.scrape().await;
    m.assert_value(EXHAUSTED, &[("service", "checkout"), ("class", "overloaded")], 16.0);
    m.assert_value(EXHAUSTED, &[("service", "unlisted"), ("class", "overloaded")], 1.0);
    m.assert_value(EXHAUSTED, &[("service", "other"), ("class", "overloaded")], 1.0);
    m.assert_value(OVERFLOW, &[("label", "service")], 1.0);
    m.assert_value(EXHAUSTED, &[("service", "search"), ("class", "overloaded")], 0.0);
    daemon.stop().await;
}

#[tokio::test]
async fn valid_single_events_and_batches_are_counted_exactly() {
    let daemon = Daemon::start(&config("")).await;

    let (status, body) =
        post(&daemon, &json!({"service": "checkout", "outcome": "retry", "class": "overloaded", "status": 529})).await;
    assert_eq!((status, body), (202, json!({"accepted": 1})));

    let batch = json!({"events": [
        {"service": "checkout", "outcome": "retry", "class": "overloaded", "count": 4},
        {"service": "checkout", "outcome": "retry", "class": "connection"},
        {"service": "checkout", "outcome": "exhausted", "class": "overloaded", "attempts": 5, "model": "claude-sonnet-4-5"},
        {"service": "checkout", "outcome": "success", "attempts": 3, "count": 10, "model": "claude-sonnet-4-5"},
        {"service": "search", "outcome": "failure", "class": "auth", "status": 401, "attempts": 1},
        {"service": "search", "outcome": "success", "class": "ok"},
    ]});
    let (status, body) = post(&daemon, &batch).await;
    assert_eq!((status, body), (202, json!({"accepted": 6})));

    let m = daemon.scrape().await;
    m.assert_value(RETRIES, &[("service", "checkout"), ("class", "overloaded")], 5.0);
    m.assert_value(RETRIES, &[("service", "checkout"), ("class", "connection")], 1.0);
    m.assert_value(RETRIES, &[("service", "checkout"), ("class", "timeout")], 0.0);
    m.assert_value(RETRIES, &[("service", "search"), ("class", "overloaded")], 0.0);
    m.assert_value(EXHAUSTED, &[("service", "checkout"), ("class", "overloaded")], 1.0);
    assert_eq!(m.sum(EXHAUSTED, &[]), 1.0);
    m.assert_value(CALLS, &[("service", "checkout"), ("outcome", "exhausted")], 1.0);
    m.assert_value(CALLS, &[("service", "checkout"), ("outcome", "success")], 10.0);
    m.assert_value(CALLS, &[("service", "checkout"), ("outcome", "failure")], 0.0);
    m.assert_value(CALLS, &[("service", "search"), ("outcome", "failure")], 1.0);
    m.assert_value(CALLS, &[("service", "search"), ("outcome", "success")], 1.0);
    m.assert_absent(CALLS, &[("service", "checkout"), ("outcome", "retry")]);

    // Attempts: checkout had 1 call with 5 attempts and 10 with 3; search 1 with 1 (the
    // success without `attempts` is not observed).
    let attempts = "claudewatch_client_attempts";
    m.assert_value(&format!("{attempts}_count"), &[("service", "checkout")], 11.0);
    m.assert_value(&format!("{attempts}_sum"), &[("service", "checkout")], 35.0);
    m.assert_value(&format!("{attempts}_bucket"), &[("service", "checkout"), ("le", "3.0")], 10.0);
    m.assert_value(&format!("{attempts}_bucket"), &[("service", "checkout"), ("le", "4.0")], 10.0);
    m.assert_value(&format!("{attempts}_bucket"), &[("service", "checkout"), ("le", "5.0")], 11.0);
    m.assert_value(&format!("{attempts}_bucket"), &[("service", "checkout"), ("le", "+Inf")], 11.0);
    m.assert_value(&format!("{attempts}_count"), &[("service", "search")], 1.0);

    // Models: a family of their own, without service or class.
    let model = "claudewatch_client_model_events_total";
    m.assert_value(model, &[("model", "claude-sonnet-4-5"), ("outcome", "exhausted")], 1.0);
    m.assert_value(model, &[("model", "claude-sonnet-4-5"), ("outcome", "success")], 10.0);
    m.assert_value(model, &[("model", "claude-sonnet-4-5"), ("outcome", "retry")], 0.0);
    assert!(m.series(model).all(|(labels, _)| labels.len() == 2));

    m.assert_value(EVENTS, &[("result", "accepted")], 7.0);
    m.assert_value(EVENTS, &[("result", "rejected")], 0.0);
    assert_eq!(m.sum(REJECTED, &[]), 0.0);
    daemon.stop().await;
}

#[tokio::test]
async fn invalid_events_get_a_400_naming_index_and_field_and_change_nothing() {
    let daemon = Daemon::start(&config("max_batch = 5")).await;
    let (status, _) = post(&daemon, &json!({"service": "warm", "outcome": "retry", "class": "timeout"})).await;
    assert_eq!(status, 202);
    let before = daemon.scrape().await;

    // (body, index, field, start of the message)
    let table: Vec<(Value, Value, Value, &str)> = vec![
        (json!({"outcome": "success"}), json!(null), json!("service"), "service: is required"),
        (
            json!({"service": "bad name", "outcome": "success"}),
            json!(null),
            json!("service"),
            "service: must be 1–64 characters",
        ),
        (
            json!({"service": "a".repeat(65), "outcome": "success"}),
            json!(null),
            json!("service"),
            "service: must be 1–64",
        ),
        (
            json!({"service": "a", "outcome": "meh"}),
            json!(null),
            json!("outcome"),
            "outcome: must be one of retry, exhausted",
        ),
        (
            json!({"service": "a", "outcome": "retry"}),
            json!(null),
            json!("class"),
            "class: is required when outcome is \"retry\"",
        ),
        (
            json!({"service": "a", "outcome": "retry", "class": "ok"}),
            json!(null),
            json!("class"),
            "class: \"ok\" is not a failure class",
        ),
        (
            json!({"service": "a", "outcome": "retry", "class": "boom"}),
            json!(null),
            json!("class"),
            "class: unknown error class \"boom\"",
        ),
        (
            json!({"service": "a", "outcome": "success", "status": 600}),
            json!(null),
            json!("status"),
            "status: must be an HTTP status code from 100 to 599",
        ),
        (
            json!({"service": "a", "outcome": "success", "attempts": 0}),
            json!(null),
            json!("attempts"),
            "attempts: must be the number of attempts",
        ),
        (
            json!({"service": "a", "outcome": "success", "model": "a/b"}),
            json!(null),
            json!("model"),
            "model: must be 1–64 characters",
        ),
        (
            json!({"service": "a", "outcome": "success", "count": 0}),
            json!(null),
            json!("count"),
            "count: must be a count of occurrences from 1 to 1000000",
        ),
        (
            json!({"service": "a", "outcome": "success", "colour": "red"}),
            json!(null),
            json!("colour"),
            "colour: unknown field",
        ),
        (
            json!({"events": [{"service": "a", "outcome": "success"}, {"service": "a", "outcome": "success", "count": "2"}]}),
            json!(1),
            json!("count"),
            "events[1].count: must be an integer",
        ),
        (
            json!({"events": vec![json!({"service": "a", "outcome": "success"}); 6]}),
            json!(null),
            json!("events"),
            "events: holds more than 5 events",
        ),
        (json!([1, 2]), json!(null), json!(null), "body is not an event"),
    ];
    let mut rejected_events = 0.0;
    for (body, index, field, message) in &table {
        let (status, answer) = post(&daemon, body).await;
        assert_eq!(status, 400, "{body} → {answer}");
        let error = &answer["error"];
        assert_eq!(error["code"], "invalid_request", "{answer}");
        assert_eq!(&error["index"], index, "{body} → {answer}");
        assert_eq!(&error["field"], field, "{body} → {answer}");
        let text = error["message"].as_str().unwrap();
        assert!(text.starts_with(message), "{body}: expected {message:?}…, got {text:?}");
        rejected_events += match body.get("events") {
            Some(events) => events.as_array().unwrap().len() as f64,
            None if body.is_object() => 1.0,
            None => 0.0,
        };
    }
    let (status, answer) = post_with(&daemon, "{\"service\": \"a\",", &[]).await;
    assert_eq!(status, 400);
    assert!(answer["error"]["message"].as_str().unwrap().starts_with("body is not valid JSON: EOF"), "{answer}");

    let after = daemon.scrape().await;
    assert_eq!(client_series(&after), client_series(&before), "a refused body counts nothing");
    after.assert_value(EVENTS, &[("result", "accepted")], 1.0);
    after.assert_value(EVENTS, &[("result", "rejected")], rejected_events);
    after.assert_value(REJECTED, &[("reason", "invalid")], table.len() as f64 + 1.0);
    daemon.stop().await;
}

#[tokio::test]
async fn wrong_content_type_is_415_and_counts_nothing() {
    let daemon = Daemon::start(&config("")).await;
    let body = json!({"service": "a", "outcome": "success"}).to_string();
    let http = client();
    for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
        let mut request = http.post(daemon.url("/v1/events")).body(body.clone());
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 415, "{content_type:?}");
        let answer: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(answer["error"]["code"], "unsupported_media_type");
        assert!(answer["error"]["message"].as_str().unwrap().starts_with("Content-Type must be application/json"));
    }
    let (status, _) = post_with(&daemon, body.clone(), &[("content-type", "application/json; charset=utf-8")]).await;
    assert_eq!(status, 202, "parameters after the media type are fine");

    let m = daemon.scrape().await;
    m.assert_value(REJECTED, &[("reason", "unsupported_media_type")], 3.0);
    m.assert_value(EVENTS, &[("result", "accepted")], 1.0);
    daemon.stop().await;
}

/// A body past `max_body_bytes` is refused, whether it declares its length or not; a body past
/// the server-wide 64 KiB default but within the ingest limit is accepted.
#[tokio::test]
async fn the_body_limit_is_the_ingest_limit() {
    let daemon = Daemon::start(&config("max_body_bytes = 200000\nmax_batch = 5000")).await;

    let event = json!({"service": "bulk", "outcome": "retry", "class": "overloaded"});
    let big = json!({"events": vec![event.clone(); 2000]}).to_string();
    assert!(big.len() > claudewatch::http::DEFAULT_BODY_LIMIT && big.len() < 200_000, "{}", big.len());
    let (status, answer) = post_with(&daemon, big, &[]).await;
    assert_eq!((status, answer), (202, json!({"accepted": 2000})));

    let too_big = json!({"events": vec![event.clone(); 4000]}).to_string();
    assert!(too_big.len() > 200_000);
    let (status, answer) = post_with(&daemon, too_big.clone(), &[]).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"]["code"], "too_large");
    assert!(answer["error"]["message"].as_str().unwrap().contains("200000 bytes"), "{answer}");

    // Chunked, with no Content-Length: refused while reading.
    let (status, answer) = post_chunked(&daemon, too_big.as_bytes()).await;
    assert_eq!(status, 413, "{answer}");

    let m = daemon.scrape().await;
    m.assert_value(REJECTED, &[("reason", "too_large")], 2.0);
    m.assert_value(RETRIES, &[("service", "bulk"), ("class", "overloaded")], 2000.0);
    daemon.stop().await;
}

/// Sends `body` with `Transfer-Encoding: chunked` over a raw connection.
async fn post_chunked(daemon: &Daemon, body: &[u8]) -> (u16, Value) {
    let mut stream = tokio::net::TcpStream::connect(daemon.addr).await.unwrap();
    let head = "POST /v1/events HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
                Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(16 * 1024) {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        // The server may answer and close before the whole body is sent.
        if stream.write_all(&frame).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    let status: u16 =
        answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {answer:?}"));
    let json = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    // The answer itself may be chunked: take the JSON object out of it.
    let json = json.find('{').and_then(|start| json.rfind('}').map(|end| &json[start..=end])).unwrap_or("null");
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_flood_of_distinct_services_stays_within_the_cap() {
    let daemon = Daemon::start(&config("max_services = 5\nmax_models = 3\nmax_batch = 1000")).await;
    for round in 0..4 {
        let events: Vec<Value> = (0..500)
            .map(|i| {
                json!({"service": format!("svc-{round}-{i}"), "outcome": "exhausted", "class": "connection",
                            "model": format!("model-{round}-{i}")})
            })
            .collect();
        let (status, _) = post(&daemon, &json!({ "events": events })).await;
        assert_eq!(status, 202);
    }
    let m = daemon.scrape().await;
    let services: std::collections::BTreeSet<String> =
        m.series(EXHAUSTED).map(|(labels, _)| labels["service"].clone()).collect();
    assert_eq!(services.len(), 6, "five services and other: {services:?}");
    assert!(services.contains("other"));
    m.assert_value(EXHAUSTED, &[("service", "other"), ("class", "connection")], 1995.0);
    assert_eq!(m.sum(EXHAUSTED, &[]), 2000.0, "nothing is lost: overflow is counted under other");
    m.assert_value(OVERFLOW, &[("label", "service")], 1995.0);
    m.assert_value(OVERFLOW, &[("label", "model")], 1997.0);
    let models = m.series("claudewatch_client_model_events_total").count();
    assert_eq!(models, 4 * 4, "three models and other, four outcomes each");
    // The whole exposition stays small whatever the flood: ~30 series per service.
    assert!(m.samples.len() < 400, "{} samples", m.samples.len());

    // A known service keeps its own series after the cap is reached.
    let (status, _) =
        post(&daemon, &json!({"service": "svc-0-0", "outcome": "exhausted", "class": "connection"})).await;
    assert_eq!(status, 202);
    daemon.scrape().await.assert_value(EXHAUSTED, &[("service", "svc-0-0"), ("class", "connection")], 2.0);
    daemon.stop().await;
}

#[tokio::test]
async fn an_idempotent_resend_is_accepted_but_counted_once() {
    let daemon = Daemon::start(&config("")).await;
    let batch = json!({"events": [
        {"service": "pay", "outcome": "retry", "class": "rate_limited"},
        {"service": "pay", "outcome": "exhausted", "class": "rate_limited"},
    ]})
    .to_string();
    let key = [("idempotency-key", "9b2f6a3e-5c1d-4e8f-a7b0-3d9c2e1f4a56")];
    assert_eq!(post_with(&daemon, batch.clone(), &key).await, (202, json!({"accepted": 2})));
    assert_eq!(post_with(&daemon, batch.clone(), &key).await, (202, json!({"accepted": 2, "duplicate": true})));
    assert_eq!(
        post_with(&daemon, batch.clone(), &[("idempotency-key", "other-key")]).await,
        (202, json!({"accepted": 2}))
    );
    assert_eq!(post_with(&daemon, batch.clone(), &[]).await, (202, json!({"accepted": 2})), "no key: always counted");

    let (status, answer) = post_with(&daemon, batch.clone(), &[("idempotency-key", &"k".repeat(129))]).await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["field"], "Idempotency-Key");

    let m = daemon.scrape().await;
    m.assert_value(RETRIES, &[("service", "pay"), ("class", "rate_limited")], 3.0);
    m.assert_value(EXHAUSTED, &[("service", "pay"), ("class", "rate_limited")], 3.0);
    m.assert_value(EVENTS, &[("result", "accepted")], 6.0);
    m.assert_value(REJECTED, &[("reason", "duplicate")], 1.0);
    daemon.stop().await;
}

/// Many posters at once while `/metrics` is scraped: no count is lost or doubled, and no scrape
/// ever sees a counter go down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_posters_and_scrapes_give_exact_totals() {
    const POSTERS: usize = 8;
    const REQUESTS: usize = 60;
    const BATCH: usize = 25;
    let daemon = std::sync::Arc::new(Daemon::start(&config("")).await);

    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let scraper = {
        let daemon = daemon.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut last = 0.0;
            let mut scrapes = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let m = daemon.scrape().await;
                let seen = m.get(EVENTS, &[("result", "accepted")]).unwrap();
                assert!(seen >= last, "accepted went from {last} to {seen}");
                last = seen;
                scrapes += 1;
            }
            scrapes
        })
    };

    let mut posters = Vec::new();
    for p in 0..POSTERS {
        let daemon = daemon.clone();
        posters.push(tokio::spawn(async move {
            let service = format!("svc-{}", p % 3);
            for r in 0..REQUESTS {
                let body = if r % 2 == 0 {
                    json!({"service": service, "outcome": "retry", "class": "overloaded", "count": 2})
                } else {
                    let events: Vec<Value> = (0..BATCH)
                        .map(|i| match i % 3 {
                            0 => json!({"service": service, "outcome": "retry", "class": "connection"}),
                            1 => json!({"service": service, "outcome": "exhausted", "class": "connection"}),
                            _ => json!({"service": service, "outcome": "success", "attempts": 2}),
                        })
                        .collect();
                    json!({ "events": events })
                };
                let (status, _) = post(&daemon, &body).await;
                assert_eq!(status, 202);
            }
        }));
    }
    for p in posters {
        p.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let scrapes = scraper.await.unwrap();
    assert!(scrapes > 0);

    let singles = POSTERS * REQUESTS / 2;
    let batches = POSTERS * REQUESTS / 2;
    let per_batch = |k: usize| (0..BATCH).filter(|i| i % 3 == k).count();
    let m = daemon.scrape().await;
    m.assert_value(EVENTS, &[("result", "accepted")], (singles + batches * BATCH) as f64);
    assert_eq!(m.sum(RETRIES, &[("class", "overloaded")]), (singles * 2) as f64);
    assert_eq!(m.sum(RETRIES, &[("class", "connection")]), (batches * per_batch(0)) as f64);
    assert_eq!(m.sum(EXHAUSTED, &[]), (batches * per_batch(1)) as f64);
    assert_eq!(m.sum(CALLS, &[("outcome", "success")]), (batches * per_batch(2)) as f64);
    assert_eq!(m.sum("claudewatch_client_attempts_sum", &[]), (batches * per_batch(2) * 2) as f64);
}

/// Auth, the start-up log and promtool, on the real binary (tokens come from its environment).
#[test]
fn bearer_tokens_on_the_real_binary() {
    let file = config_file(&config("tokens_env = \"CW_TEST_INGEST_TOKENS\""));
    let daemon = BinaryDaemon::spawn(file.path(), &[("CW_TEST_INGEST_TOKENS", "tok-alpha-123, tok-beta-456")]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = format!("http://{}/v1/events", daemon.addr);
    let body = json!({"service": "a", "outcome": "retry", "class": "timeout"}).to_string();
    let send = |auth: Option<&str>| {
        let mut request = client().post(&url).header("content-type", "application/json").body(body.clone());
        if let Some(a) = auth {
            request = request.header("authorization", a);
        }
        rt.block_on(async {
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            let www = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
            (status, www, r.text().await.unwrap())
        })
    };
    for bad in [
        None,
        Some("Bearer tok-alpha-12"),
        Some("Bearer tok-alpha-1234"),
        Some("Basic tok-alpha-123"),
        Some("tok-alpha-123"),
    ] {
        let (status, www, text) = send(bad);
        assert_eq!(status, 401, "{bad:?}: {text}");
        assert_eq!(www.as_deref(), Some("Bearer"));
        assert!(text.contains("\"unauthorized\""), "{text}");
    }
    assert_eq!(send(Some("Bearer tok-alpha-123")).0, 202);
    assert_eq!(send(Some("bearer tok-beta-456")).0, 202);
    // Content-type is checked only once the token is good.
    let unauthenticated_text = rt.block_on(async {
        client().post(&url).header("content-type", "text/plain").body("x").send().await.unwrap().status().as_u16()
    });
    assert_eq!(unauthenticated_text, 401);

    let metrics = rt.block_on(common::scrape(daemon.addr));
    metrics.assert_value(REJECTED, &[("reason", "unauthorized")], 6.0);
    metrics.assert_value(RETRIES, &[("service", "a"), ("class", "timeout")], 2.0);
    assert!(!metrics.text.contains("tok-"), "tokens never reach /metrics");
    let (passed, output) = promtool_check_metrics(&metrics.text);
    assert!(passed, "promtool check metrics failed:\n{output}\n--- metrics ---\n{}", metrics.text);

    let logs = daemon.logs().join("\n");
    assert!(logs.contains("ingest requires a bearer token"), "{logs}");
    assert!(!logs.contains("tok-alpha") && !logs.contains("tok-beta"), "tokens never reach the logs:\n{logs}");
}

/// An `Idempotency-Key` belongs to the client whose token sent it: another client reusing the
/// key (by accident or on purpose) has its own batch counted, and cannot suppress the first
/// client's resend either.
#[test]
fn idempotency_keys_are_scoped_by_token() {
    let file = config_file(&config("tokens_env = \"CW_TEST_INGEST_TOKENS\""));
    let daemon = BinaryDaemon::spawn(file.path(), &[("CW_TEST_INGEST_TOKENS", "tok-alice-1, tok-bob-2")]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = format!("http://{}/v1/events", daemon.addr);
    let send = |token: &str, service: &str| {
        let body = json!({"events": [
            {"service": service, "outcome": "exhausted", "class": "overloaded", "count": 3},
        ]});
        let request = client()
            .post(&url)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .header("idempotency-key", "batch-0001")
            .body(body.to_string());
        rt.block_on(async {
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            (status, serde_json::from_str::<Value>(&r.text().await.unwrap()).unwrap())
        })
    };
    assert_eq!(send("tok-alice-1", "alice"), (202, json!({"accepted": 1})));
    assert_eq!(send("tok-bob-2", "bob"), (202, json!({"accepted": 1})), "bob's batch is not alice's resend");
    assert_eq!(send("tok-alice-1", "alice"), (202, json!({"accepted": 1, "duplicate": true})));
    assert_eq!(send("tok-bob-2", "bob"), (202, json!({"accepted": 1, "duplicate": true})));

    let metrics = rt.block_on(common::scrape(daemon.addr));
    metrics.assert_value(EXHAUSTED, &[("service", "alice"), ("class", "overloaded")], 3.0);
    metrics.assert_value(EXHAUSTED, &[("service", "bob"), ("class", "overloaded")], 3.0);
    metrics.assert_value(REJECTED, &[("reason", "duplicate")], 2.0);
    metrics.assert_value(EVENTS, &[("result", "accepted")], 2.0);
}

#[test]
fn without_tokens_the_log_says_so_and_a_missing_token_variable_refuses_everything() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let body = json!({"service": "a", "outcome": "success"}).to_string();
    let post_status = |addr: std::net::SocketAddr| {
        rt.block_on(async {
            let r = client()
                .post(format!("http://{addr}/v1/events"))
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        })
    };

    let open = config_file(&config(""));
    let daemon = BinaryDaemon::spawn(open.path(), &[]);
    assert_eq!(post_status(daemon.addr), 202);
    let logs = daemon.logs().join("\n");
    assert!(logs.contains("ingest accepts events without authentication"), "{logs}");
    drop(daemon);

    // tokens_env set but the variable missing: fail closed, and /readyz says why.
    let closed = config_file(&config("tokens_env = \"CW_TEST_UNSET_TOKENS\""));
    let daemon = BinaryDaemon::spawn(closed.path(), &[]);
    assert_eq!(post_status(daemon.addr), 401);
    let ready: Value = rt.block_on(async {
        let text = client().get(format!("http://{}/readyz", daemon.addr)).send().await.unwrap().text().await.unwrap();
        serde_json::from_str(&text).unwrap()
    });
    assert_eq!(ready["components"]["ingest"]["state"], "not_configured", "{ready}");
    assert!(ready["components"]["ingest"]["reason"].as_str().unwrap().contains("CW_TEST_UNSET_TOKENS"));
    assert!(daemon.logs().join("\n").contains("unset or empty variable"));
}

#[tokio::test]
async fn a_disabled_endpoint_is_a_404_without_ingest_metrics() {
    let daemon = Daemon::start(&config("enabled = false")).await;
    let response = client()
        .post(daemon.url("/v1/events"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let m = daemon.scrape().await;
    assert!(!m.text.contains("claudewatch_ingest_"), "{}", m.text);
    daemon.stop().await;
}

/// Every refusal is counted, and logged with what the client was told so that an operator who
/// sees `rejected_requests_total` climb has a line to grep; a flood of them is throttled to a
/// line per reason and period, which says how many lines it held back.
#[test]
fn rejections_are_logged_per_reason_and_throttled() {
    const FLOOD: usize = 25;
    let file = config_file(&config(""));
    let daemon = BinaryDaemon::spawn(file.path(), &[]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = format!("http://{}/v1/events", daemon.addr);
    let started = std::time::Instant::now();
    rt.block_on(async {
        for _ in 0..FLOOD {
            let r = client().post(&url).header("content-type", "application/json").body("{not json").send().await;
            assert_eq!(r.unwrap().status(), 400);
        }
        let r = client().post(&url).header("content-type", "text/plain").body("x").send().await.unwrap();
        assert_eq!(r.status(), 415);
    });
    let elapsed = started.elapsed();
    let metrics = rt.block_on(common::scrape(daemon.addr));
    metrics.assert_value(REJECTED, &[("reason", "invalid")], FLOOD as f64);

    let rejection_lines = |reason: &str| -> Vec<Value> {
        daemon
            .logs()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["message"] == "ingest request rejected" && l["reason"] == reason)
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while rejection_lines("unsupported_media_type").is_empty() {
        assert!(std::time::Instant::now() < deadline, "no rejection line:\n{}", daemon.logs().join("\n"));
        std::thread::sleep(Duration::from_millis(50));
    }
    let invalid = rejection_lines("invalid");
    assert!(!invalid.is_empty(), "no line for the invalid bodies");
    assert!(invalid.len() as u64 <= 1 + elapsed.as_secs() / 10, "not throttled: {} lines for {FLOOD}", invalid.len());
    let told: u64 = invalid.iter().map(|l| 1 + l["suppressed"].as_u64().unwrap()).sum();
    assert!(told <= FLOOD as u64, "{invalid:?}");
    assert_eq!(invalid[0]["level"], "WARN");
    assert!(invalid[0]["error"].as_str().unwrap().starts_with("body is not valid JSON"), "{:?}", invalid[0]);
    let media = &rejection_lines("unsupported_media_type")[0];
    assert!(media["error"].as_str().unwrap().starts_with("Content-Type must be application/json"), "{media}");
}

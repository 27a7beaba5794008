//! The probe layer end to end: the daemon (in-process, or the real binary) probing the
//! simulator on 127.0.0.1. One test per outcome class, each checking the counter, `success`,
//! the JSON of `GET /probe` and (where latency is injected) the measured durations; then the
//! schedule under thousands of faults, the ECONNRESET wave, the unconfigured probe, on-demand
//! limits, promtool, and the API key appearing nowhere.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use claudewatch::sim::{Fault, Scenario, SimHandle, Simulator, Step};
use common::{Daemon, Metrics, client, config_file};
use serde_json::Value;

/// A probe `p` against `base_url`: by default a schedule that never fires within a test, so that
/// `GET /probe` alone drives it, one request per call (the first run lands at a random point of
/// the first interval: at 100 000 h the chance that it falls within a minute of the start is
/// below one in five million). `overrides` are `key = value` lines that replace or add keys.
fn on_demand_config(base_url: &str, var: &str, overrides: &str) -> String {
    let mut keys: Vec<(String, String)> = [
        ("name", "\"p\"".to_owned()),
        ("model", "\"claude-haiku-5-5\"".to_owned()),
        ("base_url", format!("\"{base_url}\"")),
        ("api_key_env", format!("\"{var}\"")),
        ("interval", "\"100000h\"".to_owned()),
        ("timeout", "\"2s\"".to_owned()),
        ("on_demand_min_interval", "\"1ms\"".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for line in overrides.lines().filter(|l| !l.trim().is_empty()) {
        let (k, v) = line.split_once('=').expect("override lines are `key = value`");
        let (k, v) = (k.trim().to_owned(), v.trim().to_owned());
        match keys.iter_mut().find(|(key, _)| *key == k) {
            Some(entry) => entry.1 = v,
            None => keys.push((k, v)),
        }
    }
    let body: String = keys.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
    format!("[[probe]]\n{body}\n")
}

/// A simulator and a daemon probing it on demand.
struct Rig {
    sim: SimHandle,
    daemon: Daemon,
}

impl Rig {
    async fn start(var: &str, extra: &str) -> Rig {
        Rig::start_with(Simulator::default().seed(7), var, extra).await
    }

    async fn start_with(sim: Simulator, var: &str, extra: &str) -> Rig {
        let sim = sim.start().await.expect("simulator starts");
        let daemon =
            Daemon::start_with_env(&on_demand_config(&sim.url(), var, extra), &[(var, "sk-ant-test-rig")]).await;
        Rig { sim, daemon }
    }

    /// `GET /probe?name=p` → the result JSON.
    async fn probe(&self) -> Value {
        let r = client().get(self.daemon.url("/probe?name=p")).send().await.unwrap();
        assert_eq!(r.status(), 200, "GET /probe");
        serde_json::from_str(&r.text().await.unwrap()).unwrap()
    }

    /// Serves `step` to the next request and probes once.
    async fn probe_with(&self, step: Step) -> (Value, Metrics) {
        self.sim.script([step]);
        let result = self.probe().await;
        (result, self.daemon.scrape().await)
    }
}

fn requests(m: &Metrics, class: &str) -> f64 {
    m.value("claudewatch_probe_requests_total", &[("probe", "p"), ("class", class)])
}

fn success(m: &Metrics) -> f64 {
    m.value("claudewatch_probe_success", &[("probe", "p")])
}

/// Asserts the result and the metrics agree on a failure of `class`, after one success.
async fn assert_failure(rig: &Rig, step: Step, class: &str) -> Value {
    let (ok, m) = rig.probe_with(Step::new(Fault::Ok)).await;
    assert_eq!(ok["class"], "ok", "{ok}");
    assert_eq!(success(&m), 1.0);
    let before = requests(&m, class);
    let total_before = m.sum("claudewatch_probe_requests_total", &[("probe", "p")]);

    let (result, m) = rig.probe_with(step).await;
    assert_eq!(result["class"], class, "{result}");
    assert_eq!(result["success"], false);
    assert!(result["error"].as_str().is_some_and(|e| !e.is_empty()), "a failure says why: {result}");
    assert_eq!(requests(&m, class), before + 1.0, "{}", m.text);
    assert_eq!(success(&m), 0.0, "success flips to 0");
    // Every other class stayed where it was.
    let total: f64 = m.sum("claudewatch_probe_requests_total", &[("probe", "p")]);
    assert_eq!(total, total_before + 1.0, "{}", m.text);
    result
}

/// A measured duration against the latency the simulator injected: never less (the strict
/// half), and within a second more, however busy the machine (the overhead itself is measured by
/// the benchmark in bench/, not here).
fn measured(got: f64, injected: f64) -> bool {
    (injected..=injected + 1.0).contains(&got)
}

/// Every bucket of histogram `name` counts the one observation `value` exactly when `le` covers
/// it: the observation landed in the bucket its measured value says.
fn assert_one_observation(m: &Metrics, name: &str, labels: &[(&str, &str)], value: f64) {
    let buckets: Vec<(f64, f64)> = m
        .series(&format!("{name}_bucket"))
        .filter(|(l, _)| labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
        .map(|(l, n)| (l["le"].parse::<f64>().unwrap(), n))
        .collect();
    assert!(buckets.len() > 2, "{name} has buckets: {}", m.text);
    for (le, n) in buckets {
        let want = if value <= le { 1.0 } else { 0.0 };
        assert_eq!(n, want, "{name} bucket le={le} for one observation of {value}");
    }
    m.assert_value(&format!("{name}_count"), labels, 1.0);
    let sum = m.value(&format!("{name}_sum"), labels);
    assert!((sum - value).abs() < 1e-6, "{name} sum {sum} vs {value}");
}

#[tokio::test]
async fn ok_records_durations_tokens_and_headroom() {
    let rig = Rig::start("CW_TEST_KEY_OK", "").await;
    let latency = Duration::from_millis(150);
    let (result, m) = rig.probe_with(Step::new(Fault::Ok).latency(latency)).await;
    assert_eq!(result["class"], "ok", "{result}");
    assert_eq!(result["success"], true);
    assert_eq!(result["status"], 200);
    assert_eq!(result["reply"], "OK");
    assert_eq!(result["error"], Value::Null);
    assert!(result["request_id"].as_str().unwrap().starts_with("req_"), "{result}");
    assert_eq!(success(&m), 1.0);
    assert_eq!(requests(&m, "ok"), 1.0);

    // Duration: at least the injected latency, and the histograms hold that very value.
    let duration = result["duration_seconds"].as_f64().unwrap();
    assert!(measured(duration, 0.150), "duration {duration}");
    let first_byte = result["first_byte_seconds"].as_f64().unwrap();
    assert!(measured(first_byte, 0.150) && first_byte <= duration, "first byte {first_byte}");
    assert_one_observation(&m, "claudewatch_probe_duration_seconds", &[("probe", "p")], duration);
    assert_one_observation(&m, "claudewatch_probe_first_byte_seconds", &[("probe", "p")], first_byte);
    // 150 ms is past the 0.1 bucket whatever the machine.
    m.assert_value("claudewatch_probe_duration_seconds_bucket", &[("probe", "p"), ("le", "0.1")], 0.0);
    m.assert_absent("claudewatch_probe_ttft_seconds_count", &[("probe", "p")]);

    let input = result["input_tokens"].as_f64().unwrap();
    assert!(input > 0.0);
    m.assert_value("claudewatch_probe_tokens_total", &[("probe", "p"), ("direction", "input")], input);
    m.assert_value("claudewatch_probe_tokens_total", &[("probe", "p"), ("direction", "output")], 1.0);
    let last = m.value("claudewatch_probe_last_success_timestamp_seconds", &[("probe", "p")]);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!((now - last).abs() < 30.0, "last success {last} vs now {now}");
    for resource in ["requests", "tokens", "input_tokens", "output_tokens"] {
        let labels = [("probe", "p"), ("resource", resource)];
        let limit = m.value("claudewatch_ratelimit_limit", &labels);
        let remaining = m.value("claudewatch_ratelimit_remaining", &labels);
        assert!(limit > 0.0 && remaining <= limit, "{resource}: {remaining}/{limit}");
        assert!(m.value("claudewatch_ratelimit_reset_timestamp_seconds", &labels) > now - 120.0);
    }
    m.assert_value("claudewatch_probe_configured", &[("probe", "p")], 1.0);
    // Every class and reason exists from the start.
    for class in claudewatch::classify::ErrorClass::ALL {
        assert!(m.get("claudewatch_probe_requests_total", &[("probe", "p"), ("class", class.as_str())]).is_some());
    }
    for reason in claudewatch::classify::ConnectionReason::ALL {
        m.assert_value(
            "claudewatch_probe_connection_errors_total",
            &[("probe", "p"), ("reason", reason.as_str())],
            0.0,
        );
    }
}

#[tokio::test]
async fn ok_streaming_measures_time_to_first_token() {
    let rig = Rig::start("CW_TEST_KEY_STREAM", "stream = true").await;
    let (result, m) = rig.probe_with(Step::new(Fault::Ok).latency(Duration::from_millis(120))).await;
    assert_eq!(result["class"], "ok", "{result}");
    assert_eq!(result["reply"], "OK");
    let ttft = result["ttft_seconds"].as_f64().unwrap();
    let duration = result["duration_seconds"].as_f64().unwrap();
    assert!(measured(ttft, 0.120) && ttft <= duration, "ttft {ttft}, duration {duration}");
    assert_one_observation(&m, "claudewatch_probe_ttft_seconds", &[("probe", "p")], ttft);
    assert!(m.value("claudewatch_probe_tokens_total", &[("probe", "p"), ("direction", "output")]) >= 1.0);
    let sent = rig.sim.requests();
    assert!(sent.last().unwrap().stream, "the request asked for a stream");
}

#[tokio::test]
async fn overloaded_covers_529_503_and_the_mid_stream_error() {
    let rig = Rig::start("CW_TEST_KEY_OVERLOADED", "").await;
    let r = assert_failure(&rig, Step::new(Fault::Overloaded), "overloaded").await;
    assert_eq!(r["status"], 529);
    assert!(r["error"].as_str().unwrap().contains("overloaded_error"), "{r}");
    let r = assert_failure(&rig, Step::new(Fault::Unavailable), "overloaded").await;
    assert_eq!(r["status"], 503);

    let rig = Rig::start("CW_TEST_KEY_OVERLOADED_STREAM", "stream = true").await;
    let r = assert_failure(&rig, Step::new(Fault::StreamError), "overloaded").await;
    assert_eq!(r["status"], 200, "the error came after the 200");
    assert!(r["error"].as_str().unwrap().contains("error event after HTTP 200"), "{r}");
}

#[tokio::test]
async fn connection_failures_are_counted_by_reason() {
    let rig = Rig::start("CW_TEST_KEY_CONNECTION", "").await;
    let reason =
        |m: &Metrics, r: &str| m.value("claudewatch_probe_connection_errors_total", &[("probe", "p"), ("reason", r)]);

    let r = assert_failure(&rig, Step::new(Fault::Reset), "connection").await;
    assert_eq!((r["reason"].as_str(), r["status"].as_u64()), (Some("reset"), None), "{r}");
    let m = rig.daemon.scrape().await;
    assert_eq!(reason(&m, "reset"), 1.0);

    let r = assert_failure(&rig, Step::new(Fault::CloseMidBody), "connection").await;
    assert_eq!(r["reason"], "closed", "{r}");
    assert_eq!(r["status"], 200, "the status had arrived");
    let m = rig.daemon.scrape().await;
    assert_eq!((reason(&m, "reset"), reason(&m, "closed")), (1.0, 1.0));

    // Nothing listening: refused.
    let closed = common::closed_port();
    let daemon = Daemon::start_with_env(
        &on_demand_config(&format!("http://{}", closed.addr), "CW_TEST_KEY_REFUSED", ""),
        &[("CW_TEST_KEY_REFUSED", "sk-ant-test")],
    )
    .await;
    let r: Value =
        serde_json::from_str(&client().get(daemon.url("/probe?name=p")).send().await.unwrap().text().await.unwrap())
            .unwrap();
    assert_eq!((r["class"].as_str(), r["reason"].as_str()), (Some("connection"), Some("refused")), "{r}");
    let m = daemon.scrape().await;
    assert_eq!(reason(&m, "refused"), 1.0);
    assert_eq!(requests(&m, "connection"), 1.0);
}

#[tokio::test]
async fn rate_limited_exports_retry_after() {
    let rig = Rig::start("CW_TEST_KEY_RATE", "").await;
    let r = assert_failure(&rig, Step::new(Fault::RateLimited).retry_after(7), "rate_limited").await;
    assert_eq!((r["status"].as_u64(), r["retry_after_seconds"].as_f64()), (Some(429), Some(7.0)), "{r}");
    let m = rig.daemon.scrape().await;
    m.assert_value("claudewatch_probe_retry_after_seconds", &[("probe", "p")], 7.0);

    // The spend-limit 429 has no retry-after: the class is the same, the last value stays.
    let r = assert_failure(&rig, Step::new(Fault::SpendLimit), "rate_limited").await;
    assert_eq!(r["retry_after_seconds"], Value::Null);
    let m = rig.daemon.scrape().await;
    m.assert_value("claudewatch_probe_retry_after_seconds", &[("probe", "p")], 7.0);
    assert_failure(&rig, Step::new(Fault::RateLimitedNoRetryAfter), "rate_limited").await;
}

#[tokio::test]
async fn server_errors_cover_500_502_and_504() {
    let rig = Rig::start("CW_TEST_KEY_SERVER", "").await;
    for (fault, status) in [(Fault::ServerError, 500), (Fault::BadGateway, 502), (Fault::GatewayTimeout, 504)] {
        let r = assert_failure(&rig, Step::new(fault), "server_error").await;
        assert_eq!(r["status"], status, "{r}");
    }
}

#[tokio::test]
async fn timeout_stops_at_the_configured_timeout() {
    let rig = Rig::start("CW_TEST_KEY_TIMEOUT", "timeout = \"300ms\"").await;
    let r = assert_failure(&rig, Step::new(Fault::Hang), "timeout").await;
    let duration = r["duration_seconds"].as_f64().unwrap();
    assert!(measured(duration, 0.300), "duration {duration}");
    // Latency beyond the timeout is a timeout too, with the status never seen.
    let r = assert_failure(&rig, Step::new(Fault::Ok).latency(Duration::from_millis(800)), "timeout").await;
    assert_eq!(r["status"], Value::Null);
    let m = rig.daemon.scrape().await;
    m.assert_value("claudewatch_probe_connection_errors_total", &[("probe", "p"), ("reason", "other")], 0.0);
}

#[tokio::test]
async fn client_error_is_other_4xx() {
    let rig = Rig::start("CW_TEST_KEY_CLIENT", "").await;
    let r = assert_failure(&rig, Step::new(Fault::BadRequest), "client_error").await;
    assert_eq!(r["status"], 400);
    assert!(r["error"].as_str().unwrap().contains("invalid_request_error"), "{r}");
}

#[tokio::test]
async fn auth_covers_a_wrong_key_and_403() {
    let rig = Rig::start("CW_TEST_KEY_AUTH", "").await;
    let r = assert_failure(&rig, Step::new(Fault::Forbidden), "auth").await;
    assert_eq!(r["status"], 403);
    let r = assert_failure(&rig, Step::new(Fault::Unauthorized), "auth").await;
    assert_eq!(r["status"], 401);

    // The simulator checking the key for real: ours is not the one it wants.
    let rig = Rig::start_with(Simulator::default().api_key("sk-ant-the-right-one"), "CW_TEST_KEY_AUTH_REAL", "").await;
    let r = rig.probe().await;
    assert_eq!((r["class"].as_str(), r["status"].as_u64()), (Some("auth"), Some(401)), "{r}");
}

#[tokio::test]
async fn unexpected_covers_wrong_text_and_invalid_json() {
    let rig = Rig::start("CW_TEST_KEY_UNEXPECTED", "").await;
    let r = assert_failure(&rig, Step::new(Fault::WrongText), "unexpected").await;
    assert_eq!(r["status"], 200);
    assert!(r["error"].as_str().unwrap().contains("does not contain"), "{r}");
    let r = assert_failure(&rig, Step::new(Fault::InvalidJson), "unexpected").await;
    assert!(r["error"].as_str().unwrap().contains("not a Messages API message"), "{r}");

    let rig = Rig::start("CW_TEST_KEY_UNEXPECTED_STREAM", "stream = true").await;
    assert_failure(&rig, Step::new(Fault::WrongText), "unexpected").await;
    let r = assert_failure(&rig, Step::new(Fault::InvalidJson), "unexpected").await;
    assert!(r["error"].as_str().unwrap().contains("malformed"), "{r}");
}

#[tokio::test]
async fn on_demand_is_rate_limited_and_validates_its_query() {
    let sim = Simulator::default().start().await.unwrap();
    let config = on_demand_config(&sim.url(), "CW_TEST_KEY_ON_DEMAND", "on_demand_min_interval = \"30s\"");
    let daemon = Daemon::start_with_env(&config, &[("CW_TEST_KEY_ON_DEMAND", "sk-ant-test")]).await;
    let http = client();
    assert_eq!(http.get(daemon.url("/probe?name=p")).send().await.unwrap().status(), 200);
    let again = http.get(daemon.url("/probe?name=p")).send().await.unwrap();
    assert_eq!(again.status(), 429);
    let wait: u64 = again.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((29..=30).contains(&wait), "retry-after {wait}");
    let body: Value = serde_json::from_str(&again.text().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(sim.stats().requests, 1, "the refused call sent nothing");

    let unknown = http.get(daemon.url("/probe?name=nope")).send().await.unwrap();
    assert_eq!(unknown.status(), 400);
    assert!(unknown.text().await.unwrap().contains("configured probes: p"));
    let missing = http.get(daemon.url("/probe")).send().await.unwrap();
    assert_eq!(missing.status(), 400);
    assert!(missing.text().await.unwrap().contains("missing ?name="));
}

#[tokio::test]
async fn an_unset_key_is_not_configured_and_sends_nothing() {
    let sim = Simulator::default().start().await.unwrap();
    let config = on_demand_config(&sim.url(), "CW_TEST_KEY_NEVER_SET", "interval = \"100ms\"");
    let daemon = Daemon::start(&config).await;
    let ready = client().get(daemon.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "a missing key does not hold readiness");
    let body: Value = serde_json::from_str(&ready.text().await.unwrap()).unwrap();
    assert_eq!(body["components"]["probe:p"]["state"], "not_configured", "{body}");
    assert!(body["components"]["probe:p"]["reason"].as_str().unwrap().contains("CW_TEST_KEY_NEVER_SET is unset"));

    let r = client().get(daemon.url("/probe?name=p")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("not_configured"));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let m = daemon.scrape().await;
    m.assert_value("claudewatch_probe_configured", &[("probe", "p")], 0.0);
    m.assert_value("claudewatch_probe_requests_total", &[("probe", "p"), ("class", "ok")], 0.0);
    m.assert_absent("claudewatch_probe_success", &[("probe", "p")]);
    assert_eq!(sim.stats().requests, 0, "no request without a key");
}

#[tokio::test]
async fn the_schedule_runs_probes_and_controls() {
    let sim = Simulator::default().start().await.unwrap();
    let config = on_demand_config(&sim.url(), "CW_TEST_KEY_SCHEDULE", "interval = \"200ms\"")
        + &format!(
            "[[control]]\nname = \"net\"\nurl = \"{}/_sim/health\"\ninterval = \"200ms\"\ntimeout = \"1s\"\n",
            sim.url()
        );
    let daemon = Daemon::start_with_env(&config, &[("CW_TEST_KEY_SCHEDULE", "sk-ant-test")]).await;
    let m = common::eventually(daemon.addr, Duration::from_secs(10), "scheduled probes", |m| {
        requests(m, "ok") >= 3.0
            && m.get("claudewatch_control_requests_total", &[("control", "net"), ("class", "ok")]).unwrap_or(0.0) >= 3.0
    })
    .await;
    assert_eq!(success(&m), 1.0);
    m.assert_value("claudewatch_control_success", &[("control", "net")], 1.0);
    assert!(m.value("claudewatch_control_duration_seconds_count", &[("control", "net")]) >= 3.0);
    m.assert_value("claudewatch_control_connection_errors_total", &[("control", "net"), ("reason", "reset")], 0.0);
    daemon.stop().await;
}

/// Thousands of consecutive faults of every kind through the real schedule (a 1 ms interval:
/// one request at a time, each in the first free slot after the last), then the daemon is still serving, every
/// fault was counted in its class, and the first healthy reply flips success back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_stays_healthy_through_thousands_of_faults() {
    const ROUNDS: u64 = 250;
    let cycle = [
        (Fault::Reset, "connection"),
        (Fault::CloseMidBody, "connection"),
        (Fault::Overloaded, "overloaded"),
        (Fault::ServerError, "server_error"),
        (Fault::BadGateway, "server_error"),
        (Fault::RateLimited, "rate_limited"),
        (Fault::InvalidJson, "unexpected"),
        (Fault::Unauthorized, "auth"),
    ];
    let total = ROUNDS * cycle.len() as u64;
    let sim = Simulator::default().start().await.unwrap();
    for _ in 0..ROUNDS {
        sim.script(cycle.iter().map(|(f, _)| Step::new(*f)));
    }
    let config = on_demand_config(&sim.url(), "CW_TEST_KEY_THOUSANDS", "interval = \"1ms\"");
    let started = Instant::now();
    let daemon = Daemon::start_with_env(&config, &[("CW_TEST_KEY_THOUSANDS", "sk-ant-test")]).await;
    let m =
        common::eventually(daemon.addr, Duration::from_secs(120), "all faults probed", |m| requests(m, "ok") >= 1.0)
            .await;
    let elapsed = started.elapsed();
    assert_eq!(client().get(daemon.url("/healthz")).send().await.unwrap().status(), 200);
    for (_, class) in cycle {
        let per_class = cycle.iter().filter(|(_, c)| *c == class).count() as f64 * ROUNDS as f64;
        assert_eq!(requests(&m, class), per_class, "{class} after {elapsed:?}");
    }
    let failures: f64 = claudewatch::classify::ErrorClass::FAILURES.iter().map(|c| requests(&m, c.as_str())).sum();
    assert_eq!(failures, total as f64);
    let reason = |r| m.value("claudewatch_probe_connection_errors_total", &[("probe", "p"), ("reason", r)]);
    assert_eq!((reason("reset"), reason("closed")), (ROUNDS as f64, ROUNDS as f64));
    assert_eq!(success(&m), 1.0, "the first healthy reply after the faults flips success back");
    daemon.stop().await;
}

/// The `econnreset-wave` scenario sped up 20× (10 minutes in 30 s) with a 50 ms probe: the
/// reset rate the daemon exports rises from ~0 to the peak and falls back.
///
/// Wall-clock windows would credit a window's probes to whichever phase is current when it
/// ends, and a slow start-up eats into the first phase. Instead each probe's phase comes from
/// the simulator's request log: the probe sends one request at a time, so after `n` results
/// the daemon has counted exactly the simulator's requests 1..=n, and the phase of request `n`
/// follows from the time the simulator logged it. Each phase's rate is the change in the
/// daemon's counters between the first and the last scrape that fall inside the phase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_econnreset_wave_rises_and_falls_in_metrics() {
    const TIME_SCALE: f64 = 20.0;
    let scenario = Scenario::builtin("econnreset-wave").unwrap();
    let sim = Simulator::new(scenario.clone()).time_scale(TIME_SCALE).seed(11).start().await.unwrap();
    // A timeout far beyond any injected latency, so that every reset the simulator sends is
    // seen as one however slow the machine.
    let config = on_demand_config(&sim.url(), "CW_TEST_KEY_WAVE", "interval = \"50ms\"\ntimeout = \"10s\"");
    let daemon = Daemon::start_with_env(&config, &[("CW_TEST_KEY_WAVE", "sk-ant-test")]).await;
    let phase_of = |record: &claudewatch::sim::RequestRecord| {
        let (i, _) = scenario.position(Duration::from_secs_f64(record.at_seconds * TIME_SCALE));
        scenario.phases[i].name.clone()
    };

    // Scrapes of (results, resets) until 20 results of the last phase lie between two of them.
    let counts = |m: &Metrics| {
        (
            m.sum("claudewatch_probe_requests_total", &[("probe", "p")]) as u64,
            m.value("claudewatch_probe_connection_errors_total", &[("probe", "p"), ("reason", "reset")]) as u64,
        )
    };
    let mut scrapes: Vec<(u64, u64)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let log = loop {
        let sent_before = sim.stats().requests;
        let (n, resets) = counts(&daemon.scrape().await);
        let log = sim.requests();
        // One request in flight at most: the simulator logs a request before the daemon counts
        // its result.
        assert!(sent_before <= n + 1 && n <= log.len() as u64, "{sent_before} sent, {n} counted, {} logged", log.len());
        scrapes.push((n, resets));
        let first_recovered = log.iter().find(|r| phase_of(r) == "recovered").map(|r| r.seq);
        let since = first_recovered.and_then(|seq| scrapes.iter().find(|(n, _)| *n + 1 >= seq));
        if since.is_some_and(|(from, _)| n >= from + 20) {
            break log;
        }
        assert!(Instant::now() < deadline, "the wave did not complete: {n} results, {} requests", log.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(log.first().map(|r| r.seq), Some(1), "the request log kept every request");
    assert!(log.iter().all(|r| r.endpoint == claudewatch::sim::Endpoint::Messages));

    // Requests 1..=n by phase: phase i holds requests first[i]..=last[i].
    let phases: Vec<String> = log.iter().map(phase_of).collect();
    let span = |name: &str| {
        let first = phases.iter().position(|p| p == name).unwrap_or_else(|| panic!("no request in {name}"));
        let last = phases.iter().rposition(|p| p == name).unwrap();
        assert!(phases[first..=last].iter().all(|p| p == name), "phases out of order: {phases:?}");
        (first as u64 + 1, last as u64 + 1)
    };
    // The daemon's rate over a phase: between the scrapes that saw the fewest and the most of
    // its results, with nothing of another phase in between.
    let rate = |name: &str, min_results: u64| {
        let (first, last) = span(name);
        let inside: Vec<&(u64, u64)> = scrapes.iter().filter(|(n, _)| (first - 1..=last).contains(n)).collect();
        let (Some(from), Some(to)) = (inside.first(), inside.last()) else { panic!("no scrape inside {name}") };
        let (results, resets) = (to.0 - from.0, to.1 - from.1);
        assert!(results >= min_results, "{results} results of {name} between scrapes (requests {first}..={last})");
        eprintln!("{name}: {resets} resets in {results} results (requests {first}..={last})");
        resets as f64 / results as f64
    };
    let (baseline, peak, recovered) = (rate("baseline", 10), rate("peak", 40), rate("recovered", 20));
    assert!(baseline < 0.15, "baseline reset rate {baseline}");
    assert!(peak > 0.55, "peak reset rate {peak}");
    assert!(recovered < 0.15, "recovered reset rate {recovered}");

    // Every reset the simulator sent was counted as one, no more and no fewer: the last ones
    // were sent a whole phase ago.
    let sent_resets = log.iter().filter(|r| r.fault == Fault::Reset).count() as f64;
    let m = daemon.scrape().await;
    m.assert_value("claudewatch_probe_connection_errors_total", &[("probe", "p"), ("reason", "reset")], sent_resets);
    assert_eq!(success(&m), 1.0, "recovered at the end");
    daemon.stop().await;
}

// --- the real binary: promtool, and the key appearing nowhere ----------------------------------

/// A distinctive key through faults of every kind, at trace level: it must not appear in a log
/// line, in `/metrics`, `/readyz`, a `/probe` answer, or `check-config` output (with the key in
/// its environment). A config that pastes the key where the variable's name belongs is refused,
/// by `check-config` and by the daemon, without repeating it. The same run feeds
/// `promtool check metrics` with every probe family populated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_appears_nowhere_and_promtool_accepts_the_metrics() {
    let key = format!("sk-ant-api03-LEAKCHECK{:016x}", fastrand::u64(..));
    let sim = Simulator::default().api_key(key.clone()).start().await.unwrap();
    let faults = [
        Fault::Ok,
        Fault::Reset,
        Fault::Overloaded,
        Fault::Unauthorized,
        Fault::RateLimited,
        Fault::CloseMidBody,
        Fault::InvalidJson,
        Fault::StreamError,
        Fault::BadGateway,
        Fault::Hang,
        Fault::WrongText,
        Fault::Ok,
    ];
    sim.script(faults.iter().map(|f| Step::new(*f)));
    let config = config_file(&format!(
        "[[probe]]\nname = \"p\"\nmodel = \"claude-haiku-5-5\"\nbase_url = \"{url}\"\napi_key_env = \"CW_LEAK_KEY\"\n\
         interval = \"100ms\"\ntimeout = \"500ms\"\non_demand_min_interval = \"1ms\"\n\
         [[probe]]\nname = \"s\"\nmodel = \"claude-haiku-5-5\"\nbase_url = \"{url}\"\napi_key_env = \"CW_LEAK_KEY\"\n\
         interval = \"150ms\"\ntimeout = \"500ms\"\nstream = true\n\
         [[control]]\nname = \"net\"\nurl = \"{url}/_sim/health\"\ninterval = \"200ms\"\ntimeout = \"1s\"\n",
        url = sim.url()
    ));
    // The key travels to the child through its environment only.
    let path = config.path().to_owned();
    let env_key = key.clone();
    let daemon = tokio::task::spawn_blocking(move || {
        common::BinaryDaemon::spawn_at_level(&path, &[("CW_LEAK_KEY", env_key.as_str())], "trace")
    })
    .await
    .unwrap();
    let m = common::eventually(daemon.addr, Duration::from_secs(30), "every scripted fault probed", |m| {
        m.sum("claudewatch_probe_requests_total", &[]) >= faults.len() as f64 + 4.0
            && m.get("claudewatch_probe_ttft_seconds_count", &[("probe", "s")]).unwrap_or(0.0) >= 1.0
    })
    .await;
    let on_demand =
        client().get(format!("http://{}/probe?name=p", daemon.addr)).send().await.unwrap().text().await.unwrap();
    let ready = client().get(format!("http://{}/readyz", daemon.addr)).send().await.unwrap().text().await.unwrap();
    let check = Command::new(common::binary())
        .arg("check-config")
        .arg(config.path())
        .env("CW_LEAK_KEY", &key)
        .output()
        .unwrap();
    assert!(check.status.success(), "check-config: {}", String::from_utf8_lossy(&check.stderr));
    // The key pasted into the config by mistake: refused, and the error does not repeat it.
    let pasted = config_file(&format!(
        "[[probe]]\nname = \"p\"\nmodel = \"claude-haiku-5-5\"\nbase_url = \"{}\"\napi_key_env = \"{key}\"\n",
        sim.url()
    ));
    let pasted_check = Command::new(common::binary()).arg("check-config").arg(pasted.path()).output().unwrap();
    let pasted_run = Command::new(common::binary())
        .args(["--listen", "127.0.0.1:0", "--config"])
        .arg(pasted.path())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    for (what, out) in [("check-config", &pasted_check), ("the daemon", &pasted_run)] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what} accepted a pasted key: {stderr}");
        assert!(stderr.contains("api_key_env") && stderr.contains("looks like an API key"), "{what}: {stderr}");
    }

    let logs = daemon.logs().join("\n");
    eprintln!("{} log lines checked", logs.lines().count());
    assert!(logs.contains("\"probe result\"") || logs.contains("probe result"), "probe results are logged");
    for (what, text) in [
        ("logs", logs.as_str()),
        ("/metrics", m.text.as_str()),
        ("/probe", on_demand.as_str()),
        ("/readyz", ready.as_str()),
        ("check-config stdout", &String::from_utf8_lossy(&check.stdout)),
        ("check-config stderr", &String::from_utf8_lossy(&check.stderr)),
        ("check-config stdout, key pasted", &String::from_utf8_lossy(&pasted_check.stdout)),
        ("check-config stderr, key pasted", &String::from_utf8_lossy(&pasted_check.stderr)),
        ("daemon stdout, key pasted", &String::from_utf8_lossy(&pasted_run.stdout)),
        ("daemon stderr, key pasted", &String::from_utf8_lossy(&pasted_run.stderr)),
    ] {
        assert!(!text.contains(&key), "the API key appears in {what}");
        assert!(!text.contains("LEAKCHECK"), "part of the API key appears in {what}");
    }
    // The run saw the failures it was meant to (so the check above covered their paths).
    for class in ["ok", "connection", "overloaded", "auth", "rate_limited", "unexpected", "server_error", "timeout"] {
        let n = m.sum("claudewatch_probe_requests_total", &[("class", class)]);
        assert!(n >= 1.0, "no {class} result in the leak run:\n{}", m.text);
    }

    let (passed, output) = common::promtool_check_metrics(&m.text);
    assert!(passed, "promtool check metrics failed:\n{output}\n--- metrics ---\n{}", m.text);
}

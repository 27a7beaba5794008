//! The client packages (`clients/python` around `anthropic`, `clients/typescript` around
//! `@anthropic-ai/sdk`), run for real through the example runners in `examples/`: the simulator
//! serves a scripted fault sequence (or the `econnreset-wave` scenario), the wrapper retries by
//! the playbook and reports to the daemon, and `/metrics` must hold exactly the retries,
//! exhaustions and calls that the faults cause.
//!
//! The packages are installed from their artifacts (the wheel, the npm tarball) into clean
//! environments by `clients/stage.sh`, with the tools from `.ci/install.sh`. A missing tool fails
//! the test with the command that installs it.

mod common;

use common::tools;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use claudewatch::sim::{Fault, Scenario, Simulator, Step};
use common::{Daemon, Metrics};
use serde_json::Value;

const RETRIES: &str = "claudewatch_client_retries_total";
const EXHAUSTED: &str = "claudewatch_client_exhausted_total";
const CALLS: &str = "claudewatch_client_calls_total";
const DAEMON: &str = "[server]\nlisten = \"127.0.0.1:0\"\n\n[ingest]\n";

/// The longest a wrapper run may take before the test gives up on it.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug)]
enum Lang {
    Python,
    TypeScript,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The packages, installed from their artifacts (see `clients/stage.sh`).
fn staged() -> &'static Path {
    static STAGED: OnceLock<PathBuf> = OnceLock::new();
    STAGED.get_or_init(tools::staged_clients)
}

/// The clean venv's Python, which has the wheel.
fn python() -> PathBuf {
    staged().join("venv/bin/python")
}

/// The examples, compiled against the npm tarball installed in a clean app.
fn typescript_build() -> PathBuf {
    staged().join("node/dist/examples")
}

/// Runs the wrapper's scenario runner and returns its JSON tally.
fn run_wrapper(lang: Lang, api_url: &str, daemon_url: &str, service: &str, extra: &[&str]) -> Value {
    let mut cmd = match lang {
        Lang::Python => {
            let mut c = Command::new(python());
            // The SDK warns about deprecated model names; the tally is what matters here.
            c.args(["-W", "ignore"]).arg(root().join("examples/python/run_scenario.py"));
            c
        }
        Lang::TypeScript => {
            let mut c = Command::new("node");
            c.arg(typescript_build().join("run-scenario.js"));
            c
        }
    };
    cmd.args(["--api-url", api_url, "--daemon-url", daemon_url, "--service", service, "--fast"]).args(extra);
    // Loopback only: no proxy from the environment may see the traffic.
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] {
        cmd.env_remove(var);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost").env("no_proxy", "127.0.0.1,localhost");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run the {lang:?} wrapper ({e}); run `bash .ci/install.sh`"));
    let deadline = Instant::now() + RUN_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the {lang:?} wrapper did not finish within {RUN_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{lang:?} wrapper failed ({}):\n{stdout}\n{stderr}", out.status);
    let last = stdout.lines().last().unwrap_or_else(|| panic!("{lang:?} wrapper printed nothing; stderr:\n{stderr}"));
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{lang:?} tally is not JSON ({e}): {last}\n{stderr}"))
}

/// `tally["events"][outcome]` as class → count.
fn tally_events(tally: &Value, outcome: &str) -> BTreeMap<String, f64> {
    tally["events"][outcome]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_f64().unwrap())).collect())
        .unwrap_or_default()
}

/// The non-zero series of `name` for `service`, as class → value.
fn by_class(m: &Metrics, name: &str, service: &str) -> BTreeMap<String, f64> {
    m.series(name)
        .filter(|(labels, v)| labels["service"] == service && *v > 0.0)
        .map(|(labels, v)| (labels["class"].clone(), v))
        .collect()
}

fn map(entries: &[(&str, f64)]) -> BTreeMap<String, f64> {
    entries.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// The fault sequence and, per call, what the playbook makes of it.
fn scripted_steps() -> Vec<Step> {
    use Fault::*;
    let steps: Vec<Step> = [
        // 1: two 529s, then a reply: 2 × retry{overloaded}, success after 3 attempts.
        vec![Overloaded, Overloaded, Ok],
        // 2: a reset, then a reply: retry{connection}, success (2).
        vec![Reset, Ok],
        // 3: a 500, then a reply: retry{server_error}, success (2).
        vec![ServerError, Ok],
        // 4: a 500 and a 502: one retry{server_error}, then exhausted{server_error} (2).
        vec![ServerError, BadGateway],
        // 5: a 400: failure{client_error} (1).
        vec![BadRequest],
        // 6: a 401: failure{auth} (1).
        vec![Unauthorized],
        // 7: (a 429 with retry-after, pushed below), then a reply.
        vec![Ok],
        // 8: five 529s: 4 × retry{overloaded}, exhausted{overloaded} (5).
        vec![Overloaded; 5],
        // 9: a 503 then four resets: retry{overloaded}, 3 × retry{connection}, exhausted{connection} (5).
        vec![Unavailable, Reset, Reset, Reset, Reset],
        // 10: a spend-limit 429: failure{rate_limited}, not retried (1).
        vec![SpendLimit],
        // 11: a 504, then a reply: retry{server_error}, success (2).
        vec![GatewayTimeout, Ok],
        // 12: a connection closed mid-body, then a reply: retry{connection}, success (2).
        vec![CloseMidBody, Ok],
    ]
    .into_iter()
    .flatten()
    .map(Step::new)
    .collect();
    // Call 7 starts with a 429 asking for one second.
    let call_7 = 3 + 2 + 2 + 2 + 1 + 1;
    let mut steps = steps;
    steps.insert(call_7, Step::new(Fault::RateLimited).retry_after(1));
    steps
}

async fn scripted_faults_are_counted_exactly(lang: Lang, service: &'static str) {
    let sim = Simulator::default().start().await.unwrap();
    let steps = scripted_steps();
    let served = steps.len() as u64;
    sim.script(steps);
    let daemon = Daemon::start(DAEMON).await;
    let (api, url) = (sim.url(), daemon.url(""));
    let tally =
        tokio::task::spawn_blocking(move || run_wrapper(lang, &api, &url, service, &["--calls", "12"])).await.unwrap();

    assert_eq!(tally["calls"], 12, "{tally}");
    assert_eq!(tally["succeeded"], 6, "{tally}");
    assert_eq!(tally["reporter"]["dropped"], 0, "{tally}");
    assert_eq!(tally["reporter"]["flushed"], true, "{tally}");
    assert_eq!(sim.stats().endpoint(claudewatch::sim::Endpoint::Messages), served, "every scripted step was served");

    let retries = map(&[("overloaded", 7.0), ("connection", 5.0), ("server_error", 3.0), ("rate_limited", 1.0)]);
    let exhausted = map(&[("overloaded", 1.0), ("connection", 1.0), ("server_error", 1.0)]);
    let failures = map(&[("client_error", 1.0), ("auth", 1.0), ("rate_limited", 1.0)]);
    assert_eq!(tally_events(&tally, "retry"), retries, "{lang:?} retried by the playbook: {tally}");
    assert_eq!(tally_events(&tally, "exhausted"), exhausted, "{tally}");
    assert_eq!(tally_events(&tally, "failure"), failures, "{tally}");

    let m = daemon.scrape().await;
    assert_eq!(by_class(&m, RETRIES, service), retries, "{}", m.text);
    assert_eq!(by_class(&m, EXHAUSTED, service), exhausted, "{}", m.text);
    m.assert_value(CALLS, &[("service", service), ("outcome", "success")], 6.0);
    m.assert_value(CALLS, &[("service", service), ("outcome", "exhausted")], 3.0);
    m.assert_value(CALLS, &[("service", service), ("outcome", "failure")], 3.0);
    // Attempts per call: 3+2+2+2+1+1+2+5+5+1+2+2 = 28, the requests the simulator served.
    m.assert_value("claudewatch_client_attempts_count", &[("service", service)], 12.0);
    m.assert_value("claudewatch_client_attempts_sum", &[("service", service)], served as f64);
    m.assert_value("claudewatch_client_attempts_bucket", &[("service", service), ("le", "1.0")], 3.0);
    m.assert_value("claudewatch_client_attempts_bucket", &[("service", service), ("le", "4.0")], 10.0);
    m.assert_value(
        "claudewatch_client_model_events_total",
        &[("model", "claude-sonnet-4-6"), ("outcome", "retry")],
        16.0,
    );
    m.assert_value("claudewatch_ingest_rejected_requests_total", &[("reason", "invalid")], 0.0);
    daemon.stop().await;
    sim.stop().await;
}

/// The `econnreset-wave` scenario, ten minutes in six seconds: whatever the draws, the daemon
/// counts every reset the simulator served as a retry or an exhaustion of class `connection`,
/// and every reply as a successful call.
async fn the_econnreset_wave_is_counted_exactly(lang: Lang, service: &'static str) {
    // The wave's timeline starts once the wrapper's first call arrives, however long the
    // interpreter took to start on a busy machine; the runner's 7 s count from that first call,
    // so it runs past the wave's end.
    let sim = Simulator::new(Scenario::healthy()).time_scale(100.0).seed(7).start().await.unwrap();
    let daemon = Daemon::start(DAEMON).await;
    let (api, url) = (sim.url(), daemon.url(""));
    let run = tokio::task::spawn_blocking(move || {
        run_wrapper(lang, &api, &url, service, &["--calls", "5000", "--duration", "7"])
    });
    let deadline = Instant::now() + RUN_TIMEOUT;
    while sim.stats().requests == 0 {
        assert!(Instant::now() < deadline, "the {lang:?} wrapper never called the simulator");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sim.set_scenario(Scenario::builtin("econnreset-wave").expect("built-in scenario"));
    let tally = run.await.unwrap();
    let stats = sim.stats();
    assert_eq!(tally["reporter"]["dropped"], 0, "{tally}");

    let m = daemon.scrape().await;
    let resets = stats.fault(Fault::Reset) as f64;
    let overloaded = stats.fault(Fault::Overloaded) as f64;
    let connection = m.value(RETRIES, &[("service", service), ("class", "connection")])
        + m.value(EXHAUSTED, &[("service", service), ("class", "connection")]);
    assert!(resets > 10.0, "the wave reset connections: {stats:?}");
    assert_eq!(connection, resets, "every reset is a retry or an exhaustion: {stats:?}\n{}", m.text);
    let overload = m.value(RETRIES, &[("service", service), ("class", "overloaded")])
        + m.value(EXHAUSTED, &[("service", service), ("class", "overloaded")]);
    assert_eq!(overload, overloaded, "{stats:?}");
    m.assert_value(CALLS, &[("service", service), ("outcome", "success")], stats.fault(Fault::Ok) as f64);
    assert!(m.sum(EXHAUSTED, &[("service", service)]) > 0.0, "at 80 % resets some chains run out: {}", m.text);

    // The daemon agrees with what the wrapper says it reported.
    assert_eq!(by_class(&m, RETRIES, service), tally_events(&tally, "retry"), "{tally}");
    assert_eq!(by_class(&m, EXHAUSTED, service), tally_events(&tally, "exhausted"), "{tally}");
    let calls = tally["calls"].as_f64().unwrap();
    assert_eq!(m.sum(CALLS, &[("service", service)]), calls, "{tally}");
    daemon.stop().await;
    sim.stop().await;
}

/// With the daemon down, the app's calls are unaffected; the events are dropped and counted.
fn calls_go_on_when_the_daemon_is_down(lang: Lang) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let sim = rt.block_on(Simulator::default().start()).unwrap();
    sim.script([Step::new(Fault::Overloaded), Step::new(Fault::Ok)]);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let tally = run_wrapper(lang, &sim.url(), &format!("http://{closed}"), "down-test", &["--calls", "3"]);
    assert_eq!(tally["succeeded"], 3, "{tally}");
    assert_eq!(tally["reporter"]["sent"], 0, "{tally}");
    assert_eq!(tally["reporter"]["dropped"], 4, "one retry and three successes, all dropped: {tally}");
    assert_eq!(tally["reporter"]["flushed"], true, "{tally}");
    rt.block_on(sim.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_wrapper_scripted_faults() {
    scripted_faults_are_counted_exactly(Lang::Python, "wrapper-python").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_wrapper_scripted_faults() {
    scripted_faults_are_counted_exactly(Lang::TypeScript, "wrapper-typescript").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_wrapper_econnreset_wave() {
    the_econnreset_wave_is_counted_exactly(Lang::Python, "wave-python").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_wrapper_econnreset_wave() {
    the_econnreset_wave_is_counted_exactly(Lang::TypeScript, "wave-typescript").await;
}

#[test]
fn python_wrapper_daemon_down() {
    calls_go_on_when_the_daemon_is_down(Lang::Python);
}

#[test]
fn typescript_wrapper_daemon_down() {
    calls_go_on_when_the_daemon_is_down(Lang::TypeScript);
}

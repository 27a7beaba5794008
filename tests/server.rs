//! The daemon's frame: endpoints, `/metrics` negotiation, promtool on the real binary's output,
//! signals and start-up errors, and the `check-config` command.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{BinaryDaemon, Daemon, LOOPBACK_ONLY, binary, client, config_file, promtool_check_metrics};

const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[tokio::test]
async fn metrics_are_negotiated_and_carry_build_info() {
    let daemon = Daemon::start(LOOPBACK_ONLY).await;
    let http = client();

    let classic = http.get(daemon.url("/metrics")).send().await.unwrap();
    assert_eq!(classic.status(), 200);
    assert_eq!(classic.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    let body = classic.text().await.unwrap();
    assert!(body.contains("# TYPE claudewatch_build_info gauge"), "{body}");
    assert!(!body.contains("# EOF"), "{body}");
    let metrics = common::Metrics::parse(&body);
    let build = metrics.series("claudewatch_build_info").next().expect("build info present");
    assert_eq!(build.0["version"], env!("CARGO_PKG_VERSION"));
    assert!(!build.0["revision"].is_empty());
    assert_eq!(build.1, 1.0);

    let om = http.get(daemon.url("/metrics")).header("accept", PROMETHEUS_ACCEPT).send().await.unwrap();
    assert_eq!(om.headers()["content-type"], "application/openmetrics-text; version=1.0.0; charset=utf-8");
    assert!(om.text().await.unwrap().ends_with("# EOF\n"));
    daemon.stop().await;
}

#[tokio::test]
async fn health_readiness_and_json_404() {
    let daemon = Daemon::start(LOOPBACK_ONLY).await;
    let http = client();
    assert_eq!(http.get(daemon.url("/healthz")).send().await.unwrap().status(), 200);

    let ready = http.get(daemon.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = serde_json::from_str(&ready.text().await.unwrap()).unwrap();
    assert_eq!(body["status"], "ready");

    let missing = http.get(daemon.url("/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_str(&missing.text().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    daemon.stop().await;
}

#[tokio::test]
async fn wrong_method_is_a_json_405() {
    let daemon = Daemon::start(LOOPBACK_ONLY).await;
    let r = client().post(daemon.url("/metrics")).body("x").send().await.unwrap();
    assert_eq!(r.status(), 405);
    let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
    daemon.stop().await;
}

/// A client that sends its headers and then trickles (here: stalls) its body gets a 408 once
/// `request_timeout` passes, and the connection is closed.
#[tokio::test]
async fn a_stalled_body_is_cut_off_at_the_request_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let daemon = Daemon::start("[server]\nrequest_timeout = \"300ms\"\n").await;
    let mut stream = tokio::net::TcpStream::connect(daemon.addr).await.unwrap();
    let head = "POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{";
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the connection stayed open past the request timeout");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    daemon.stop().await;
}

/// Past `max_connections`, new clients wait (unanswered) until a slot frees up.
#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let daemon = Daemon::start("[server]\nmax_connections = 2\n").await;
    // The harness's readiness check may still hold a keep-alive slot; give it time to be
    // released by closing our own clients only.
    let hold_a = tokio::net::TcpStream::connect(daemon.addr).await.unwrap();
    let hold_b = tokio::net::TcpStream::connect(daemon.addr).await.unwrap();
    let blocked = client().get(daemon.url("/healthz")).timeout(Duration::from_millis(800)).send().await;
    assert!(blocked.is_err(), "a third connection was served while two slots were held");
    drop(hold_a);
    drop(hold_b);
    let served = client().get(daemon.url("/healthz")).timeout(Duration::from_secs(10)).send().await.unwrap();
    assert_eq!(served.status(), 200);
    daemon.stop().await;
}

/// `promtool check metrics` on what the real binary serves, as curl would fetch it.
#[test]
fn promtool_accepts_the_binary_metrics() {
    let config = config_file(LOOPBACK_ONLY);
    let daemon = BinaryDaemon::spawn(config.path(), &[]);
    let body = reqwest_blocking_get(&format!("http://{}/metrics", daemon.addr));
    let checked = promtool_check_metrics(&body);
    assert!(checked.0, "promtool check metrics failed:\n{}\n--- metrics ---\n{body}", checked.1);
}

fn reqwest_blocking_get(url: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async { client().get(url).send().await.unwrap().text().await.unwrap() })
}

#[test]
fn sigterm_exits_zero_within_five_seconds() {
    let config = config_file(LOOPBACK_ONLY);
    let mut daemon = BinaryDaemon::spawn(config.path(), &[]);
    // An idle keep-alive connection must not hold the drain open.
    let _idle = std::net::TcpStream::connect(daemon.addr).unwrap();
    let started = Instant::now();
    daemon.terminate();
    let code = daemon.wait_exit(Duration::from_secs(5));
    assert_eq!(code, Some(0), "exit code after SIGTERM (elapsed {:?})", started.elapsed());
}

#[test]
fn port_in_use_is_one_line_and_exit_one() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let config = config_file(LOOPBACK_ONLY);
    let out = Command::new(binary())
        .args(["--config"])
        .arg(config.path())
        .args(["--listen", &addr, "--log-level", "error"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&format!("cannot listen on {addr}")), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Text logs on a pipe (a container's log, a file) carry no terminal colour codes: the first run of
/// the image showed them in `podman logs`.
#[test]
fn text_logs_on_a_pipe_have_no_escape_codes() {
    use std::io::{BufRead, BufReader};
    let config = config_file(LOOPBACK_ONLY);
    let mut child = Command::new(binary())
        .arg("--config")
        .arg(config.path())
        .args(["--listen", "127.0.0.1:0", "--log-format", "text", "--log-level", "info"])
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines().map_while(Result::ok) {
        let listening = line.contains("claudewatch listening");
        lines.push(line);
        if listening {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let log = lines.join("\n");
    assert!(log.contains("claudewatch listening"), "{log}");
    assert!(!log.contains('\u{1b}'), "escape codes in a piped log: {log:?}");
}

#[test]
fn check_config_prints_effective_config_or_every_error() {
    let good = config_file("[server]\nlisten = \"127.0.0.1:9999\"\n");
    let out = Command::new(binary()).arg("check-config").arg(good.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("listen = \"127.0.0.1:9999\""), "{stdout}");
    assert!(stdout.contains("[ingest]"), "defaults are shown: {stdout}");

    let bad = config_file("[server]\nlisten = \"nope\"\n\n[sever]\n");
    let out = Command::new(binary()).arg("check-config").arg(bad.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let path = bad.path().display().to_string();
    assert!(stderr.contains(&format!("{path}:2:10: error:")), "{stderr}");
    assert!(stderr.contains(&format!("{path}:4:2: error: unknown section `sever`")), "{stderr}");

    let out = Command::new(binary()).args(["check-config", "/nonexistent.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read config file"));
}

#[test]
fn version_flag_prints_the_version() {
    let out = Command::new(binary()).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&format!("claudewatch {}", env!("CARGO_PKG_VERSION"))));
}

#[test]
fn healthcheck_command_checks_a_running_daemon() {
    let config = config_file(LOOPBACK_ONLY);
    let daemon = BinaryDaemon::spawn(config.path(), &[]);
    let ok = Command::new(binary()).args(["healthcheck", "--addr", &daemon.addr.to_string()]).status().unwrap();
    assert!(ok.success());
    drop(daemon);
    let closed = common::closed_port();
    let fail = Command::new(binary()).args(["healthcheck", "--addr", &closed.addr.to_string()]).output().unwrap();
    assert_eq!(fail.status.code(), Some(1));
}

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
async fn oversized_bodies_are_refused_before_routing() {
    let daemon = Daemon::start(LOOPBACK_ONLY).await;
    let big = vec![b'x'; claudewatch::http::DEFAULT_BODY_LIMIT + 1];
    let r = client().post(daemon.url("/metrics")).body(big).send().await.unwrap();
    assert!(r.status() == 405 || r.status() == 413, "got {}", r.status());
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
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let fail = Command::new(binary()).args(["healthcheck", "--addr", &closed.to_string()]).output().unwrap();
    assert_eq!(fail.status.code(), Some(1));
}

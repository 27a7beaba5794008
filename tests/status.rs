//! The status page layer end to end: the daemon polls the simulator's status page (driven
//! through `/_sim/status/…`) and `/metrics` follows incidents through their lifecycle, keeps
//! its last state through every kind of failure, and shows exactly the active entries of each
//! real feed in `tests/fixtures/statuspage/`.
//!
//! Everything runs on 127.0.0.1.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use claudewatch::sim::{SimHandle, Simulator};
use common::{BinaryDaemon, Daemon, Metrics, client, config_file, eventually, promtool_check_metrics};
use serde_json::{Value, json};

/// Generous: a poll every 200 ms, but the machine is shared and slow.
const WAIT: Duration = Duration::from_secs(15);

const POLLS: &str = "claudewatch_status_polls_total";
const INFO: &str = "claudewatch_status_incident_info";
const ACTIVE: &str = "claudewatch_status_incidents_active";
const MAINTENANCES: &str = "claudewatch_status_maintenances_active";
const UPCOMING: &str = "claudewatch_status_maintenances_upcoming";
const SEEN: &str = "claudewatch_status_incidents_seen_total";
const UP: &str = "claudewatch_status_up";

async fn sim() -> SimHandle {
    Simulator::default().start().await.expect("simulator starts")
}

/// Calls a control route; panics unless it answers 2xx. Returns the JSON answer.
async fn control(sim: &SimHandle, method: &str, path: &str, body: Option<Value>) -> Value {
    let http = client();
    let url = format!("{}{path}", sim.url());
    let mut request = match method {
        "POST" => http.post(&url),
        "PUT" => http.put(&url),
        "DELETE" => http.delete(&url),
        _ => http.get(&url),
    };
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{method} {path}: {status}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn open(sim: &SimHandle, body: Value) -> String {
    control(sim, "POST", "/_sim/status/incidents", Some(body)).await["id"].as_str().unwrap().to_owned()
}

async fn post_update(sim: &SimHandle, id: &str, state: &str) {
    control(sim, "POST", &format!("/_sim/status/incidents/{id}/updates"), Some(json!({"state": state}))).await;
}

fn page_config(name: &str, feed_url: &str, extra: &str) -> String {
    format!(
        "[[status_page]]\nname = \"{name}\"\nfeed_url = \"{feed_url}\"\ninterval = \"200ms\"\ntimeout = \"1s\"\n{extra}\n"
    )
}

fn config(pages: &[String]) -> String {
    format!("[server]\nlisten = \"127.0.0.1:0\"\n\n{}", pages.concat())
}

fn polls(m: &Metrics, page: &str, result: &str) -> f64 {
    m.value(POLLS, &[("page", page), ("result", result)])
}

/// The info series of `page`, as (id, state, kind).
fn info_set(m: &Metrics, page: &str) -> BTreeSet<(String, String, String)> {
    m.series(INFO)
        .filter(|(l, _)| l["page"] == page)
        .map(|(l, v)| {
            assert_eq!(v, 1.0);
            (l["id"].clone(), l["state"].clone(), l["kind"].clone())
        })
        .collect()
}

fn set(items: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    items.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect()
}

/// Waits for a scrape in which the page has completed at least `n` more successful polls than
/// `before` (so what the feed held after a change has been read).
async fn after_polls(daemon: &Daemon, page: &str, before: &Metrics, n: f64) -> Metrics {
    let ok_before = polls(before, page, "ok") + polls(before, page, "not_modified");
    eventually(daemon.addr, WAIT, "more successful polls", |m| {
        polls(m, page, "ok") + polls(m, page, "not_modified") >= ok_before + n
    })
    .await
}

/// Feed requests the page has answered so far.
async fn feed_requests(sim: &SimHandle) -> u64 {
    control(sim, "GET", "/_sim/status", None).await["requests"]["feed"].as_u64().unwrap()
}

/// Waits until the daemon has finished the first poll that started after now, then scrapes.
async fn within_one_poll(sim: &SimHandle, daemon: &Daemon) -> Metrics {
    let at_change = feed_requests(sim).await;
    let deadline = std::time::Instant::now() + WAIT;
    while feed_requests(sim).await < at_change + 2 {
        assert!(std::time::Instant::now() < deadline, "the daemon stopped polling");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    daemon.scrape().await
}

#[tokio::test]
async fn an_incident_lifecycle_shows_up_poll_by_poll() {
    let sim = sim().await;
    let feed = format!("{}/history.atom", sim.url());
    let daemon = Daemon::start(&config(&[page_config("sim", &feed, "")])).await;
    // Before any poll every bounded series is there at zero.
    let m = daemon.scrape().await;
    for result in ["ok", "not_modified", "http_error", "network_error", "parse_error"] {
        assert!(m.get(POLLS, &[("page", "sim"), ("result", result)]).is_some(), "{result} pre-created");
    }
    // The baseline poll of an empty page.
    let m = eventually(daemon.addr, WAIT, "first poll", |m| polls(m, "sim", "ok") >= 1.0).await;
    m.assert_value(ACTIVE, &[("page", "sim")], 0.0);
    m.assert_value(SEEN, &[("page", "sim")], 0.0);
    m.assert_value(UP, &[("page", "sim")], 1.0);
    assert!(m.value("claudewatch_status_last_success_timestamp_seconds", &[("page", "sim")]) > 1.7e9);
    assert!(info_set(&m, "sim").is_empty());

    // Each change must be on /metrics once the first poll that began after it has finished:
    // the daemon polls one request at a time, so when the page has seen two more requests
    // than it had at the change, that poll is done. No clock involved.
    let id = open(&sim, json!({"title": "Elevated errors on Claude Opus", "impact": "major"})).await;
    let m = within_one_poll(&sim, &daemon).await;
    assert_eq!(info_set(&m, "sim"), set(&[(&id, "investigating", "incident")]));
    m.assert_value(ACTIVE, &[("page", "sim")], 1.0);
    m.assert_value(
        INFO,
        &[
            ("page", "sim"),
            ("id", &id),
            ("title", "Elevated errors on Claude Opus"),
            ("state", "investigating"),
            ("kind", "incident"),
        ],
        1.0,
    );
    m.assert_value(SEEN, &[("page", "sim")], 1.0);
    let last_update = m.value("claudewatch_status_last_update_timestamp_seconds", &[("page", "sim")]);
    assert!(last_update > 1.7e9, "{last_update}");

    for state in ["identified", "monitoring"] {
        post_update(&sim, &id, state).await;
        let m = within_one_poll(&sim, &daemon).await;
        assert_eq!(info_set(&m, "sim"), set(&[(&id, state, "incident")]), "{state}");
        m.assert_value(ACTIVE, &[("page", "sim")], 1.0);
        m.assert_value(SEEN, &[("page", "sim")], 1.0);
    }

    post_update(&sim, &id, "resolved").await;
    let m = within_one_poll(&sim, &daemon).await;
    m.assert_value(ACTIVE, &[("page", "sim")], 0.0);
    assert!(info_set(&m, "sim").is_empty(), "the info series goes on resolve:\n{}", m.text);
    assert!(!m.text.contains(&id), "no series names the resolved incident");
    // More polls later: the counter moved exactly once.
    let m = after_polls(&daemon, "sim", &m, 3.0).await;
    m.assert_value(SEEN, &[("page", "sim")], 1.0);
    m.assert_value(ACTIVE, &[("page", "sim")], 0.0);
    daemon.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn maintenance_is_kept_apart_from_incidents() {
    let sim = sim().await;
    let feed = format!("{}/history.rss", sim.url());
    let daemon = Daemon::start(&config(&[page_config("rss", &feed, "")])).await;
    eventually(daemon.addr, WAIT, "first poll", |m| polls(m, "rss", "ok") >= 1.0).await;

    let id = open(&sim, json!({"title": "Database upgrade", "kind": "maintenance"})).await;
    let m = eventually(daemon.addr, WAIT, "scheduled", |m| m.value(UPCOMING, &[("page", "rss")]) == 1.0).await;
    assert!(info_set(&m, "rss").is_empty(), "upcoming maintenance is not active");
    m.assert_value(MAINTENANCES, &[("page", "rss")], 0.0);

    post_update(&sim, &id, "in_progress").await;
    let m = eventually(daemon.addr, WAIT, "in progress", |m| m.value(MAINTENANCES, &[("page", "rss")]) == 1.0).await;
    assert_eq!(info_set(&m, "rss"), set(&[(&id, "in_progress", "maintenance")]));
    m.assert_value(ACTIVE, &[("page", "rss")], 0.0);
    m.assert_value(UPCOMING, &[("page", "rss")], 0.0);

    post_update(&sim, &id, "verifying").await;
    eventually(daemon.addr, WAIT, "verifying", |m| info_set(m, "rss") == set(&[(&id, "verifying", "maintenance")]))
        .await;
    post_update(&sim, &id, "completed").await;
    let m = eventually(daemon.addr, WAIT, "completed", |m| m.value(MAINTENANCES, &[("page", "rss")]) == 0.0).await;
    assert!(info_set(&m, "rss").is_empty());
    m.assert_value(SEEN, &[("page", "rss")], 0.0);
    daemon.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn unchanged_feeds_cost_a_304_by_etag_or_by_date() {
    let sim = sim().await;
    let feed = format!("{}/history.atom", sim.url());
    let daemon = Daemon::start(&config(&[page_config("c", &feed, "")])).await;
    let m = eventually(daemon.addr, WAIT, "304s", |m| polls(m, "c", "not_modified") >= 2.0).await;
    assert_eq!(polls(&m, "c", "ok"), 1.0, "one full body, then only 304s");
    m.assert_value(UP, &[("page", "c")], 1.0);
    let state = control(&sim, "GET", "/_sim/status", None).await;
    let requests = &state["requests"];
    assert!(requests["not_modified"].as_u64().unwrap() >= 2, "{requests}");
    assert!(requests["last_if_none_match"].as_str().is_some_and(|v| v.starts_with('"')), "{requests}");
    let agent = requests["last_user_agent"].as_str().unwrap();
    assert_eq!(agent, claudewatch::telemetry::USER_AGENT);

    // A change gets through as a full body.
    let id = open(&sim, json!({"title": "Login failures"})).await;
    let m = eventually(daemon.addr, WAIT, "change seen", |m| m.value(ACTIVE, &[("page", "c")]) == 1.0).await;
    assert_eq!(polls(&m, "c", "ok"), 2.0);

    // A page that sends only Last-Modified: If-Modified-Since alone gets the 304s.
    control(&sim, "PUT", "/_sim/status/validators", Some(json!({"etag": false, "last_modified": true}))).await;
    let m = after_polls(&daemon, "c", &m, 2.0).await;
    let ok = polls(&m, "c", "ok");
    let not_modified = polls(&m, "c", "not_modified");
    let m = eventually(daemon.addr, WAIT, "304 by date", |m| polls(m, "c", "not_modified") >= not_modified + 2.0).await;
    assert!(polls(&m, "c", "ok") <= ok + 1.0, "at most the one body that dropped the ETag");
    let state = control(&sim, "GET", "/_sim/status", None).await;
    assert!(state["requests"]["last_if_modified_since"].as_str().is_some_and(|v| v.ends_with("GMT")), "{state}");
    assert_eq!(state["requests"]["last_if_none_match"], Value::Null);
    // The state survived all of it.
    assert_eq!(info_set(&m, "c"), set(&[(&id, "investigating", "incident")]));

    // A page that sends no validators: every poll is a full body, and still fine.
    control(&sim, "PUT", "/_sim/status/validators", Some(json!({"etag": false, "last_modified": false}))).await;
    let m = after_polls(&daemon, "c", &m, 2.0).await;
    let ok = polls(&m, "c", "ok");
    let m = eventually(daemon.addr, WAIT, "full bodies", |m| polls(m, "c", "ok") >= ok + 2.0).await;
    assert_eq!(info_set(&m, "c"), set(&[(&id, "investigating", "incident")]));
    daemon.stop().await;
    sim.stop().await;
}

/// Every failure: the daemon counts it under its result, says `up 0`, keeps the incident it
/// knew and keeps serving; once the fault clears it recovers.
#[tokio::test]
async fn failures_keep_the_last_state_and_are_counted() {
    let sim = sim().await;
    let feed = format!("{}/history.atom", sim.url());
    let daemon = Daemon::start(&config(&[page_config("f", &feed, "max_body_bytes = 65536")])).await;
    let id = open(&sim, json!({"title": "API latency"})).await;
    eventually(daemon.addr, WAIT, "incident", |m| m.value(ACTIVE, &[("page", "f")]) == 1.0).await;
    let known = set(&[(&id, "investigating", "incident")]);

    let faults: &[(Value, &str)] = &[
        (json!({"kind": "status", "status": 500}), "http_error"),
        (json!({"kind": "status", "status": 404}), "http_error"),
        (json!({"kind": "truncated"}), "parse_error"),
        (json!({"kind": "invalid"}), "parse_error"),
        (json!({"kind": "oversized", "bytes": 2_000_000}), "parse_error"),
        (json!({"kind": "slow", "delay": "3s"}), "network_error"),
        (json!({"kind": "stall", "delay": "3s"}), "network_error"),
        (json!({"kind": "redirect_loop"}), "http_error"),
    ];
    for (fault, result) in faults {
        let before = daemon.scrape().await;
        control(&sim, "PUT", "/_sim/status/fault", Some(fault.clone())).await;
        // While it fails, the state the page showed last stays, and the incident's later
        // updates stay unseen.
        let m = eventually(daemon.addr, WAIT, &format!("{fault} counted as {result}"), |m| {
            polls(m, "f", result) >= polls(&before, "f", result) + 2.0
        })
        .await;
        m.assert_value(UP, &[("page", "f")], 0.0);
        m.assert_value(ACTIVE, &[("page", "f")], 1.0);
        assert_eq!(info_set(&m, "f"), known, "{fault}");
        let last_success = m.value("claudewatch_status_last_success_timestamp_seconds", &[("page", "f")]);
        assert!(last_success > 1.7e9);
        control(&sim, "DELETE", "/_sim/status/fault", None).await;
        let m = eventually(daemon.addr, WAIT, "recovery", |m| m.value(UP, &[("page", "f")]) == 1.0).await;
        assert_eq!(info_set(&m, "f"), known);
        let health = client().get(daemon.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
    }
    // Through all of that, nothing was counted twice.
    daemon.scrape().await.assert_value(SEEN, &[("page", "f")], 1.0);
    daemon.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn an_unreachable_page_is_a_network_error_and_the_daemon_serves_on() {
    // A port nobody listens on.
    let closed = common::closed_port();
    let feed = format!("http://{}/history.atom", closed.addr);
    let daemon = Daemon::start(&config(&[page_config("down", &feed, "")])).await;
    let m = eventually(daemon.addr, WAIT, "network errors", |m| polls(m, "down", "network_error") >= 3.0).await;
    m.assert_value(UP, &[("page", "down")], 0.0);
    // No data yet: the timestamps are absent, not 0 (which `time() - x` would read as 56 years).
    m.assert_absent("claudewatch_status_last_success_timestamp_seconds", &[("page", "down")]);
    m.assert_absent("claudewatch_status_last_update_timestamp_seconds", &[("page", "down")]);
    m.assert_value(ACTIVE, &[("page", "down")], 0.0);
    let ready = client().get(daemon.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "a vendor page being down does not make the daemon unready");
    daemon.stop().await;
}

#[tokio::test]
async fn redirects_are_followed() {
    let sim = sim().await;
    let feed = format!("{}/redirect/history.atom", sim.url());
    let daemon = Daemon::start(&config(&[page_config("r", &feed, "")])).await;
    let id = open(&sim, json!({"title": "Redirected"})).await;
    let m = eventually(daemon.addr, WAIT, "via redirect", |m| m.value(ACTIVE, &[("page", "r")]) == 1.0).await;
    assert_eq!(info_set(&m, "r"), set(&[(&id, "investigating", "incident")]));
    daemon.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn the_summary_gives_components_indicator_and_impact() {
    let sim = sim().await;
    let summary = format!("summary_url = \"{}/api/v2/summary.json\"", sim.url());
    let page = page_config("s", &format!("{}/history.atom", sim.url()), &summary);
    let daemon = Daemon::start(&config(&[page])).await;
    let summary_polls = "claudewatch_status_json_polls_total";
    let component = "claudewatch_status_component";
    let m = eventually(daemon.addr, WAIT, "summary read", |m| {
        m.get(summary_polls, &[("page", "s"), ("result", "ok")]).unwrap_or(0.0) >= 1.0
    })
    .await;
    m.assert_value("claudewatch_status_indicator", &[("page", "s"), ("indicator", "none")], 1.0);
    for other in ["minor", "major", "critical", "unknown"] {
        m.assert_value("claudewatch_status_indicator", &[("page", "s"), ("indicator", other)], 0.0);
    }
    let names: BTreeSet<String> = m.series(component).map(|(l, _)| l["component"].clone()).collect();
    let expected: BTreeSet<String> =
        ["claude.ai", "Claude Code", "platform.claude.com", "Claude API (api.anthropic.com)"]
            .into_iter()
            .map(str::to_owned)
            .collect();
    assert_eq!(names, expected, "the group component is skipped");
    let states =
        ["operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance", "unknown"];
    for name in &expected {
        for state in states {
            let want = if state == "operational" { 1.0 } else { 0.0 };
            m.assert_value(component, &[("page", "s"), ("component", name), ("state", state)], want);
        }
    }

    let api = "Claude API (api.anthropic.com)";
    control(&sim, "PUT", &format!("/_sim/status/components/{api}"), Some(json!({"status": "partial_outage"}))).await;
    open(&sim, json!({"title": "Errors", "impact": "critical"})).await;
    let m = eventually(daemon.addr, WAIT, "outage", |m| {
        m.get(component, &[("page", "s"), ("component", api), ("state", "partial_outage")]) == Some(1.0)
            && m.get("claudewatch_status_indicator", &[("page", "s"), ("indicator", "critical")]) == Some(1.0)
    })
    .await;
    m.assert_value(component, &[("page", "s"), ("component", api), ("state", "operational")], 0.0);
    m.assert_value("claudewatch_status_indicator", &[("page", "s"), ("indicator", "none")], 0.0);
    m.assert_value("claudewatch_status_unresolved_incidents", &[("page", "s"), ("impact", "critical")], 1.0);
    m.assert_value("claudewatch_status_unresolved_incidents", &[("page", "s"), ("impact", "minor")], 0.0);

    // A state the daemon does not know is `unknown`, not an error.
    control(&sim, "PUT", "/_sim/status/components/claude.ai", Some(json!({"status": "on_fire"}))).await;
    let m = eventually(daemon.addr, WAIT, "unknown state", |m| {
        m.get(component, &[("page", "s"), ("component", "claude.ai"), ("state", "unknown")]) == Some(1.0)
    })
    .await;
    m.assert_value("claudewatch_status_json_up", &[("page", "s")], 1.0);

    // A failing summary keeps the component states and says so.
    control(&sim, "PUT", "/_sim/status/fault", Some(json!({"kind": "status", "status": 503, "target": "summary"})))
        .await;
    let m = eventually(daemon.addr, WAIT, "summary failing", |m| {
        m.get(summary_polls, &[("page", "s"), ("result", "http_error")]).unwrap_or(0.0) >= 2.0
    })
    .await;
    m.assert_value("claudewatch_status_json_up", &[("page", "s")], 0.0);
    m.assert_value(component, &[("page", "s"), ("component", api), ("state", "partial_outage")], 1.0);
    m.assert_value(UP, &[("page", "s")], 1.0);
    daemon.stop().await;
    sim.stop().await;
}

/// The real feeds, served verbatim: `/metrics` shows exactly the active entries each one holds.
#[tokio::test]
async fn each_fixture_shows_exactly_its_active_entries() {
    struct Case {
        page: &'static str,
        file: &'static str,
        info: &'static [(&'static str, &'static str, &'static str)],
        title: Option<(&'static str, &'static str)>,
        counts: (f64, f64, f64),
        newest: f64,
    }
    let cases = [
        Case {
            page: "digitalocean",
            file: "digitalocean-history.rss",
            info: &[("x0xytvsvky35", "in_progress", "maintenance")],
            title: Some(("x0xytvsvky35", "AMS3 Region Network Maintenance")),
            counts: (0.0, 1.0, 0.0),
            newest: 1_579_640_400.0,
        },
        Case {
            page: "moonpay",
            file: "moonpay-history.rss",
            info: &[],
            title: None,
            counts: (0.0, 0.0, 0.0),
            newest: 1_763_701_620.0,
        },
        Case {
            page: "parse",
            file: "parse-history.rss",
            info: &[],
            title: None,
            counts: (0.0, 0.0, 0.0),
            newest: 1_388_596_140.0,
        },
        Case {
            page: "github2023",
            file: "githubstatus-history-2023-02-08.atom",
            info: &[("cmsz976yn1km", "update", "incident")],
            title: Some(("cmsz976yn1km", "Incident with Codespaces")),
            counts: (1.0, 0.0, 1.0),
            newest: 1_675_828_500.0,
        },
        Case {
            page: "github2026",
            file: "githubstatus-history-2026-07-09.atom",
            info: &[("cstx3v63mklm", "update", "incident")],
            title: Some(("cstx3v63mklm", "Delays starting Actions runs")),
            counts: (1.0, 0.0, 0.0),
            newest: 1_783_576_860.0,
        },
    ];
    let mut sims = Vec::new();
    let mut pages = Vec::new();
    for case in &cases {
        let sim = sim().await;
        let body =
            std::fs::read(format!("{}/tests/fixtures/statuspage/{}", env!("CARGO_MANIFEST_DIR"), case.file)).unwrap();
        let response = client().put(format!("{}/_sim/status/feed", sim.url())).body(body).send().await.unwrap();
        assert!(response.status().is_success());
        pages.push(page_config(case.page, &format!("{}/history.atom", sim.url()), ""));
        sims.push(sim);
    }
    let daemon = Daemon::start(&config(&pages)).await;
    let m =
        eventually(daemon.addr, WAIT, "every fixture read", |m| cases.iter().all(|c| polls(m, c.page, "ok") >= 1.0))
            .await;
    for case in &cases {
        let page = case.page;
        assert_eq!(info_set(&m, page), set(case.info), "{}", case.file);
        m.assert_value(ACTIVE, &[("page", page)], case.counts.0);
        m.assert_value(MAINTENANCES, &[("page", page)], case.counts.1);
        m.assert_value(UPCOMING, &[("page", page)], case.counts.2);
        m.assert_value("claudewatch_status_last_update_timestamp_seconds", &[("page", page)], case.newest);
        m.assert_value(SEEN, &[("page", page)], 0.0);
        if let Some((id, title)) = case.title {
            let (labels, _) = m.series(INFO).find(|(l, _)| l["page"] == page && l["id"] == id).unwrap();
            assert_eq!(labels["title"], title);
        }
    }
    daemon.stop().await;
    for sim in sims {
        sim.stop().await;
    }
}

#[tokio::test]
async fn promtool_accepts_the_metrics_of_a_watched_page() {
    let sim = sim().await;
    let summary = format!("summary_url = \"{}/api/v2/summary.json\"", sim.url());
    let page = page_config("anthropic", &format!("{}/history.atom", sim.url()), &summary);
    let daemon = Daemon::start(&config(&[page])).await;
    open(&sim, json!({"title": "Errors with \"quotes\", a \\ backslash and ünïcode", "impact": "major"})).await;
    open(&sim, json!({"title": "Maintenance", "kind": "maintenance", "state": "in_progress"})).await;
    control(&sim, "PUT", "/_sim/status/components/claude.ai", Some(json!({"status": "major_outage"}))).await;
    let m = eventually(daemon.addr, WAIT, "both read", |m| {
        m.value(ACTIVE, &[("page", "anthropic")]) == 1.0
            && m.value(MAINTENANCES, &[("page", "anthropic")]) == 1.0
            && m.get(
                "claudewatch_status_component",
                &[("page", "anthropic"), ("component", "claude.ai"), ("state", "major_outage")],
            ) == Some(1.0)
    })
    .await;
    let (passed, output) = promtool_check_metrics(&m.text);
    assert!(passed, "promtool check metrics failed:\n{output}\n--- metrics ---\n{}", m.text);
    for family in [
        "claudewatch_status_incidents_active gauge",
        "claudewatch_status_incident_info gauge",
        "claudewatch_status_incidents_seen_total counter",
        "claudewatch_status_polls_total counter",
        "claudewatch_status_poll_duration_seconds histogram",
        "claudewatch_status_last_update_timestamp_seconds gauge",
        "claudewatch_status_last_success_timestamp_seconds gauge",
    ] {
        assert!(m.text.contains(&format!("# TYPE {family}")), "{family}:\n{}", m.text);
    }
    daemon.stop().await;
    sim.stop().await;
}

/// The real binary logs each change once, with the title and the link.
#[tokio::test]
async fn incident_changes_are_logged_with_title_and_link() {
    let sim = sim().await;
    let feed = format!("{}/history.atom", sim.url());
    let file = config_file(&config(&[page_config("logged", &feed, "")]));
    let daemon = BinaryDaemon::spawn(file.path(), &[]);
    let addr = daemon.addr;
    eventually(addr, WAIT, "first poll", |m| polls(m, "logged", "ok") >= 1.0).await;
    let id = open(&sim, json!({"title": "Claude Code sessions failing"})).await;
    eventually(addr, WAIT, "appeared", |m| m.value(ACTIVE, &[("page", "logged")]) == 1.0).await;
    post_update(&sim, &id, "identified").await;
    eventually(addr, WAIT, "identified", |m| info_set(m, "logged") == set(&[(&id, "identified", "incident")])).await;
    post_update(&sim, &id, "resolved").await;
    let m = eventually(addr, WAIT, "resolved", |m| m.value(ACTIVE, &[("page", "logged")]) == 0.0).await;
    after_polls_binary(addr, &m).await;

    let logs: Vec<Value> = daemon.logs().iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let about: Vec<&Value> = logs.iter().filter(|l| l["id"] == id.as_str()).collect();
    let messages: Vec<&str> = about.iter().map(|l| l["message"].as_str().unwrap()).collect();
    assert_eq!(
        messages,
        ["status page incident appeared", "status page incident changed state", "status page incident ended"],
        "{about:#?}"
    );
    for line in &about {
        assert_eq!(line["title"], "Claude Code sessions failing");
        assert_eq!(line["page"], "logged");
        assert!(line["link"].as_str().unwrap().ends_with(&format!("/incidents/{id}")), "{line}");
    }
    assert_eq!(about[1]["from"], "investigating");
    assert_eq!(about[1]["state"], "identified");
    assert_eq!(about[2]["state"], "resolved");
    // The end says how long the daemon watched it: seconds, on a test that takes a few.
    let seen_for = about[2]["seen_for"].as_str().unwrap_or_else(|| panic!("no seen_for: {:#?}", about[2]));
    let seen_for = humantime::parse_duration(seen_for).unwrap();
    assert!(seen_for < WAIT * 3, "{seen_for:?}");
    sim.stop().await;
}

/// A few more polls of the binary daemon, so its last log lines have been written.
async fn after_polls_binary(addr: std::net::SocketAddr, before: &Metrics) {
    let ok = polls(before, "logged", "ok") + polls(before, "logged", "not_modified");
    eventually(addr, WAIT, "more polls", |m| polls(m, "logged", "ok") + polls(m, "logged", "not_modified") >= ok + 2.0)
        .await;
}

/// The oversized body is a valid feed if read whole: only the cap makes it a failure.
#[tokio::test]
async fn oversized_bodies_fail_only_because_of_the_cap() {
    let sim = sim().await;
    let id = open(&sim, json!({"title": "Big"})).await;
    control(&sim, "PUT", "/_sim/status/fault", Some(json!({"kind": "oversized", "bytes": 1_000_000}))).await;
    let feed = format!("{}/history.atom", sim.url());
    let pages = [
        page_config("small", &feed, "max_body_bytes = 100000"),
        page_config("large", &feed, "max_body_bytes = 2000000"),
    ];
    let daemon = Daemon::start(&config(&pages)).await;
    let m = eventually(daemon.addr, WAIT, "both polled", |m| {
        polls(m, "small", "parse_error") >= 2.0 && polls(m, "large", "ok") >= 2.0
    })
    .await;
    assert_eq!(polls(&m, "small", "ok"), 0.0);
    assert_eq!(polls(&m, "large", "parse_error"), 0.0);
    assert_eq!(info_set(&m, "large"), set(&[(&id, "investigating", "incident")]));
    assert!(info_set(&m, "small").is_empty());
    daemon.stop().await;
    sim.stop().await;
}

/// The control routes say what is wrong with a request.
#[tokio::test]
async fn the_sim_control_routes_refuse_bad_requests_clearly() {
    let sim = sim().await;
    let http = client();
    let cases: &[(&str, &str, &str, u16, &str)] = &[
        ("POST", "/_sim/status/incidents", r#"{"title": "x", "state": "fixed"}"#, 400, "unknown state \"fixed\""),
        ("POST", "/_sim/status/incidents", r#"{"title": "x", "kind": "outage"}"#, 400, "unknown kind"),
        ("POST", "/_sim/status/incidents", r#"{"titel": "x"}"#, 400, "unknown field `titel`"),
        ("POST", "/_sim/status/incidents/nope/updates", r#"{"state": "resolved"}"#, 404, "no incident \"nope\""),
        ("PUT", "/_sim/status/fault", r#"{"kind": "explode"}"#, 400, "unknown variant `explode`"),
        ("PUT", "/_sim/status/fault", r#"{"kind": "status", "status": 200}"#, 400, "HTTP error status"),
        ("PUT", "/_sim/status/fault", r#"{"kind": "slow", "delay": "soon"}"#, 400, "invalid delay"),
    ];
    for (method, path, body, status, needle) in cases {
        let url = format!("{}{path}", sim.url());
        let request = if *method == "POST" { http.post(&url) } else { http.put(&url) };
        let response = request.header("content-type", "application/json").body(*body).send().await.unwrap();
        assert_eq!(response.status().as_u16(), *status, "{method} {path} {body}");
        let answer: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{method} {path} {body}: {message}");
    }
    sim.stop().await;
}

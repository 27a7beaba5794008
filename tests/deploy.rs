//! Every deployment file, checked by the tool its users will feed it to: the Dockerfile by
//! hadolint, the Prometheus config and rules by promtool (including the rules' unit tests), the
//! Alertmanager config by amtool, the compose file by docker-compose, the Kubernetes manifests by
//! kubernetes-validate, the dashboards by Grafana's schema types under tsc. Generated files are
//! checked to be current. A missing tool fails the test (CI installs them all).

mod common;

use std::collections::BTreeSet;

use common::tools::{self, both, read, repo_file, run, run_ok, tool};

const RULES: &str = "deploy/prometheus/rules/claudewatch.rules.yml";
const RULE_TESTS: &str = "deploy/prometheus/rules/claudewatch.rules.test.yml";
const COMPOSE: &str = "deploy/compose/compose.yaml";

// --- Dockerfile ---------------------------------------------------------------------------

#[test]
fn dockerfile_passes_hadolint() {
    run_ok(tool("hadolint"), ["Dockerfile"]);
}

#[test]
fn dockerfile_builds_locked_release_and_runs_unprivileged() {
    let dockerfile = read("Dockerfile");
    let stages = dockerfile.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(stages >= 2, "the Dockerfile should be multi-stage");
    assert!(dockerfile.contains("cargo build --release --locked"), "the builder must build the locked release");
    let user = dockerfile.lines().rev().find_map(|l| l.strip_prefix("USER ")).expect("no USER line");
    let uid: u32 =
        user.split(':').next().unwrap().trim().parse().expect("USER should be numeric (runAsNonRoot checks it)");
    assert_ne!(uid, 0, "the image must not run as root");
    assert!(dockerfile.contains("EXPOSE 9464"));
    assert!(dockerfile.contains("COPY config/claudewatch.toml"), "the image carries the default config");
    // Everything a Cargo target needs is in the build context and copied in.
    for needed in ["Cargo.toml", "Cargo.lock", "build.rs", "src"] {
        assert!(dockerfile.contains(needed), "the builder does not copy {needed}");
    }
    let dockerignore = read(".dockerignore");
    for ignored in ["target/", ".git/"] {
        assert!(dockerignore.lines().any(|l| l.trim() == ignored), ".dockerignore must keep {ignored} out");
    }
    for copied in ["src", "config", "Cargo.toml", "Cargo.lock", "build.rs"] {
        assert!(
            !dockerignore.lines().any(|l| l.trim().trim_end_matches('/') == copied),
            ".dockerignore hides {copied}"
        );
    }
}

/// The HEALTHCHECK line, run as written (with the address pointed at a test daemon), passes
/// against a running daemon and fails against a closed port.
#[tokio::test]
async fn dockerfile_healthcheck_command_works() {
    let dockerfile = read("Dockerfile");
    let joined = dockerfile.replace("\\\n", " ");
    let line = joined.lines().find(|l| l.starts_with("HEALTHCHECK")).expect("no HEALTHCHECK");
    let json = &line[line.find("CMD [").expect("HEALTHCHECK should use the exec form") + 4..];
    let argv: Vec<String> = serde_json::from_str(json.trim()).expect("HEALTHCHECK CMD is not a JSON array");
    assert_eq!(argv[0], "/usr/local/bin/claudewatch");
    assert!(dockerfile.contains("COPY --from=builder /out/claudewatch /usr/local/bin/claudewatch"));
    let addr_at = argv.iter().position(|a| a == "--addr").expect("healthcheck --addr") + 1;
    assert_eq!(argv[addr_at], "127.0.0.1:9464", "the HEALTHCHECK must ask the default port");

    let daemon = common::Daemon::start("[ingest]\nenabled = true\n").await;
    let with_addr = |addr: String| {
        let mut args = argv[1..].to_vec();
        args[addr_at - 1] = addr;
        args
    };
    let healthy = tokio::task::spawn_blocking({
        let args = with_addr(daemon.addr.to_string());
        move || run(common::binary(), args)
    })
    .await
    .unwrap();
    assert!(healthy.status.success(), "healthcheck failed against a running daemon: {}", both(&healthy));
    daemon.stop().await;

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let down = run(common::binary(), with_addr(closed_addr.to_string()));
    assert!(!down.status.success(), "healthcheck passed with nothing listening");
}

// --- Prometheus ---------------------------------------------------------------------------

#[test]
fn prometheus_config_and_rules_pass_promtool() {
    let out = run_ok(tool("promtool"), ["check", "config", "deploy/prometheus/prometheus.yml"]);
    assert!(out.contains("claudewatch.rules.yml"), "prometheus.yml does not load the rules: {out}");
    run_ok(tool("promtool"), ["check", "rules", RULES]);
}

#[test]
fn alert_rule_unit_tests_pass() {
    let out = run(tool("promtool"), ["test", "rules", RULE_TESTS]);
    assert!(out.status.success(), "promtool test rules failed:\n{}", both(&out));
}

/// The alerts of the rules file: (name, the text of its rule).
fn alerts() -> Vec<(String, String)> {
    alerts_in(RULES)
}

/// The alerts of a rules file: (name, the text of its rule).
fn alerts_in(path: &str) -> Vec<(String, String)> {
    let rules = read(path);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in rules.lines() {
        if let Some(name) = line.trim_start().strip_prefix("- alert: ") {
            out.push((name.trim().to_owned(), String::new()));
        } else if line.trim_start().starts_with("- record:") || line.starts_with("  - name:") {
            out.push((String::new(), String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out.retain(|(name, _)| !name.is_empty());
    out
}

#[test]
fn the_issue_s_alerts_exist() {
    let names: BTreeSet<String> = alerts().into_iter().map(|(n, _)| n).collect();
    for expected in [
        "ClaudeProbeFailureRatioHigh",
        "ClaudeConnectionResets",
        "ClaudeOverloaded",
        "ClaudeRateLimited",
        "ClaudeProbeLatencyHigh",
        "ClaudeProbeStale",
        "ClaudeStatusIncidentActive",
        "ClaudewatchStatusFeedFailing",
        "ClaudeClientRetryExhaustionHigh",
        "ClaudeClientRetryRateHigh",
        "ClaudewatchLocalNetworkSuspected",
        "ClaudewatchDown",
    ] {
        assert!(names.contains(expected), "alert {expected} is missing from {RULES}");
    }
}

/// Every alert says what it is, what happened and what to check first, has a severity that
/// alertmanager.yml routes, is tested firing and silent, and is listed in the README.
#[test]
fn every_alert_is_annotated_tested_and_documented() {
    let all = alerts();
    assert!(all.len() >= 12, "found only {} alerts", all.len());
    check_alerts(&all, &read(RULE_TESTS));
}

/// Each alert has the three annotations (the runbook saying what to check first), a severity
/// alertmanager.yml routes, a unit test in `tests` that shows it firing, and a line in the README.
fn check_alerts(all: &[(String, String)], tests: &str) {
    let readme = read("README.md");
    for (name, body) in all {
        for key in ["summary:", "description:", "runbook:"] {
            assert!(body.contains(key), "alert {name} has no {key} annotation");
        }
        let severity = body.lines().find_map(|l| l.trim().strip_prefix("severity: ")).unwrap_or("");
        assert!(["critical", "warning", "info"].contains(&severity), "alert {name} has severity {severity:?}");
        let runbook = body.split("runbook:").nth(1).unwrap_or("");
        assert!(runbook.contains("first"), "the runbook of {name} does not say what to check first");
        let fires = tests.contains(&format!("alertname=\"{name}\",alertstate=\"firing\""))
            || tests.contains(&format!("alertname: {name}\n        exp_alerts:\n          -"));
        assert!(fires, "no unit test shows {name} firing");
        assert!(readme.contains(&format!("`{name}`")), "README does not list alert {name}");
    }
}

// --- Several regions: federation -----------------------------------------------------------

const FEDERATION: &str = "deploy/prometheus/federation";

fn federation(file: &str) -> String {
    format!("{FEDERATION}/{file}")
}

/// The names a rules file records.
fn recorded(path: &str) -> Vec<String> {
    read(path).lines().filter_map(|l| l.trim().strip_prefix("- record: ")).map(|n| n.trim().to_owned()).collect()
}

#[test]
fn federation_configs_pass_promtool() {
    let regional = run_ok(tool("promtool"), ["check", "config", &federation("regional.yml")]);
    for rules in ["claudewatch.rules.yml", "regional.rules.yml"] {
        assert!(regional.contains(rules), "regional.yml does not load {rules}: {regional}");
    }
    let global = run_ok(tool("promtool"), ["check", "config", &federation("global.yml")]);
    assert!(global.contains("global.rules.yml"), "global.yml does not load global.rules.yml: {global}");
    run_ok(tool("promtool"), ["check", "config", &federation("remote-write.yml")]);
}

#[test]
fn federation_rule_unit_tests_pass() {
    for tests in ["regional.rules.test.yml", "global.rules.test.yml"] {
        let out = run(tool("promtool"), ["test", "rules", &federation(tests)]);
        assert!(out.status.success(), "promtool test rules {tests} failed:\n{}", both(&out));
    }
}

#[test]
fn every_global_alert_is_annotated_tested_and_documented() {
    let all = alerts_in(&federation("global.rules.yml"));
    let names: BTreeSet<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    for expected in
        ["ClaudeApiOutageGlobal", "ClaudeApiOutageRegional", "ClaudewatchVantagePointDown", "ClaudewatchQuorumLost"]
    {
        assert!(names.contains(expected), "alert {expected} is missing from global.rules.yml");
    }
    check_alerts(&all, &read(&federation("global.rules.test.yml")));
}

/// The quorum's share is a number to edit: set to half, five vantage points of which two see an
/// outage are two regional outages; once two others stop reporting, the same two are a global
/// one (absent is not healthy). The default quorum (2, no share) fails that test.
#[test]
fn the_quorum_can_be_a_share_of_the_vantage_points_that_report() {
    let rules = read(&federation("global.rules.yml"));
    let default = "clamp_min(ceil(0 * global:claudewatch_vantage_points_judging:count), 2)";
    assert!(rules.contains(default), "the quorum line changed: update this test");
    let dir = tempfile::tempdir().unwrap();
    let test = dir.path().join("quorum-share.test.yml");
    std::fs::copy(repo_file("tests/fixtures/federation/quorum-share.test.yml"), &test).unwrap();
    let promtool = |rules: &str| {
        std::fs::write(dir.path().join("global.rules.yml"), rules).unwrap();
        run(tool("promtool"), [std::ffi::OsStr::new("test"), "rules".as_ref(), test.as_os_str()])
    };
    assert!(!promtool(&rules).status.success(), "the share test passes without a share");
    let share = rules.replace(default, "clamp_min(ceil(0.5 * global:claudewatch_vantage_points_judging:count), 2)");
    let out = promtool(&share);
    assert!(out.status.success(), "promtool test rules with a share of 0.5 failed:\n{}", both(&out));
}

/// The global level reads only what the regions send: the names regional.rules.yml records
/// (all `region_…:claudewatch_…`, what global.yml's `match[]` and remote-write.yml's filter
/// select) and `up{job="claudewatch"}`.
#[test]
fn the_global_level_reads_only_what_the_regions_send() {
    let regional = recorded(&federation("regional.rules.yml"));
    assert!(regional.len() >= 4, "{regional:?}");
    for name in &regional {
        assert!(name.starts_with("region_") && name.contains(":claudewatch_"), "{name} is not matched by match[]");
    }
    let global = read(&federation("global.yml"));
    for needle in [
        "metrics_path: /federate",
        "honor_labels: true",
        "'{__name__=~\"region_.+:claudewatch_.+\"}'",
        "'up{job=\"claudewatch\"}'",
        "job_name: claudewatch-federate",
    ] {
        assert!(global.contains(needle), "global.yml lacks {needle}");
    }
    let remote_write = read(&federation("remote-write.yml"));
    assert!(remote_write.contains("regex: \"region_.+:claudewatch_.+;.*|up;claudewatch\""), "{remote_write}");
    let global_rules = read(&federation("global.rules.yml"));
    let recorded_by_global = recorded(&federation("global.rules.yml"));
    let read_by_global: BTreeSet<&str> = global_rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| t.starts_with("region_") && t.contains(':') && !recorded_by_global.iter().any(|r| r == t))
        .collect();
    assert!(!read_by_global.is_empty());
    for name in read_by_global {
        assert!(regional.iter().any(|r| r == name), "global.rules.yml reads {name}, which no region records");
    }
}

// --- Alertmanager -------------------------------------------------------------------------

#[test]
fn alertmanager_config_passes_amtool_and_routes_by_severity() {
    let config = "deploy/alertmanager/alertmanager.yml";
    run_ok(tool("amtool"), ["check-config", config]);
    let route = |labels: &[&str]| {
        let mut args = vec!["config", "routes", "test", "--config.file", config];
        args.extend_from_slice(labels);
        run_ok(tool("amtool"), args).trim().to_owned()
    };
    assert_eq!(route(&["severity=critical", "alertname=ClaudeProbeFailureRatioHigh"]), "pagerduty-and-slack");
    assert_eq!(route(&["severity=warning", "alertname=ClaudeConnectionResets"]), "slack");
    assert_eq!(route(&["severity=info", "alertname=ClaudeStatusIncidentActive"]), "slack");
    // Secrets come from files, never inline.
    let text = read(config);
    assert!(text.contains("slack_api_url_file:") && text.contains("routing_key_file:"));
    for inline in ["slack_api_url:", "api_url:", "routing_key:", "service_key:"] {
        assert!(!text.lines().any(|l| l.trim_start().starts_with(inline)), "{config} has an inline secret {inline}");
    }
    // Every severity the rules use is routed by a matcher or the default route.
    for (name, body) in alerts() {
        assert!(body.contains("severity:"), "{name} has no severity");
    }
}

// --- Compose ------------------------------------------------------------------------------

#[test]
fn compose_file_is_accepted_by_docker_compose() {
    let compose = tool("docker-compose");
    let plain = run_ok(&compose, ["-f", COMPOSE, "config"]);
    let demo = run_ok(&compose, ["-f", COMPOSE, "--profile", "demo", "config"]);
    for service in ["claudewatch:", "prometheus:", "alertmanager:", "grafana:", "simulator:", "claudewatch-demo:"] {
        assert!(demo.contains(&format!("\n  {service}\n")), "compose has no service {service}");
    }
    assert!(demo.contains("econnreset-wave"), "the demo simulator does not run the econnreset-wave scenario");
    // Every host path the stack mounts exists in the repository.
    let mut mounted = 0;
    for line in plain.lines().chain(demo.lines()) {
        let entry = line.trim().trim_start_matches("- ");
        let Some(host) = entry.split(':').next() else { continue };
        if host.starts_with('/') && entry.contains(":/") {
            assert!(std::path::Path::new(host).exists(), "compose mounts {host}, which does not exist");
            mounted += 1;
        }
        if let Some(file) = entry.strip_prefix("file: ") {
            assert!(std::path::Path::new(file).exists(), "compose secret file {file} does not exist");
        }
    }
    assert!(mounted >= 5, "expected the config, rules, provisioning and dashboard mounts; saw {mounted}");
}

/// The demo daemon's config loads; its only warnings are the ones its comments explain (plain
/// http to the simulator on the compose network).
#[test]
fn compose_demo_config_is_valid() {
    let out = run(common::binary(), ["check-config", "deploy/compose/claudewatch-demo.toml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "claudewatch check-config rejects the demo config:\n{}", both(&out));
    for line in stderr.lines().filter(|l| l.contains("warning")) {
        assert!(line.contains("plain http to a non-loopback host"), "unexpected warning: {line}");
    }
    let effective = String::from_utf8_lossy(&out.stdout);
    assert!(
        effective.contains("base_url = \"http://simulator:8089\""),
        "the demo probes do not point at the simulator"
    );
}

/// The demo profile's app: run 60× faster against a simulator and a daemon at that speed, it
/// walks the simulated status page's incident to resolved and reports its calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_demo_driver_drives_the_status_page_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, sim) = tools::simulator("econnreset-wave", &["--time-scale", "60"], dir.path());
    let daemon = common::Daemon::start(&format!(
        "[[status_page]]\nname = \"sim\"\nfeed_url = \"{sim}/history.atom\"\ninterval = \"200ms\"\ntimeout = \"1s\"\n\
         [ingest]\nenabled = true\n"
    ))
    .await;
    let driver = tools::Proc::spawn(
        "demo-driver",
        std::process::Command::new(tools::python())
            .arg(repo_file("deploy/compose/demo-driver.py"))
            .args(["--api-url", &sim, "--daemon-url", &daemon.url(""), "--speed", "60", "--threads", "2"])
            .env("PYTHONPATH", repo_file("clients/python/src"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped()),
    );
    let out =
        tokio::task::spawn_blocking(move || driver.wait_output(std::time::Duration::from_secs(90))).await.unwrap();
    for state in ["investigating", "identified", "monitoring", "resolved"] {
        assert!(out.contains(&format!("is {state}")), "the driver did not post {state}:\n{out}");
    }
    assert!(out.contains(" 0 dropped"), "{out}");
    let metrics = daemon.scrape().await;
    assert!(metrics.sum("claudewatch_client_calls_total", &[("service", "demo-checkout")]) > 0.0, "{}", metrics.text);
    assert!(
        metrics.sum("claudewatch_client_retries_total", &[("service", "demo-checkout")]) > 0.0,
        "no retries in the wave"
    );
    metrics.assert_value("claudewatch_status_incidents_seen_total", &[("page", "sim")], 1.0);
    metrics.assert_value("claudewatch_status_incidents_active", &[("page", "sim")], 0.0);
    daemon.stop().await;
}

#[test]
fn grafana_provisioning_points_at_the_repository_dashboards() {
    let compose = read(COMPOSE);
    assert!(compose.contains("../../dashboards:/var/lib/grafana/dashboards/claudewatch:ro"));
    let provider = read("deploy/compose/grafana/provisioning/dashboards/claudewatch.yml");
    assert!(provider.contains("path: /var/lib/grafana/dashboards/claudewatch"));
    let datasource = read("deploy/compose/grafana/provisioning/datasources/prometheus.yml");
    assert!(datasource.contains("url: http://prometheus:9090") && datasource.contains("type: prometheus"));
}

// --- Kubernetes ---------------------------------------------------------------------------

const K8S_CORE: [&str; 6] = [
    "deploy/kubernetes/namespace.yaml",
    "deploy/kubernetes/serviceaccount.yaml",
    "deploy/kubernetes/configmap.yaml",
    "deploy/kubernetes/deployment.yaml",
    "deploy/kubernetes/service.yaml",
    "deploy/kubernetes/secret.example.yaml",
];

#[test]
fn kubernetes_core_objects_validate() {
    let mut args = vec!["--strict"];
    args.extend_from_slice(&K8S_CORE);
    let out = run(tool("kubernetes-validate"), args);
    let text = both(&out);
    assert!(out.status.success(), "kubernetes-validate failed:\n{text}");
    assert_eq!(
        text.matches(" passed for resource ").count(),
        K8S_CORE.len(),
        "not every object was validated:\n{text}"
    );
}

#[test]
fn kustomization_lists_every_manifest() {
    let kustomization = read("deploy/kubernetes/kustomization.yaml");
    let listed: BTreeSet<String> = kustomization
        .lines()
        .skip_while(|l| !l.starts_with("resources:"))
        .skip(1)
        .take_while(|l| l.starts_with("  - "))
        .map(|l| l.trim_start_matches("  - ").trim().to_owned())
        .collect();
    let present: BTreeSet<String> = std::fs::read_dir(repo_file("deploy/kubernetes"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml" && n != "secret.example.yaml")
        .collect();
    assert_eq!(listed, present, "kustomization.yaml resources differ from the manifests in deploy/kubernetes");
    for kind in
        ["kind: ServiceMonitor", "kind: PrometheusRule", "kind: Deployment", "kind: Service\n", "kind: ConfigMap"]
    {
        let found = present.iter().any(|f| read(&format!("deploy/kubernetes/{f}")).contains(kind));
        assert!(found, "no manifest has {kind}");
    }
}

#[test]
fn kubernetes_deployment_is_hardened() {
    let d = read("deploy/kubernetes/deployment.yaml");
    for needle in [
        "runAsNonRoot: true",
        "readOnlyRootFilesystem: true",
        "allowPrivilegeEscalation: false",
        "drop: [\"ALL\"]",
        "type: RuntimeDefault",
        "path: /healthz",
        "path: /readyz",
        "requests:",
        "limits:",
        "secretKeyRef:",
        "name: claudewatch-config",
    ] {
        assert!(d.contains(needle), "deployment.yaml lacks {needle}");
    }
    assert!(!d.contains("value: sk-"), "a key is inlined in deployment.yaml");
}

/// prometheusrule.yaml and configmap.yaml are generated from the rules file and the default
/// config; the committed copies must be what generate.sh writes now.
#[test]
fn kubernetes_generated_manifests_are_current() {
    let dir = tempfile::tempdir().unwrap();
    run_ok("bash", [repo_file("deploy/kubernetes/generate.sh").as_os_str(), dir.path().as_os_str()]);
    for file in ["prometheusrule.yaml", "prometheusrule-vantage.yaml", "global/prometheusrule.yaml", "configmap.yaml"] {
        let fresh = std::fs::read_to_string(dir.path().join(file)).unwrap();
        let committed = read(&format!("deploy/kubernetes/{file}"));
        assert!(
            fresh == committed,
            "deploy/kubernetes/{file} is out of date: run deploy/kubernetes/generate.sh and commit the result"
        );
    }
    // Each PrometheusRule's spec is a rules file promtool accepts, with the same rules.
    for (file, source) in [
        ("prometheusrule.yaml", RULES.to_owned()),
        ("prometheusrule-vantage.yaml", federation("regional.rules.yml")),
        ("global/prometheusrule.yaml", federation("global.rules.yml")),
    ] {
        let rule = std::fs::read_to_string(dir.path().join(file)).unwrap();
        let spec: String = rule
            .lines()
            .skip_while(|l| *l != "spec:")
            .skip(1)
            .map(|l| format!("{}\n", l.strip_prefix("  ").unwrap_or(l)))
            .collect();
        let spec_file = dir.path().join("spec.rules.yml");
        std::fs::write(&spec_file, spec).unwrap();
        let out = run_ok(tool("promtool"), [std::ffi::OsStr::new("check"), "rules".as_ref(), spec_file.as_os_str()]);
        let original = run_ok(tool("promtool"), ["check", "rules", &source]);
        let count = |s: &str| s.lines().find(|l| l.contains("rules found")).map(|l| l.trim().to_owned());
        assert_eq!(count(&out), count(&original), "{file}");
    }
}

/// The per-region overlay: the base plus a `region` label that the ServiceMonitor copies onto
/// every series. (kustomize itself is not installed in CI; the overlay was rendered with
/// kustomize 5.5 and its core objects validated when it was written.)
#[test]
fn kubernetes_region_overlay_names_its_vantage_point() {
    let monitor = read("deploy/kubernetes/servicemonitor.yaml");
    assert!(monitor.contains("  targetLabels: [region]\n"), "the ServiceMonitor does not copy the region label");
    let overlays = repo_file("deploy/kubernetes-overlays");
    let mut seen = 0;
    for entry in std::fs::read_dir(&overlays).unwrap() {
        let dir = entry.unwrap().path();
        let region = dir.file_name().unwrap().to_string_lossy().into_owned();
        // A Kubernetes label value: at most 63 of [A-Za-z0-9_.-], alphanumeric at both ends.
        let valid = region.len() <= 63
            && region.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && region.starts_with(|c: char| c.is_ascii_alphanumeric())
            && region.ends_with(|c: char| c.is_ascii_alphanumeric());
        assert!(valid, "{region} is not a valid label value");
        let k = std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap();
        assert!(k.contains("resources:\n  - ../../kubernetes\n"), "{region}: the overlay does not build on the base");
        assert!(
            k.contains(&format!("      region: {region}\n")),
            "{region}: the region label is not the directory's name"
        );
        assert!(
            k.contains("    includeSelectors: false\n"),
            "{region}: a region label in the selectors breaks upgrades"
        );
        seen += 1;
    }
    assert!(seen >= 1, "no overlay in deploy/kubernetes-overlays");
    let global = read("deploy/kubernetes/global/kustomization.yaml");
    assert!(global.contains("resources:\n  - prometheusrule.yaml\n"), "{global}");
}

#[test]
fn kubernetes_configmap_holds_a_valid_config() {
    let configmap = read("deploy/kubernetes/configmap.yaml");
    let toml: String = configmap
        .lines()
        .skip_while(|l| !l.starts_with("  claudewatch.toml: |"))
        .skip(1)
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    assert!(toml.contains("[server]"));
    let file = common::config_file(&toml);
    let out = run(common::binary(), [std::ffi::OsStr::new("check-config"), file.path().as_os_str()]);
    assert!(out.status.success(), "check-config rejects the ConfigMap's config:\n{}", both(&out));
}

// --- Grafana dashboards -------------------------------------------------------------------

fn dashboard_check(files: &[&std::path::Path]) -> std::process::Output {
    let node_modules = repo_file("dashboards/check/node_modules/@grafana/schema");
    assert!(node_modules.is_dir(), "dashboards/check/node_modules is missing: run .ci/install.sh (npm ci)");
    let mut args = vec![repo_file("dashboards/check/check.mjs").into_os_string()];
    args.extend(files.iter().map(|f| f.as_os_str().to_owned()));
    run(tool("node"), args)
}

#[test]
fn dashboards_pass_grafana_schema_and_panel_checks() {
    let out = dashboard_check(&[]);
    assert!(out.status.success(), "dashboard check failed:\n{}", both(&out));
    let overview = read("dashboards/claudewatch-overview.json");
    let d: serde_json::Value = serde_json::from_str(&overview).unwrap();
    let vars: Vec<&str> =
        d["templating"]["list"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert!(vars.contains(&"datasource") && vars.contains(&"probe"), "variables: {vars:?}");
    assert!(
        d["annotations"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["target"]["expr"].as_str().is_some_and(|e| e.contains("claudewatch_status_incident_info"))),
        "status incidents are not an annotation"
    );
    // The exhaustion panel draws the alert's threshold: 5 a minute, as a line.
    let panels = d["panels"].as_array().unwrap();
    let exhaustion = panels
        .iter()
        .find(|p| {
            p["type"] == "timeseries"
                && p["targets"][0]["expr"].as_str().is_some_and(|e| e.contains("claudewatch_client_exhausted_total"))
        })
        .expect("no exhaustion time series panel");
    let steps = exhaustion["fieldConfig"]["defaults"]["thresholds"]["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["value"] == 5), "threshold 5 not drawn: {steps:?}");
    assert_eq!(exhaustion["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"], "line");
}

/// The check fails on the mistakes it exists for (so a passing run means something).
#[test]
fn dashboard_check_rejects_broken_dashboards() {
    let good = read("dashboards/claudewatch-overview.json");
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("\"type\": \"timeseries\"", "\"type\": \"graph\"", "is not a panel Grafana ships"),
        ("\"legend\": {", "\"legnd\": {", "'\"legnd\"' does not exist"),
        ("\"mode\": \"normal\"", "\"mode\": \"normall\"", "\"normall\""),
        ("\"reduceOptions\": {", "\"reduceOption\": {", "reduceOption"),
        ("[$window]", "[$windw]", "undefined variable $windw"),
        ("\"refId\": \"B\"", "\"refId\": \"A\"", "refId A repeated"),
    ];
    for (i, (from, to, expected)) in cases.iter().enumerate() {
        assert!(good.contains(from), "the dashboard no longer contains {from}");
        let file = dir.path().join(format!("broken{i}.json"));
        std::fs::write(&file, good.replacen(from, to, 1)).unwrap();
        let out = dashboard_check(&[&file]);
        let text = both(&out);
        assert!(!out.status.success(), "the check accepted {to} in place of {from}");
        assert!(text.contains(expected), "replacing {from} by {to}: expected {expected:?} in:\n{text}");
    }
}

#[test]
fn readme_has_the_deploy_section() {
    let readme = read("README.md");
    for needle in ["docker run", "--profile demo", "kubectl apply -k deploy/kubernetes", "promtool test rules"] {
        assert!(readme.contains(needle), "README's deploy section lacks {needle}");
    }
}

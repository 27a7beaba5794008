//! The client libraries' own suites, run against the packages as users install them: the wheel
//! in a clean venv (pytest, `clients/python/tests`) and the npm tarball in a clean app (node:test,
//! `clients/typescript/test`), both driving the pinned SDKs against the raw-socket fault server
//! (`clients/testing/faultserver.py`). `clients/stage.sh` builds and installs them (tools from
//! `.ci/install.sh`); a missing tool fails the test.

mod common;

use common::tools;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A whole suite must finish within this.
const SUITE_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs a suite with loopback-only networking and the daemon's version; panics with its output
/// unless it passes.
fn run_suite(name: &str, cmd: &mut Command) {
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("CLAUDEWATCH_VERSION", env!("CARGO_PKG_VERSION"))
        .env("CLAUDEWATCH_FAULT_SERVER", tools::repo_file("clients/testing/faultserver.py"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start the {name} suite: {e}"));
    let deadline = Instant::now() + SUITE_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let text = tools::both(&out);
    assert!(out.status.success(), "the {name} suite failed ({}):\n{text}", out.status);
    println!("{text}");
}

#[test]
fn python_package_suite() {
    let staged = tools::staged_clients();
    let venv = staged.join("venv");
    run_suite(
        "Python",
        Command::new(venv.join("bin/python"))
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", "tests"])
            .current_dir(tools::repo_file("clients/python"))
            .env("CLAUDEWATCH_CLIENTS_STAGED", &venv),
    );
}

#[test]
fn typescript_package_suite() {
    let staged = tools::staged_clients();
    let app: &Path = &staged.join("node");
    run_suite(
        "TypeScript",
        Command::new("node")
            .args(["--test", "--test-reporter=spec", "dist/"])
            .current_dir(app)
            .env("PYTHON", tools::python()),
    );
}

//! The official `anthropic` Python SDK against the simulator: starts the simulator in-process
//! and runs the pytest suite in `tests/sdk/` with the venv that `.ci/install.sh` sets up. It
//! fails (never skips) when python, pytest or the SDK is missing.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use claudewatch::sim::Simulator;

/// The one key the simulator accepts in this test (the suite checks that others get a 401).
const KEY: &str = "sk-ant-sim-test";

/// The whole pytest run must finish within this.
const PYTEST_TIMEOUT: Duration = Duration::from_secs(240);

fn python() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    root.join("target/ci-tools/venv/bin/python")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_against_the_simulator() {
    let python = python();
    assert!(python.exists(), "{} is missing: run `bash .ci/install.sh`", python.display());
    let probe = Command::new(&python).args(["-c", "import anthropic, pytest"]).output().expect("python runs");
    assert!(
        probe.status.success(),
        "the venv lacks anthropic or pytest (run `bash .ci/install.sh`): {}",
        String::from_utf8_lossy(&probe.stderr)
    );

    let sim = Simulator::default().api_key(KEY).start().await.expect("simulator starts");
    let url = sim.url();
    let (status, output) = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(&python)
            .args(["-m", "pytest", "tests/sdk", "-q", "-p", "no:cacheprovider", "-rfE"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("CLAUDEWATCH_SIM_URL", &url)
            .env("CLAUDEWATCH_SIM_API_KEY", KEY)
            // Loopback only: no proxy from the environment, no key of the developer's.
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("ANTHROPIC_BASE_URL")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("ALL_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("all_proxy")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("pytest starts");
        let deadline = Instant::now() + PYTEST_TIMEOUT;
        loop {
            match child.try_wait().expect("waiting for pytest") {
                Some(_) => break,
                None if Instant::now() > deadline => {
                    let _ = child.kill();
                    break;
                }
                None => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        let output = child.wait_with_output().expect("pytest output");
        (output.status, output)
    })
    .await
    .unwrap();
    sim.stop().await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(status.success(), "pytest failed ({status}):\n{stdout}\n{stderr}");
    assert!(stdout.contains(" passed"), "pytest ran no tests:\n{stdout}");
    assert!(!stdout.contains("skipped"), "the SDK suite must not skip:\n{stdout}");
}

//! External tools the deployment checks and the end-to-end test run (promtool, amtool, hadolint,
//! docker-compose, kubernetes-validate, node, prometheus, python). A missing tool is a test
//! failure that says how to install it, never a skip: CI installs everything (.ci/install.sh).

#![allow(dead_code, unreachable_pub)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A file of the repository, by its path from the root.
pub fn repo_file(path: &str) -> PathBuf {
    repo().join(path)
}

/// Reads a file of the repository.
pub fn read(path: &str) -> String {
    std::fs::read_to_string(repo_file(path)).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Finds `name` on PATH or in the CI tool venv (`target/ci-tools/venv/bin`, where .ci/install.sh
/// puts the PyPI tools); panics naming the install step when it is missing.
pub fn tool(name: &str) -> PathBuf {
    let venv = repo().join("target/ci-tools/venv/bin");
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(std::iter::once(venv))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is not installed (not on PATH nor in target/ci-tools/venv/bin): run .ci/install.sh")
        })
}

/// The venv's Python (with the PyPI packages .ci/install.sh installs).
pub fn python() -> PathBuf {
    let venv = repo().join("target/ci-tools/venv/bin/python");
    assert!(venv.is_file(), "{} is missing: run .ci/install.sh", venv.display());
    venv
}

/// Runs `program args…` in the repository root and returns its output, whatever the exit code.
pub fn run<I, S>(program: impl AsRef<OsStr>, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let program = program.as_ref();
    Command::new(program)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.to_string_lossy()))
}

/// Like [`run`], and panics with both output streams unless it exits 0. Returns stdout.
pub fn run_ok<I, S>(program: impl AsRef<OsStr>, args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let out = run(&program, &args);
    assert!(
        out.status.success(),
        "{} {:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        program.as_ref().to_string_lossy(),
        args,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stdout and stderr of an output, together.
pub fn both(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A child process that is killed when the test ends, however it ends.
pub struct Proc {
    pub name: String,
    pub child: Child,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command) -> Proc {
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { name: name.to_owned(), child }
    }

    /// Waits up to `timeout` for the process to exit; returns its stdout.
    pub fn wait_output(mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut out = String::new();
                if let Some(mut stdout) = self.child.stdout.take() {
                    stdout.read_to_string(&mut out).unwrap();
                }
                assert!(status.success(), "{} exited with {status}; stdout:\n{out}", self.name);
                return out;
            }
            assert!(Instant::now() < deadline, "{} still running after {timeout:?}", self.name);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An address on which nothing listens (bound, then released).
pub fn closed_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// Starts `claudewatch simulate` on port 0 and reads its URL from the first stdout line.
pub fn simulator(scenario: &str, extra: &[&str], logs: &Path) -> (Proc, String) {
    let log = std::fs::File::create(logs.join(format!("sim-{}.log", scenario.replace('/', "_")))).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_claudewatch"));
    cmd.args(["simulate", "--listen", "127.0.0.1:0", "--scenario", scenario, "--seed", "7"])
        .args(extra)
        .env_remove("CLAUDEWATCH_SIM_API_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    let mut proc = Proc::spawn(&format!("simulator {scenario}"), &mut cmd);
    let mut line = String::new();
    BufReader::new(proc.child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "simulator printed {url:?}");
    (proc, url)
}

/// The client packages (`clients/python`, `clients/typescript`) built from the current sources
/// and installed from their artifacts into clean environments by `clients/stage.sh`: the wheel in
/// `DIR/venv`, the npm tarball in the app `DIR/node` (its suites and the examples compiled in
/// `DIR/node/dist`). Built once per content of the sources; test processes share it.
pub fn staged_clients() -> PathBuf {
    PathBuf::from(run_ok("bash", [repo_file("clients/stage.sh")]).trim())
}

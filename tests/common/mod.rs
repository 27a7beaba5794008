//! Shared test harness: start the daemon (in-process or as the real binary) on 127.0.0.1:0,
//! scrape `/metrics` into a map keyed by name and labels, and assert on it.
//!
//! Nothing here talks to anything but loopback.

#![allow(dead_code, unreachable_pub)]

pub mod tools;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use claudewatch::Config;
use claudewatch::config::Env;
use tokio_util::sync::CancellationToken;

/// The daemon running inside the test process.
pub struct Daemon {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl Daemon {
    /// Starts the daemon on `config_toml` (with `[server] listen` ignored: it binds port 0),
    /// with an empty environment.
    pub async fn start(config_toml: &str) -> Daemon {
        Daemon::start_with_env(config_toml, &[]).await
    }

    /// Like [`start`](Self::start), with exactly these environment variables (API keys, ingest
    /// tokens) and none of the process's.
    pub async fn start_with_env(config_toml: &str, env: &[(&str, &str)]) -> Daemon {
        let env = Env::from_pairs(env.iter().copied());
        let (config, _warnings) =
            Config::parse("test.toml", config_toml).unwrap_or_else(|d| panic!("bad test config: {d:?}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let handle = tokio::spawn(async move {
            claudewatch::run(config, env, listener, token).await.expect("daemon failed");
        });
        let daemon = Daemon { addr, shutdown, handle: Some(handle) };
        daemon.wait_ready().await;
        daemon
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&self) {
        let client = client();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(r) = client.get(self.url("/readyz")).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "daemon not ready within 10 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn scrape(&self) -> Metrics {
        scrape(self.addr).await
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(5), h).await.expect("daemon did not stop in 5 s").unwrap();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A reqwest client for loopback, with no proxy from the environment.
pub fn client() -> reqwest::Client {
    claudewatch::install_crypto_provider();
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap()
}

/// Samples of one scrape: `name{sorted labels}` → value.
#[derive(Debug, Default, Clone)]
pub struct Metrics {
    pub samples: BTreeMap<String, f64>,
    pub text: String,
}

impl Metrics {
    /// Parses the classic text format.
    pub fn parse(text: &str) -> Metrics {
        let mut samples = BTreeMap::new();
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad sample line {line:?}"));
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")),
            };
            samples.insert(canonical(series), value);
        }
        Metrics { samples, text: text.to_owned() }
    }

    /// The value of `name` with exactly `labels`.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples.get(&key(name, labels)).copied()
    }

    /// Like [`get`](Self::get), but panics with the scrape when the series is missing.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or_else(|| panic!("no series {} in:\n{}", key(name, labels), self.text))
    }

    /// Sum over every series of `name` whose labels include `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.series(name)
            .filter(|(l, _)| labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
            .map(|(_, v)| v)
            .sum()
    }

    /// Every series of `name`, with its labels.
    pub fn series<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (BTreeMap<String, String>, f64)> + 'a {
        self.samples.iter().filter_map(move |(k, v)| {
            let (n, labels) = split_series(k);
            (n == name).then_some((labels, *v))
        })
    }

    pub fn assert_value(&self, name: &str, labels: &[(&str, &str)], expected: f64) {
        let got = self.value(name, labels);
        assert!((got - expected).abs() < 1e-9, "{}: expected {expected}, got {got}", key(name, labels));
    }

    pub fn assert_absent(&self, name: &str, labels: &[(&str, &str)]) {
        assert!(self.get(name, labels).is_none(), "{} should be absent", key(name, labels));
    }
}

fn key(name: &str, labels: &[(&str, &str)]) -> String {
    let mut sorted: Vec<_> = labels.to_vec();
    sorted.sort();
    let inner: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    format!("{name}{{{}}}", inner.join(","))
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Parses `name{a="x",b="y"}` into the canonical key with labels sorted.
fn canonical(series: &str) -> String {
    let (name, labels) = split_series(series);
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    format!("{name}{{{}}}", inner.join(","))
}

fn split_series(series: &str) -> (String, BTreeMap<String, String>) {
    let Some(open) = series.find('{') else { return (series.to_owned(), BTreeMap::new()) };
    let name = series[..open].to_owned();
    let body = series[open + 1..].strip_suffix('}').unwrap_or(&series[open + 1..]);
    let mut labels = BTreeMap::new();
    let mut chars = body.chars().peekable();
    loop {
        let k: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if k.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "bad labels in {series}");
        let mut v = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => v.push('\n'),
                    Some(other) => v.push(other),
                    None => break,
                },
                '"' => break,
                c => v.push(c),
            }
        }
        labels.insert(k.trim_start_matches(',').to_owned(), v);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    (name, labels)
}

/// Scrapes `/metrics` in the classic format.
pub async fn scrape(addr: SocketAddr) -> Metrics {
    let text = client().get(format!("http://{addr}/metrics")).send().await.unwrap().text().await.unwrap();
    Metrics::parse(&text)
}

/// Polls `/metrics` until `check` holds, or panics after `timeout` with the last scrape.
pub async fn eventually(addr: SocketAddr, timeout: Duration, what: &str, check: impl Fn(&Metrics) -> bool) -> Metrics {
    let deadline = Instant::now() + timeout;
    loop {
        let m = scrape(addr).await;
        if check(&m) {
            return m;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}; last scrape:\n{}", m.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The real `claudewatch` binary, as a child process.
pub struct BinaryDaemon {
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr: mpsc::Receiver<String>,
    /// Every stderr line read so far (start-up lines included), for [`BinaryDaemon::logs`].
    seen: std::sync::Mutex<Vec<String>>,
}

/// Path of the binary built for this test run (the release binary under `cargo test --release`).
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_claudewatch"))
}

impl BinaryDaemon {
    /// Runs `claudewatch --config FILE --listen 127.0.0.1:0 --log-format json --log-level info`
    /// and learns its port from the "listening" log line.
    pub fn spawn(config: &Path, extra_env: &[(&str, &str)]) -> BinaryDaemon {
        BinaryDaemon::spawn_at_level(config, extra_env, "info")
    }

    /// Like [`spawn`](Self::spawn) at another `--log-level` (`trace` shows every dependency's
    /// logs too).
    pub fn spawn_at_level(config: &Path, extra_env: &[(&str, &str)], level: &str) -> BinaryDaemon {
        let mut cmd = Command::new(binary());
        cmd.args(["--config"]).arg(config).args([
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--log-level",
            level,
        ]);
        cmd.env_remove("RUST_LOG").env_remove("ANTHROPIC_API_KEY");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child =
            cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn claudewatch");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut seen = Vec::new();
        let addr = loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(remaining)
                .unwrap_or_else(|_| panic!("no listening line; stderr so far:\n{}", seen.join("\n")));
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && v["message"] == "claudewatch listening"
            {
                break v["addr"].as_str().unwrap().parse().unwrap();
            }
            seen.push(line);
        };
        BinaryDaemon { child, addr, stderr: rx, seen: std::sync::Mutex::new(seen) }
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    /// Waits for exit up to `timeout`; returns the exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Everything logged so far, from the first start-up line on.
    pub fn logs(&self) -> Vec<String> {
        let mut seen = self.seen.lock().unwrap();
        seen.extend(self.stderr.try_iter());
        seen.clone()
    }
}

impl Drop for BinaryDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback address that refuses connections for as long as this value lives.
///
/// The socket is bound but never listens: the kernel answers a SYN with a reset, so a client
/// gets ECONNREFUSED. Because the port stays bound, it is neither handed out to another `bind`
/// to port 0 nor picked as the source port of an outgoing connection meanwhile; binding a
/// listener and dropping it instead frees the port for exactly that reuse.
pub struct ClosedPort {
    pub addr: SocketAddr,
    _socket: socket2::Socket,
}

/// A [`ClosedPort`] on 127.0.0.1; keep it alive for as long as the address is used.
pub fn closed_port() -> ClosedPort {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).expect("create a TCP socket");
    socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into()).expect("bind 127.0.0.1:0");
    let addr = socket.local_addr().expect("local address").as_socket().expect("an IP address");
    ClosedPort { addr, _socket: socket }
}

/// Writes `text` to a temp file and returns it (kept alive by the returned handle).
pub fn config_file(text: &str) -> tempfile::NamedTempFile {
    use std::io::Write;
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

/// Runs `promtool check metrics` over `body`; returns (passed, output). The one helper every
/// test that checks real `/metrics` output uses.
pub fn promtool_check_metrics(body: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new(tools::tool("promtool"))
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cannot run promtool");
    child.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// A config that touches nothing but loopback: no status page, no probe.
pub const LOOPBACK_ONLY: &str = "[server]\nlisten = \"127.0.0.1:0\"\n";

#!/usr/bin/env python3
"""The driver behind `bench/run`: runs claudewatch's four benchmarks on loopback and writes
bench/RESULTS.md.

Each benchmark puts the daemon's figure beside a comparison taken in the same run on the same
machine (a bare axum handler, Debian's blackbox_exporter and pushgateway, curl), because on a
shared machine a ratio means more than an absolute time. Nothing here sends a packet beyond
127.0.0.1: the probes and the status feed point at `claudewatch simulate`, and every load loop is
bounded in time or count.

Standard library only (Python 3.11+ for tomllib), so a fresh Debian machine needs nothing from PyPI.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
LOOPBACK = "127.0.0.1"
# The key the simulator is told to accept and the daemon's probes send. Not a real key.
BENCH_KEY = "sk-ant-bench-not-a-real-key"
BENCH_KEY_ENV = "CLAUDEWATCH_BENCH_API_KEY"
ANTHROPIC_VERSION = "2023-06-01"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """A benchmark could not produce an honest figure (a tool failed, a count did not add up)."""


# ---------------------------------------------------------------------------------------------
# Processes, ports, /proc sampling
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


class Proc:
    """A child process with its output in a log file, stopped at the end of the run."""

    running: list["Proc"] = []

    def __init__(self, name: str, argv: list[str], work: Path, env: dict[str, str] | None = None):
        self.name = name
        self.log_path = work / f"{name}.log"
        self._log = open(self.log_path, "wb")
        full_env = dict(os.environ)
        # Loopback only, whatever proxy the environment has configured.
        for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
            full_env.pop(k, None)
        full_env["NO_PROXY"] = "*"
        full_env.update(env or {})
        self.popen = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=full_env, cwd=work)
        self.pid = self.popen.pid
        Proc.running.append(self)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise BenchError(f"{self.name} exited with {self.popen.returncode}; log tail:\n{tail}")

    def rss_kib(self) -> int:
        """VmRSS from /proc/PID/status, in KiB."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise BenchError(f"no VmRSS for {self.name}")

    def cpu_ticks(self) -> int:
        """utime + stime from /proc/PID/stat, in clock ticks (all threads)."""
        with open(f"/proc/{self.pid}/stat") as f:
            stat = f.read()
        # The command name may hold spaces; the fields after it are fixed.
        fields = stat[stat.rindex(")") + 2 :].split()
        return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)

    def cpu_ns(self) -> int:
        """CPU time of the live threads from /proc/PID/task/*/schedstat, in nanoseconds: the
        fine-grained companion of cpu_ticks (a 10 ms tick is 0.017 % of a core over 60 s).
        Threads that exit during a window take their time with them, so this is a lower bound."""
        total = 0
        for tid in os.listdir(f"/proc/{self.pid}/task"):
            try:
                with open(f"/proc/{self.pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
        return total

    def stop(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=6)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()
        if self in Proc.running:
            Proc.running.remove(self)

    @classmethod
    def stop_all(cls) -> None:
        for p in list(cls.running):
            p.stop()


def wait_http(port: int, path: str, what: str, timeout: float = 20.0, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None:
            proc.check_alive()
        try:
            conn = http.client.HTTPConnection(LOOPBACK, port, timeout=2)
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            conn.close()
            return
        except OSError as e:
            last = e
            time.sleep(0.05)
    raise BenchError(f"{what} did not answer on {LOOPBACK}:{port}{path} within {timeout}s: {last}")


class Client:
    """One keep-alive HTTP/1.1 connection to a loopback port."""

    def __init__(self, port: int, timeout: float = 30.0):
        self.port = port
        self.timeout = timeout
        self.conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                return resp.status, resp.read(), resp
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection; open a new one once.
                self.conn.close()
                self.conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=self.timeout)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


# ---------------------------------------------------------------------------------------------
# Statistics and /metrics parsing
# ---------------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise BenchError("percentile of no samples")
    xs = sorted(values)
    k = (len(xs) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def parse_metrics(text: str) -> dict[str, float]:
    """Sample lines of the text format, keyed by `name{labels}` exactly as written."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if m:
            try:
                out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
            except ValueError:
                pass
    return out


def count_samples(text: str) -> int:
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def scrape(port: int) -> dict[str, float]:
    c = Client(port)
    status, body, _ = c.request("GET", "/metrics")
    c.close()
    if status != 200:
        raise BenchError(f"/metrics answered {status}")
    return parse_metrics(body.decode())


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    figure: str
    value: str
    comparison: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""  # "met", "missed: …", or "" (no target)
    load: str = ""  # the 1-minute load average when the figure was taken


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)  # (benchmark, markdown)
    failures: list[tuple[str, str]] = field(default_factory=list)

    def add(self, row: Row) -> None:
        row.load = row.load or loadavg()
        self.rows.append(row)
        log(f"{row.figure}: {row.value} | {row.comparison} | {row.ratio} | {row.verdict}")


def loadavg(fields: int = 1) -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:fields])


def machine_info() -> dict[str, str]:
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])

    def version(argv: list[str]) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "unavailable"

    return {
        "cpu": f"{os.cpu_count()} × {model}",
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "rustc": version(["rustc", "--version"]),
        "wrk": " ".join(version(["wrk", "--version"]).split()[:2]),
        "blackbox_exporter": version(["prometheus-blackbox-exporter", "--version"]).split(" (")[0],
        "pushgateway": version(["prometheus-pushgateway", "--version"]).split(" (")[0],
        "curl": " ".join(version(["curl", "--version"]).split()[:2]),
        "python": platform.python_version(),
    }


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def fmt_mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def write_results(path: Path, results: Results, machine: dict[str, str], started: float, args) -> None:
    elapsed = time.monotonic() - started
    lines = [
        "# claudewatch benchmark results",
        "",
        f"Written by `bench/run` on {time.strftime('%Y-%m-%d %H:%M:%S %Z')}: release build {args.build_seconds} s, "
        f"benchmarks {elapsed:.0f} s "
        f"(commit `{git_revision()}`). Every comparison was measured in the same run on the same "
        "machine; on a shared machine the ratios mean more than the absolute figures. The last "
        "column is the 1-minute load average when the figure was taken (this machine has "
        f"{os.cpu_count()} cores; other work was running on it).",
        "",
        "Machine and tools:",
        "",
        *(f"- {k}: {v}" for k, v in machine.items()),
        "",
        "| figure | value | comparison | ratio | target | verdict | load |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    # In the order the issue lists the benchmarks, whatever order they ran in.
    order = ("probe", "ingest", "scrape", "footprint")
    rows = sorted(results.rows, key=lambda r: next((i for i, o in enumerate(order) if r.figure.startswith(o)), len(order)))
    for r in rows:
        cells = [r.figure, r.value, r.comparison, r.ratio, r.target, r.verdict, r.load]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if results.failures:
        lines += ["", "## Benchmarks that did not finish", ""]
        for name, why in results.failures:
            lines.append(f"- **{name}**: {why}")
    for name, body in results.details:
        lines += ["", f"## {name}", "", body.rstrip()]
    lines += [
        "",
        "## How these were taken",
        "",
        f"`bench/run` with {args.describe()}. See the README's Benchmarks section and `bench/bench.py`.",
        "",
    ]
    path.write_text("\n".join(lines))
    log(f"wrote {path}")


def git_revision() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        rev = out.stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
        return rev + ("+dirty" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


# ---------------------------------------------------------------------------------------------
# TOML (writing): the configs the bench starts the daemon and the simulator with
# ---------------------------------------------------------------------------------------------


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # JSON string escapes are valid TOML basic-string escapes
    if isinstance(v, list) and all(not isinstance(x, dict) for x in v):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v)} as TOML")


def toml_dump(doc: dict, prefix: str = "") -> str:
    """Top-level scalars first, then tables, then arrays of tables (one level of nesting is all
    the daemon's config uses)."""
    out = []
    scalars = {k: v for k, v in doc.items() if not (isinstance(v, dict) or (isinstance(v, list) and v and all(isinstance(x, dict) for x in v)))}
    for k, v in scalars.items():
        out.append(f"{k} = {toml_value(v)}")
    for k, v in doc.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.append(f"\n[{name}]")
            out.append(toml_dump(v, f"{name}."))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for item in v:
                out.append(f"\n[[{name}]]")
                out.append(toml_dump(item, f"{name}."))
    return "\n".join(x for x in out if x)


# ---------------------------------------------------------------------------------------------
# The daemon, the simulator, the anchors
# ---------------------------------------------------------------------------------------------


@dataclass
class Ctx:
    daemon_bin: Path
    bare_bin: Path
    work: Path
    args: argparse.Namespace


def start_daemon(ctx: Ctx, name: str, config: dict, extra_env: dict | None = None) -> tuple[Proc, int]:
    port = free_port()
    config = dict(config)
    config["server"] = dict(config.get("server", {}), listen=f"{LOOPBACK}:{port}")
    check_loopback_only(config, name)
    path = ctx.work / f"{name}.toml"
    path.write_text(toml_dump(config) + "\n")
    check_effective_config(ctx, path)
    env = {BENCH_KEY_ENV: BENCH_KEY, "RUST_LOG": "info"}
    env.update(extra_env or {})
    proc = Proc(name, [str(ctx.daemon_bin), "--config", str(path), "--log-format", "json"], ctx.work, env)
    wait_http(port, "/healthz", name, proc=proc)
    return proc, port


URL_RE = re.compile(r"[a-z][a-z0-9+.-]*://[^\s\"']+", re.I)


def check_effective_config(ctx: Ctx, path: Path) -> None:
    """`claudewatch check-config` prints the effective config, defaults filled in (a probe
    without `base_url` means api.anthropic.com); refuse to start if any URL in it leaves loopback."""
    out = subprocess.run([str(ctx.daemon_bin), "check-config", str(path)], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise BenchError(f"check-config refused {path.name}: {out.stderr.strip()[-1000:]}")
    for url in URL_RE.findall(out.stdout):
        host = url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
        if host not in (LOOPBACK, "localhost", "[::1]"):
            raise BenchError(f"{path.name}: the effective config reaches {url}; the bench stays on loopback")


def check_loopback_only(doc, where: str) -> None:
    """Refuses a config that names any host but loopback: a benchmark must not reach out."""
    def walk(v):
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str) and "://" in v:
            host = v.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
            if host not in (LOOPBACK, "localhost", "[::1]"):
                raise BenchError(f"{where}: refusing a config that points at {v}: the bench stays on loopback")
    walk(doc)


def start_simulator(ctx: Ctx, name: str, scenario_toml: str | None = None) -> tuple[Proc, int]:
    port = free_port()
    scenario = "healthy"
    if scenario_toml is not None:
        path = ctx.work / f"{name}.scenario.toml"
        path.write_text(scenario_toml)
        scenario = str(path)
    proc = Proc(name, [str(ctx.daemon_bin), "simulate", "--listen", f"{LOOPBACK}:{port}", "--scenario", scenario], ctx.work,
                {"CLAUDEWATCH_SIM_API_KEY": BENCH_KEY})
    wait_http(port, "/v1/models", name, proc=proc)
    return proc, port


def start_blackbox(ctx: Ctx) -> tuple[Proc, int]:
    port = free_port()
    proc = Proc("blackbox_exporter", [
        "prometheus-blackbox-exporter",
        f"--config.file={ROOT / 'bench' / 'blackbox.yml'}",
        f"--web.listen-address={LOOPBACK}:{port}",
    ], ctx.work)
    wait_http(port, "/-/healthy", "blackbox_exporter", proc=proc)
    return proc, port


def start_pushgateway(ctx: Ctx) -> tuple[Proc, int]:
    port = free_port()
    proc = Proc("pushgateway", [
        "prometheus-pushgateway",
        f"--web.listen-address={LOOPBACK}:{port}",
        f"--persistence.file={ctx.work / 'pushgateway.store'}",
    ], ctx.work)
    wait_http(port, "/-/healthy", "pushgateway", proc=proc)
    return proc, port


def ingest_config(max_services: int = 100) -> dict:
    return {"ingest": {"enabled": True, "max_services": max_services}}


def post_events(client: Client, events: list[dict]) -> int:
    body = json.dumps({"events": events} if len(events) != 1 else events[0]).encode()
    status, resp, _ = client.request("POST", "/v1/events", body=body, headers={"Content-Type": "application/json"})
    if status != 202:
        raise BenchError(f"POST /v1/events answered {status}: {resp[:300]!r}")
    return len(events)


# ---------------------------------------------------------------------------------------------
# 2. Ingest throughput
# ---------------------------------------------------------------------------------------------

CLASSES = ["overloaded", "connection", "rate_limited", "server_error", "timeout", "client_error", "auth", "unexpected"]


def sample_events(n: int) -> list[dict]:
    """A realistic mix: a handful of services, every outcome, every class, some optional fields."""
    outcomes = ["retry", "retry", "exhausted", "success", "failure"]
    events = []
    for i in range(n):
        outcome = outcomes[i % len(outcomes)]
        e = {"service": f"checkout-{i % 8}", "outcome": outcome}
        if outcome != "success":
            e["class"] = CLASSES[i % len(CLASSES)]
            e["status"] = 529 if e["class"] == "overloaded" else 500
        if outcome in ("success", "exhausted", "failure"):
            e["attempts"] = 1 + i % 5
        events.append(e)
    return events


class Scraper(threading.Thread):
    """Reads /metrics once a second while a load runs, as Prometheus would."""

    def __init__(self, port: int, period: float = 1.0):
        super().__init__(daemon=True)
        self.port, self.period = port, period
        self.stop_event = threading.Event()
        self.durations: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        client = Client(self.port, timeout=10)
        while not self.stop_event.is_set():
            t0 = time.perf_counter()
            try:
                status, _, _ = client.request("GET", "/metrics")
                if status != 200:
                    self.errors.append(f"status {status}")
                self.durations.append(time.perf_counter() - t0)
            except OSError as e:
                self.errors.append(str(e))
            self.stop_event.wait(max(0.0, self.period - (time.perf_counter() - t0)))
        client.close()

    def finish(self) -> "Scraper":
        self.stop_event.set()
        self.join(timeout=15)
        return self


def run_wrk(ctx: Ctx, port: int, body_path: Path, label: str) -> dict:
    a = ctx.args
    argv = ["wrk", f"-t{a.wrk_threads}", f"-c{a.wrk_connections}", f"-d{a.wrk_seconds}s", "--timeout", "5s",
            "-s", str(ROOT / "bench" / "post.lua"), f"http://{LOOPBACK}:{port}/v1/events"]
    env = dict(os.environ, BENCH_BODY=str(body_path))
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=a.wrk_seconds + 30)
    summary = None
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            summary = json.loads(line)
    if out.returncode != 0 or summary is None:
        raise BenchError(f"wrk ({label}) failed with {out.returncode}: {out.stdout[-500:]} {out.stderr[-500:]}")
    errors = {k: summary[k] for k in ("non2xx", "connect_errors", "read_errors", "write_errors", "timeouts") if summary[k]}
    if errors:
        raise BenchError(f"wrk ({label}) saw errors {errors}; the figure would not be honest")
    summary["rps"] = summary["requests"] / (summary["duration_us"] / 1e6)
    log(f"wrk {label}: {summary['rps']:,.0f} req/s, p99 {summary['p99_us'] / 1000:.2f} ms")
    return summary


def bench_ingest(ctx: Ctx, results: Results) -> None:
    bodies = {}
    for n in (1, 100, 1000):
        events = sample_events(n)
        doc = events[0] if n == 1 else {"events": events}
        path = ctx.work / f"body-{n}.json"
        path.write_text(json.dumps(doc, separators=(",", ":")))
        bodies[n] = path

    bare_port = free_port()
    bare = Proc("bare-axum", [str(ctx.bare_bin), f"{LOOPBACK}:{bare_port}"], ctx.work)
    # The bare handler answers 405 to GET; any answer means it is up.
    wait_http(bare_port, "/v1/events", "bare axum handler", proc=bare)
    daemon, port = start_daemon(ctx, "daemon-ingest", ingest_config())

    def accepted() -> float:
        return scrape(port).get('claudewatch_ingest_events_total{result="accepted"}', 0.0)

    def daemon_run(n: int, label: str) -> dict:
        before = accepted()
        scraper = Scraper(port)
        scraper.start()
        summary = run_wrk(ctx, port, bodies[n], label)
        scraper.finish()
        daemon.check_alive()
        counted = accepted() - before
        # wrk does not count requests still in flight when it stops, so allow one per connection.
        low, high = summary["requests"] * n, (summary["requests"] + ctx.args.wrk_connections) * n
        if not low <= counted <= high:
            raise BenchError(f"{label}: the daemon counted {counted:.0f} events, wrk completed {low} (up to {high})")
        if scraper.errors:
            raise BenchError(f"{label}: the scraper failed: {scraper.errors[:3]}")
        summary["scrapes"] = scraper.durations
        return summary

    # Interleaved rounds, best of each: other tenants of the machine only ever take throughput away.
    bare_runs, single_runs = [], []
    for r in range(ctx.args.rounds):
        bare_runs.append(run_wrk(ctx, bare_port, bodies[1], f"bare axum, round {r + 1}"))
        single_runs.append(daemon_run(1, f"daemon single events, round {r + 1}"))
    bare_batch = run_wrk(ctx, bare_port, bodies[1000], "bare axum, 1000-event body")
    batch100 = daemon_run(100, "daemon batches of 100")
    batch1000 = daemon_run(1000, "daemon batches of 1000")
    bare.stop()
    daemon.stop()

    best_bare = max(bare_runs, key=lambda s: s["rps"])
    best_single = max(single_runs, key=lambda s: s["rps"])
    ratio = best_single["rps"] / best_bare["rps"]
    results.add(Row(
        "ingest: single-event POSTs (keep-alive)",
        f"{fmt_rate(best_single['rps'])} req/s (p99 {best_single['p99_us'] / 1000:.2f} ms)",
        f"bare axum handler: {fmt_rate(best_bare['rps'])} req/s (p99 {best_bare['p99_us'] / 1000:.2f} ms)",
        f"{ratio:.0%}", "≥ 70 % of bare",
        "met" if ratio >= 0.70 else f"missed by {0.70 - ratio:.0%} points",
    ))
    for n, s in ((100, batch100), (1000, batch1000)):
        eps = s["rps"] * n
        results.add(Row(
            f"ingest: batches of {n} events",
            f"{fmt_rate(eps)} events/s ({fmt_rate(s['rps'])} req/s, p99 {s['p99_us'] / 1000:.2f} ms)",
            f"bare axum, 1000-event body: {fmt_rate(bare_batch['rps'])} req/s" if n == 1000 else "",
            f"{s['rps'] / bare_batch['rps']:.0%} of bare req/s" if n == 1000 else "",
            "≥ 1,000,000 events/s",
            "met" if eps >= 1e6 else f"missed by {1 - eps / 1e6:.0%}",
        ))
    scrapes = [d for s in single_runs + [batch100, batch1000] for d in s["scrapes"]]
    if scrapes:
        results.add(Row("ingest: /metrics scrape during the load", f"median {fmt_ms(statistics.median(scrapes))}, "
                        f"max {fmt_ms(max(scrapes))} over {len(scrapes)} scrapes"))

    rows = ["| run | requests | req/s | events/s | p50 | p99 | max |", "| --- | --- | --- | --- | --- | --- | --- |"]
    labelled = [(f"bare axum, round {i + 1}", s, 1) for i, s in enumerate(bare_runs)]
    labelled += [(f"daemon single, round {i + 1}", s, 1) for i, s in enumerate(single_runs)]
    labelled += [("bare axum, 1000-event body", bare_batch, 0), ("daemon, batches of 100", batch100, 100),
                 ("daemon, batches of 1000", batch1000, 1000)]
    for label, s, n in labelled:
        rows.append(f"| {label} | {s['requests']:,} | {fmt_rate(s['rps'])} | {fmt_rate(s['rps'] * n) if n else '–'} | "
                    f"{s['p50_us'] / 1000:.2f} ms | {s['p99_us'] / 1000:.2f} ms | {s['max_us'] / 1000:.2f} ms |")
    a = ctx.args
    results.details.append(("Ingest throughput", (
        f"wrk {a.wrk_threads} threads, {a.wrk_connections} keep-alive connections, {a.wrk_seconds} s per run, "
        f"`bench/post.lua` posting one fixed body ({bodies[1].stat().st_size} bytes for one event, "
        f"{bodies[100].stat().st_size:,} for 100, {bodies[1000].stat().st_size:,} for 1000; eight services, every "
        "outcome and class). A scraper read `/metrics` once a second during every daemon run. Every run was "
        "checked: no non-2xx answer, and `claudewatch_ingest_events_total{result=\"accepted\"}` moved by exactly the "
        "events wrk completed (plus at most one request per connection in flight at the stop). Bare and daemon "
        f"runs alternate over {a.rounds} rounds and the best of each is compared. The bare handler runs under "
        "`axum::serve`; the daemon under its own accept loop (header read timeout, bounded drain) with its router's "
        "body limit and fallback, so the ratio holds the whole cost of the daemon's HTTP stack, not only of parsing "
        "and counting.\n\n" + "\n".join(rows))))


# ---------------------------------------------------------------------------------------------
# 3. Scrape cost
# ---------------------------------------------------------------------------------------------

OPENMETRICS_ACCEPT = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"


def time_scrapes(port: int, n: int, accept: str | None, path: str = "/metrics") -> tuple[list[float], int, str]:
    """n scrapes on one keep-alive connection, each timed from sending the request to the last
    byte of the body (what a scraper waits for)."""
    client = Client(port)
    headers = {"Accept": accept} if accept else {}
    durations, size, text = [], 0, ""
    client.request("GET", path, headers=headers)  # warm the connection
    for _ in range(n):
        t0 = time.perf_counter()
        status, body, _ = client.request("GET", path, headers=headers)
        durations.append(time.perf_counter() - t0)
        if status != 200:
            raise BenchError(f"GET {path} answered {status}")
        size, text = len(body), body.decode()
    client.close()
    return durations, size, text


def bench_scrape(ctx: Ctx, results: Results, pushgateway_port: int | None) -> None:
    targets = (100, 1000, 10_000)
    daemon, port = start_daemon(ctx, "daemon-scrape", ingest_config(max_services=10_000))
    client = Client(port)
    services = 0

    def series() -> int:
        return count_samples(time_scrapes(port, 1, None)[2])

    def add_services(n: int) -> None:
        nonlocal services
        batch = []
        for _ in range(n):
            batch.append({"service": f"svc-{services:05d}", "outcome": "retry", "class": "overloaded"})
            services += 1
            if len(batch) == 1000:
                post_events(client, batch)
                batch = []
        if batch:
            post_events(client, batch)

    base = series()
    add_services(1)
    per_service = series() - base
    if per_service <= 0:
        raise BenchError("posting an event for a new service added no series")
    table = ["| series | services | classic: median | p99 | bytes | OpenMetrics: median | p99 | bytes | µs per series (classic) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    measured = {}
    for target in targets:
        for _ in range(4):  # the estimate converges in one or two steps
            have = series()
            if have >= target:
                break
            add_services(max(1, math.ceil((target - have) / per_service)))
        classic, classic_size, text = time_scrapes(port, ctx.args.scrapes, None)
        om, om_size, _ = time_scrapes(port, ctx.args.scrapes, OPENMETRICS_ACCEPT)
        n = count_samples(text)
        measured[target] = (n, statistics.median(classic), percentile(classic, 99), statistics.median(om))
        table.append(f"| {n:,} | {services:,} | {fmt_ms(statistics.median(classic))} | {fmt_ms(percentile(classic, 99))} | "
                     f"{classic_size:,} | {fmt_ms(statistics.median(om))} | {fmt_ms(percentile(om, 99))} | {om_size:,} | "
                     f"{statistics.median(classic) / n * 1e6:.2f} |")
    client.close()
    daemon.check_alive()
    daemon.stop()

    # The anchor: pushgateway (Go, client_golang) serving the same number of series.
    anchor = ""
    n10k, med10k, p99_10k, om10k = measured[10_000]
    if pushgateway_port is not None:
        lines = ["# TYPE bench_retries_total counter"]
        lines += [f'bench_retries_total{{service="svc-{i:05d}",class="overloaded"}} {i}' for i in range(n10k)]
        c = Client(pushgateway_port)
        status, resp, _ = c.request("PUT", "/metrics/job/bench", body=("\n".join(lines) + "\n").encode(),
                                    headers={"Content-Type": "text/plain; version=0.0.4"})
        c.close()
        if status not in (200, 202):
            raise BenchError(f"pushgateway refused the push: {status} {resp[:200]!r}")
        pg, pg_size, _ = time_scrapes(pushgateway_port, ctx.args.scrapes, None)
        anchor = f"pushgateway, same {n10k:,} series pushed: median {fmt_ms(statistics.median(pg))} ({pg_size:,} bytes)"
        c = Client(pushgateway_port)
        c.request("DELETE", "/metrics/job/bench")
        c.close()
        pg_ratio = f"{med10k / statistics.median(pg):.2f}× pushgateway's time"
    else:
        pg_ratio = ""
    results.add(Row(
        f"scrape: /metrics with {n10k:,} series",
        f"median {fmt_ms(med10k)}, p99 {fmt_ms(p99_10k)} (classic); median {fmt_ms(om10k)} (OpenMetrics)",
        anchor, pg_ratio, "< 20 ms",
        "met" if max(med10k, p99_10k) < 0.020 else (
            f"median met, p99 over by {fmt_ms(p99_10k - 0.020)}" if med10k < 0.020 else f"missed by {fmt_ms(med10k - 0.020)}"),
    ))
    n1k, med1k = measured[1000][0], measured[1000][1]
    per1k, per10k = med1k / n1k, med10k / n10k
    growth = per10k / per1k
    results.add(Row(
        "scrape: growth from 1,000 to 10,000 series",
        f"{per1k * 1e6:.2f} → {per10k * 1e6:.2f} µs per series",
        f"{n1k:,} series: {fmt_ms(med1k)}", f"{med10k / med1k:.1f}× the time for {n10k / n1k:.1f}× the series",
        "linear", "met" if growth < 1.5 else f"missed: per-series cost grows {growth:.1f}×",
    ))
    results.details.append(("Scrape cost", (
        f"Series filled through `POST /v1/events` (one `retry`/`overloaded` event per new service, "
        f"{per_service} series per service, `max_services` raised to 10,000, the most the config accepts), then {ctx.args.scrapes} scrapes per "
        "size and format on one keep-alive connection, each timed from the request to the last byte of the body. "
        "A series is a sample line of the classic rendering, the daemon's own families included.\n\n" + "\n".join(table))))


# ---------------------------------------------------------------------------------------------
# 4. Footprint
# ---------------------------------------------------------------------------------------------


def footprint_config(sim_port: int) -> dict:
    """The built-in default config (config/claudewatch.toml) with every URL moved onto the
    simulator and every key variable onto the bench key: the default shape, on loopback."""
    with open(ROOT / "config" / "claudewatch.toml", "rb") as f:
        config = tomllib.load(f)

    def relocate(v):
        if isinstance(v, dict):
            return {k: relocate_key(k, x) for k, x in v.items()}
        if isinstance(v, list):
            return [relocate(x) for x in v]
        return v

    def relocate_key(k, v):
        if isinstance(v, str) and "://" in v:
            path = v.split("://", 1)[1].partition("/")[2]
            return f"http://{LOOPBACK}:{sim_port}/{path}".rstrip("/") if path else f"http://{LOOPBACK}:{sim_port}"
        if k.endswith("key_env") or k.endswith("tokens_env"):
            return BENCH_KEY_ENV if k.endswith("key_env") else "CLAUDEWATCH_BENCH_UNSET_TOKENS"
        return relocate(v)

    config = relocate(config)
    # Tables whose URL has a default (a probe's base_url is the real API) get one explicitly.
    for probe in config.get("probe", []):
        probe["base_url"] = f"http://{LOOPBACK}:{sim_port}"
        probe["api_key_env"] = BENCH_KEY_ENV
    return config


class Sampler(threading.Thread):
    """Samples the RSS of some processes once a second."""

    def __init__(self, procs: list[Proc]):
        super().__init__(daemon=True)
        self.procs = procs
        self.samples: dict[str, list[int]] = {p.name: [] for p in procs}
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            for p in self.procs:
                try:
                    self.samples[p.name].append(p.rss_kib())
                except (OSError, BenchError):
                    pass
            self.stop_event.wait(1.0)

    def finish(self) -> "Sampler":
        self.stop_event.set()
        self.join(timeout=5)
        return self


def bench_footprint(ctx: Ctx, results: Results, blackbox: tuple[Proc, int], pushgateway: tuple[Proc, int]) -> None:
    sim, sim_port = start_simulator(ctx, "sim-footprint")
    config = footprint_config(sim_port)
    daemon, port = start_daemon(ctx, "daemon-footprint", config)
    procs = [daemon, blackbox[0], pushgateway[0]]
    time.sleep(3)  # start-up done: first probe and poll fire within their jitter, not here
    cpu0 = {p.name: p.cpu_ticks() for p in procs}
    ns0 = {p.name: p.cpu_ns() for p in procs}
    t0 = time.monotonic()
    sampler = Sampler(procs)
    sampler.start()
    log(f"footprint: {ctx.args.idle_seconds} s idle (daemon at the default config shape, anchors beside it)")
    time.sleep(ctx.args.idle_seconds)
    sampler.finish()
    wall = time.monotonic() - t0
    ticks = {p.name: p.cpu_ticks() - cpu0[p.name] for p in procs}
    fine = {p.name: (p.cpu_ns() - ns0[p.name]) / 1e9 / wall for p in procs}
    # The tick count includes threads that exited; the schedstat sum resolves below a tick.
    cpu = {n: max(ticks[n] / CLK_TCK / wall, fine[n]) for n in ticks}
    for p in procs:
        p.check_alive()
    idle_rss = {name: s[-1] for name, s in sampler.samples.items()}
    peak_rss = {name: max(s) for name, s in sampler.samples.items()}

    d = daemon.name
    bb, pg = blackbox[0].name, pushgateway[0].name
    results.add(Row(
        "footprint: RSS idle, default config shape",
        f"{fmt_mib(idle_rss[d])} (peak {fmt_mib(peak_rss[d])})",
        f"blackbox_exporter {fmt_mib(idle_rss[bb])}; pushgateway {fmt_mib(idle_rss[pg])}",
        f"{idle_rss[d] / idle_rss[bb]:.2f}× blackbox; {idle_rss[d] / idle_rss[pg]:.2f}× pushgateway",
        "< 20 MB", "met" if peak_rss[d] * 1024 < 20e6 else f"missed by {(peak_rss[d] * 1024 - 20e6) / 1e6:.1f} MB",
    ))
    results.add(Row(
        f"footprint: CPU idle over {wall:.0f} s",
        f"{cpu[d]:.4%} of one core ({ticks[d]} ticks of utime + stime)",
        f"blackbox_exporter {cpu[bb]:.4%}; pushgateway {cpu[pg]:.4%}",
        f"{cpu[d] / cpu[bb]:.2f}× blackbox's" if cpu[bb] > 0 else "",
        "< 0.5 % of one core", "met" if cpu[d] < 0.005 else f"missed by {(cpu[d] - 0.005) * 100:.2f} points",
    ))
    activity = scrape(port)

    # The flood: 1,000,000 events, each with a service name never seen before.
    flood = ctx.args.flood_events
    client = Client(port)
    before = daemon.rss_kib()
    t0 = time.perf_counter()
    sent = 0
    max_rss = before
    while sent < flood:
        n = min(1000, flood - sent)
        post_events(client, [{"service": f"flood-{sent + i:07d}", "outcome": "retry", "class": "connection"} for i in range(n)])
        sent += n
        if sent % 50_000 == 0:
            max_rss = max(max_rss, daemon.rss_kib())
    flood_secs = time.perf_counter() - t0
    client.close()
    time.sleep(2)
    after = daemon.rss_kib()
    max_rss = max(max_rss, after)
    m = scrape(port)
    overflow = sum(v for k, v in m.items() if k.startswith("claudewatch_ingest_overflow_total") and 'label="service"' in k)
    max_services = config.get("ingest", {}).get("max_services", 100)
    daemon.check_alive()
    grew = (after - before) * 1024
    results.add(Row(
        f"footprint: RSS after {flood:,} events with distinct services",
        f"{fmt_mib(after)} (before {fmt_mib(before)}, peak {fmt_mib(max_rss)})",
        f"{overflow:,.0f} events counted under `other` (cap {max_services})",
        f"{grew / 1e6:+.1f} MB", "within 10 MB of before",
        "met" if abs(grew) <= 10e6 else f"missed by {(abs(grew) - 10e6) / 1e6:.1f} MB",
    ))
    daemon.stop()
    sim.stop()

    probes = {k: v for k, v in activity.items() if k.startswith("claudewatch_probe_requests_total") and v}
    polls = {k: v for k, v in activity.items() if k.startswith("claudewatch_status_polls_total") and v}
    results.details.append(("Footprint", (
        f"The daemon ran the built-in default config with its URLs moved onto `claudewatch simulate` on loopback "
        f"(the bench derives it from `config/claudewatch.toml` at every run and leaves it in the work folder as "
        f"`daemon-footprint.toml`). RSS is `VmRSS` from `/proc/PID/status` sampled once a second, "
        f"CPU is `utime + stime` from `/proc/PID/stat` over the idle window (10 ms ticks) or, when larger, the sum "
        f"of `/proc/PID/task/*/schedstat` run times (nanoseconds, live threads only). blackbox_exporter (with "
        f"`bench/blackbox.yml`) and pushgateway (empty) idled beside it in the same window.\n\n"
        f"During the idle window the daemon's probes ran {sum(probes.values()):.0f} times and its feeds were polled "
        f"{sum(polls.values()):.0f} times. The flood took {flood_secs:.1f} s in batches of 1,000 on one connection "
        f"({flood / flood_secs:,.0f} events/s from a Python client).\n\n"
        "| process | RSS at the end | peak RSS | CPU (share of one core) |\n| --- | --- | --- | --- |\n"
        + "\n".join(f"| {n} | {fmt_mib(idle_rss[n])} | {fmt_mib(peak_rss[n])} | {cpu[n]:.4%} ({ticks[n]} ticks) |"
                    for n in (d, bb, pg)))))


# ---------------------------------------------------------------------------------------------
# 1. Probe timing accuracy
# ---------------------------------------------------------------------------------------------

LATENCIES = (0.050, 0.500, 2.0)
MESSAGES_BODY = json.dumps({"model": "claude-haiku-4-5", "max_tokens": 8,
                            "messages": [{"role": "user", "content": "Reply with the word OK"}]})


def fixed_latency_scenario(seconds: float) -> str:
    return (f'name = "bench-fixed-{int(seconds * 1000)}ms"\n'
            f'description = "Every request answered OK after exactly {int(seconds * 1000)} ms"\n\n'
            f'[[phase]]\nname = "fixed"\nduration = "1h"\nlatency = "{int(seconds * 1000)}ms"\n')


DURATION_UNITS = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def parse_duration_field(v) -> float | None:
    """A duration as a log field: seconds as a number, or Rust's Debug form ("50.4ms")."""
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        m = re.fullmatch(r"([0-9.]+)\s*(ns|µs|us|ms|s)", v.strip())
        if m:
            return float(m.group(1)) * DURATION_UNITS[m.group(2)]
    return None


def daemon_probe_samples(log_path: Path, names: set[str]) -> dict[str, list[float]]:
    """Per-probe durations from the daemon's structured log: one JSON line per probe result."""
    samples: dict[str, list[float]] = {n: [] for n in names}
    for line in log_path.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        fields = rec.get("fields", rec)
        probe = fields.get("probe")
        if probe not in names:
            continue
        if fields.get("class") not in (None, "ok"):
            raise BenchError(f"probe {probe} failed during the timing benchmark: {fields}")
        if "duration_ms" in fields:
            samples[probe].append(float(fields["duration_ms"]) / 1000.0)
        elif "duration_seconds" in fields:
            samples[probe].append(float(fields["duration_seconds"]))
        elif (d := parse_duration_field(fields.get("duration"))) is not None:
            samples[probe].append(d)
    return samples


def check_against_histogram(samples: dict[str, list[float]], metrics: dict[str, float]) -> str:
    """The log lines and `claudewatch_probe_duration_seconds` come from one measurement; make sure
    they agree, so the figures reported are the histogram's own."""
    notes = []
    for name, s in samples.items():
        count = metrics.get(f'claudewatch_probe_duration_seconds_count{{probe="{name}"}}')
        total = metrics.get(f'claudewatch_probe_duration_seconds_sum{{probe="{name}"}}')
        if count is None or total is None:
            raise BenchError(f"no claudewatch_probe_duration_seconds for probe {name}")
        n = int(count)
        if not len(s) - 1 <= n <= len(s) + 1 or n == 0:
            raise BenchError(f"probe {name}: the histogram counted {n} probes, the log has {len(s)}")
        n = min(n, len(s))
        log_mean, metric_mean = sum(s[:n]) / n, total / count
        if abs(log_mean - metric_mean) > 0.0005 and n == count:
            raise BenchError(f"probe {name}: histogram mean {metric_mean:.6f} s, log mean {log_mean:.6f} s")
        notes.append(f"{name}: histogram mean {metric_mean * 1000:.3f} ms over {count:.0f}, log mean {log_mean * 1000:.3f} ms")
    return "; ".join(notes)


class BlackboxProber(threading.Thread):
    """Asks blackbox_exporter to probe one simulator endpoint, back to back, and keeps the
    `probe_duration_seconds` it reports for each probe."""

    def __init__(self, bb_port: int, sim_port: int, until: float, max_samples: int):
        super().__init__(daemon=True)
        self.bb_port, self.sim_port, self.until, self.max_samples = bb_port, sim_port, until, max_samples
        self.samples: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        client = Client(self.bb_port)
        target = f"http://{LOOPBACK}:{self.sim_port}/v1/messages"
        while time.monotonic() < self.until and len(self.samples) < self.max_samples:
            status, body, _ = client.request("GET", f"/probe?module=messages_post&target={target}")
            m = parse_metrics(body.decode())
            if status != 200 or m.get("probe_success") != 1.0:
                self.errors.append(f"status {status}: {body[-300:]!r}")
                if len(self.errors) > 3:
                    return
                continue
            self.samples.append(m["probe_duration_seconds"])
        client.close()


class CurlProber(threading.Thread):
    """The floor: curl's own `time_total` for the same request, one fresh connection each."""

    def __init__(self, sim_port: int, until: float, max_samples: int):
        super().__init__(daemon=True)
        self.sim_port, self.until, self.max_samples = sim_port, until, max_samples
        self.samples: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        argv = ["curl", "-sS", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "-X", "POST",
                "-H", f"x-api-key: {BENCH_KEY}", "-H", f"anthropic-version: {ANTHROPIC_VERSION}",
                "-H", "content-type: application/json", "--data", MESSAGES_BODY,
                f"http://{LOOPBACK}:{self.sim_port}/v1/messages"]
        while time.monotonic() < self.until and len(self.samples) < self.max_samples:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            code, _, total = out.stdout.partition(" ")
            if out.returncode != 0 or code != "200":
                self.errors.append(f"curl {out.returncode} {out.stdout} {out.stderr[-200:]}")
                if len(self.errors) > 3:
                    return
                continue
            self.samples.append(float(total))


def median_diff_ci(a: list[float], b: list[float], resamples: int = 2000) -> tuple[float, float]:
    """95 % bootstrap interval of median(a) − median(b), seeded so a rerun on the same samples
    gives the same interval."""
    rng = random.Random(7)
    diffs = sorted(statistics.median(rng.choices(a, k=len(a))) - statistics.median(rng.choices(b, k=len(b)))
                   for _ in range(resamples))
    return diffs[int(0.025 * resamples)], diffs[int(0.975 * resamples) - 1]


def bench_probe(ctx: Ctx, results: Results, blackbox: tuple[Proc, int]) -> None:
    seconds = ctx.args.probe_seconds
    sims = {lat: start_simulator(ctx, f"sim-{int(lat * 1000)}ms", fixed_latency_scenario(lat)) for lat in LATENCIES}
    probes = []
    for lat, (_, sim_port) in sims.items():
        # The next run starts a little after this one ends; the timeout is the interval.
        interval_ms = int(lat * 1000 + max(150, lat * 250))
        probes.append({
            "name": f"fixed-{int(lat * 1000)}ms",
            "base_url": f"http://{LOOPBACK}:{sim_port}",
            "model": "claude-haiku-4-5",
            "max_tokens": 8,
            "interval": f"{interval_ms}ms",
            "timeout": f"{interval_ms}ms",
            "api_key_env": BENCH_KEY_ENV,
        })
    daemon, daemon_port = start_daemon(ctx, "daemon-probe", {"probe": probes, "ingest": {"enabled": False}})
    until = time.monotonic() + seconds
    bb_port = blackbox[1]
    bbs = {lat: BlackboxProber(bb_port, p, until, ctx.args.max_probe_samples) for lat, (_, p) in sims.items()}
    curls = {lat: CurlProber(p, until, ctx.args.max_probe_samples) for lat, (_, p) in sims.items()}
    log(f"probe timing: {seconds} s of probes by the daemon, blackbox_exporter and curl at {LATENCIES} s")
    for t in list(bbs.values()) + list(curls.values()):
        t.start()
    time.sleep(seconds + 0.5)
    for t in list(bbs.values()) + list(curls.values()):
        t.join(timeout=10)
    daemon.check_alive()
    metrics = scrape(daemon_port)
    daemon.stop()
    for sim, _ in sims.values():
        sim.stop()
    ours = daemon_probe_samples(daemon.log_path, {p["name"] for p in probes})
    agreement = check_against_histogram(ours, metrics)

    table = ["| injected | tool | samples | median overhead | p99 overhead | min | max |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for lat in LATENCIES:
        name = f"fixed-{int(lat * 1000)}ms"
        sets = {"claudewatch": ours[name], "blackbox_exporter": bbs[lat].samples, "curl (floor)": curls[lat].samples}
        for tool, s in sets.items():
            if len(s) < 3:
                errs = bbs[lat].errors if tool == "blackbox_exporter" else curls[lat].errors if tool.startswith("curl") else []
                raise BenchError(f"{tool} took only {len(s)} samples at {lat} s: {errs[:2]}")
        over = {tool: [x - lat for x in s] for tool, s in sets.items()}
        for tool, o in over.items():
            table.append(f"| {int(lat * 1000)} ms | {tool} | {len(o)} | {fmt_ms(statistics.median(o))} | "
                         f"{fmt_ms(percentile(o, 99))} | {fmt_ms(min(o))} | {fmt_ms(max(o))} |")
        ours_med, bb_med = statistics.median(over["claudewatch"]), statistics.median(over["blackbox_exporter"])
        lo, hi = median_diff_ci(over["claudewatch"], over["blackbox_exporter"])
        # "No worse" means the difference of the medians is not above zero beyond its own noise.
        worse = lo > 0
        ok = ours_med < 0.001 and not worse
        why = []
        if ours_med >= 0.001:
            why.append(f"over 1 ms by {fmt_ms(ours_med - 0.001)}")
        if worse:
            why.append(f"{fmt_ms(ours_med - bb_med)} worse than blackbox (95 % CI {fmt_ms(lo)} … {fmt_ms(hi)})")
        tie = f" (a tie: {(ours_med - bb_med) * 1000:+.3f} ms, 95 % CI {lo * 1000:+.3f} … {hi * 1000:+.3f} ms)" \
            if ok and ours_med > bb_med else ""
        results.add(Row(
            f"probe overhead at {int(lat * 1000)} ms injected",
            f"median {fmt_ms(ours_med)}, p99 {fmt_ms(percentile(over['claudewatch'], 99))} (n={len(ours[name])})",
            f"blackbox_exporter: median {fmt_ms(bb_med)}, p99 {fmt_ms(percentile(over['blackbox_exporter'], 99))} "
            f"(n={len(bbs[lat].samples)}); curl: median {fmt_ms(statistics.median(over['curl (floor)']))}",
            f"{ours_med / bb_med:.2f}× blackbox's" if bb_med > 0 else "",
            "median < 1 ms and ≤ blackbox's", "met" + tie if ok else "missed: " + ", ".join(why),
        ))
    results.details.append(("Probe timing accuracy", (
        f"Three simulators on loopback, each answering every request after a fixed injected latency (a one-phase "
        f"scenario, `latency = \"50ms\"` and so on). For {seconds} s, the daemon probed each on its own timer (per-sample "
        "durations from its structured log line per probe), blackbox_exporter probed the same endpoint back to back "
        "with the POST module in `bench/blackbox.yml` (its own `probe_duration_seconds` per probe), and curl sent the "
        "same request as a floor (its `time_total`). Overhead = measured − injected; it includes the simulator's own "
        "timer and the loopback round trip, which all three tools share. All three ran at once. \"No worse than "
        "blackbox_exporter\" is judged on the 95 % bootstrap interval of the difference of the medians: worse only if "
        "the whole interval is above zero. "
        f"The daemon's log durations agree with its histogram ({agreement}).\n\n"
        + "\n".join(table))))


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

BENCHMARKS = ("footprint", "probe", "ingest", "scrape")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--daemon", type=Path, required=True, help="the release claudewatch binary")
    p.add_argument("--bare", type=Path, required=True, help="the release bench_bare_axum example")
    p.add_argument("--work", type=Path, required=True, help="scratch folder for configs and logs")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    p.add_argument("--only", default=",".join(BENCHMARKS), help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    p.add_argument("--idle-seconds", type=int, default=60)
    p.add_argument("--flood-events", type=int, default=1_000_000)
    p.add_argument("--probe-seconds", type=int, default=45)
    p.add_argument("--max-probe-samples", type=int, default=300)
    p.add_argument("--wrk-seconds", type=int, default=6)
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--wrk-connections", type=int, default=32)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--scrapes", type=int, default=200)
    p.add_argument("--build-seconds", type=int, default=0, help="how long bench/run's build took (for the report)")
    a = p.parse_args(argv)
    a.describe = lambda: (f"`--idle-seconds {a.idle_seconds} --flood-events {a.flood_events} --probe-seconds "
                          f"{a.probe_seconds} --wrk-seconds {a.wrk_seconds} --wrk-threads {a.wrk_threads} "
                          f"--wrk-connections {a.wrk_connections} --rounds {a.rounds} --scrapes {a.scrapes}`")
    return a


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    selected = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = set(selected) - set(BENCHMARKS)
    if unknown:
        print(f"bench: unknown benchmark(s) {sorted(unknown)}; choose from {BENCHMARKS}", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    ctx = Ctx(args.daemon.resolve(), args.bare.resolve(), args.work.resolve(), args)
    started = time.monotonic()
    machine = machine_info()
    machine["load average at start"] = loadavg(3)
    results = Results()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        blackbox = start_blackbox(ctx)
        pushgateway = start_pushgateway(ctx)
        for name in BENCHMARKS:
            if name not in selected:
                continue
            log(f"=== {name}")
            t0 = time.monotonic()
            try:
                if name == "footprint":
                    bench_footprint(ctx, results, blackbox, pushgateway)
                elif name == "probe":
                    bench_probe(ctx, results, blackbox)
                elif name == "ingest":
                    bench_ingest(ctx, results)
                elif name == "scrape":
                    bench_scrape(ctx, results, pushgateway[1])
            except (BenchError, OSError, subprocess.SubprocessError, KeyError, ValueError) as e:
                log(f"{name} failed: {e}")
                results.failures.append((name, str(e).replace("\n", " ")[:1500]))
            finally:
                for p in list(Proc.running):
                    if p not in (blackbox[0], pushgateway[0]):
                        p.stop()
            log(f"=== {name} took {time.monotonic() - t0:.0f} s")
    finally:
        Proc.stop_all()
    machine["load average at end"] = loadavg(3)
    write_results(args.out, results, machine, started, args)
    return 1 if results.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

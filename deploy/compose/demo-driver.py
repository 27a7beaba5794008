#!/usr/bin/env python3
"""The compose demo's app and status-page editor, so every dashboard panel moves.

- Plays the vendor: opens an incident on the simulator's status page when the ECONNRESET wave
  begins, moves it to Identified and Monitoring during the wave, resolves it after.
- Plays an app: calls the simulated API through the retry playbook package
  (clients/python, import name claudewatch_retry) as service "demo-checkout", reporting retries and
  exhaustions to the demo daemon.

Times follow the built-in econnreset-wave scenario (10 minutes from the simulator's start);
--speed divides them (tests/deploy.rs runs it 60x faster against a simulator at that speed).
Usage (compose runs it): demo-driver.py --api-url URL --daemon-url URL [--minutes N] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.request

import anthropic

from claudewatch_retry import Reporter, RetryingClient

# Minutes into the wave scenario -> the incident update the "vendor" posts then.
STATUS_TIMELINE = [
    (1.5, "investigating"),
    (3.0, "identified"),
    (6.5, "monitoring"),
    (9.0, "resolved"),
]


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=5) as response:
        return json.loads(response.read() or b"{}")


def play_vendor(api_url: str, started: float, speed: float, stop: threading.Event) -> None:
    incident = None
    for minute, state in STATUS_TIMELINE:
        if stop.wait(max(0.0, started + minute * 60 / speed - time.monotonic())):
            return
        try:
            if incident is None:
                incident = post(f"{api_url}/_sim/status/incidents", {
                    "title": "Elevated connection errors on the Messages API",
                    "impact": "major",
                    "state": state,
                })["id"]
            else:
                post(f"{api_url}/_sim/status/incidents/{incident}/updates", {"state": state})
            print(f"status page: incident {incident} is {state}", flush=True)
        except OSError as error:  # the simulator restarting: try the next step
            print(f"status page: {error}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--daemon-url", required=True)
    parser.add_argument("--minutes", type=float, default=12.0, help="how long to run (scenario minutes)")
    parser.add_argument("--threads", type=int, default=8, help="concurrent callers (8 exhaust more than 5 chains a minute at the peak)")
    parser.add_argument("--speed", type=float, default=1.0, help="scenario minutes per real minute")
    args = parser.parse_args()

    started = time.monotonic()
    end = started + args.minutes * 60 / args.speed
    stop = threading.Event()
    vendor = threading.Thread(target=play_vendor, args=(args.api_url, started, args.speed, stop), daemon=True)
    vendor.start()

    reporter = Reporter(args.daemon_url, flush_interval=1.0)
    client = anthropic.Anthropic(api_key="sk-ant-demo-not-a-real-key", base_url=args.api_url, timeout=10.0)
    claude = RetryingClient(client, service="demo-checkout", reporter=reporter)
    calls = [0] * args.threads

    def caller(i: int) -> None:
        while time.monotonic() < end:
            calls[i] += 1
            try:
                claude.messages_create(model="claude-haiku-4-5", max_tokens=16,
                                       messages=[{"role": "user", "content": "Reply with OK."}])
            except Exception:  # noqa: BLE001 - the app sees the error; the daemon counted it
                pass
            time.sleep(0.5 / args.speed)

    workers = [threading.Thread(target=caller, args=(i,), daemon=True) for i in range(args.threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=max(0.0, end - time.monotonic()) + 120)
    stop.set()
    vendor.join(timeout=10)
    reporter.close(timeout=10.0)
    print(f"done: {sum(calls)} calls, {reporter.sent} events sent, {reporter.dropped} dropped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

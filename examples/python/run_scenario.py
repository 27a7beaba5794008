#!/usr/bin/env python3
"""Runs calls through claudewatch_retry against an API (the simulator, say) and prints a JSON
tally of what the app saw and what it reported. The wrapper tests in tests/wrappers.rs use it;
it is also a quick demo:

    claudewatch simulate --scenario econnreset-wave &      # the API, on 127.0.0.1:8089
    claudewatch --config config/claudewatch.toml &         # the daemon, on :9464
    python examples/python/run_scenario.py --api-url http://127.0.0.1:8089 --calls 50
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict

import anthropic

from claudewatch_retry import Reporter, RetryingClient, RetryPolicy, classify


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api-url", required=True, help="base URL of the Messages API")
    parser.add_argument("--daemon-url", default="http://127.0.0.1:9464", help="claudewatch's base URL")
    parser.add_argument("--service", default="demo-python")
    parser.add_argument("--model", default="claude-sonnet-4-6")
    parser.add_argument("--calls", type=int, default=20, help="calls to make at most")
    parser.add_argument("--duration", type=float, default=None, help="stop starting calls after this many seconds")
    parser.add_argument("--api-key", default="sim-key")
    parser.add_argument("--token", default=None, help="bearer token for claudewatch")
    parser.add_argument("--timeout", type=float, default=30.0, help="SDK timeout per attempt, seconds")
    parser.add_argument("--fast", action="store_true", help="millisecond backoff delays (tests)")
    args = parser.parse_args()

    policy = RetryPolicy(initial_delay=0.01, max_delay=2.0, server_error_delay=0.01) if args.fast else RetryPolicy()
    reporter = Reporter(args.daemon_url, token=args.token, flush_interval=0.2, timeout=2.0)
    client = anthropic.Anthropic(
        api_key=args.api_key,
        base_url=args.api_url,
        timeout=args.timeout,
    )
    events: dict = defaultdict(Counter)
    claude = RetryingClient(
        client,
        service=args.service,
        reporter=reporter,
        policy=policy,
        on_event=lambda e: events[e["outcome"]].update([e.get("class", "-")]),
    )

    succeeded = 0
    calls = 0
    raised: Counter = Counter()
    started = time.monotonic()
    for _ in range(args.calls):
        if args.duration is not None and time.monotonic() - started >= args.duration:
            break
        calls += 1
        try:
            claude.messages_create(
                model=args.model, max_tokens=16, messages=[{"role": "user", "content": "Reply with OK."}]
            )
            succeeded += 1
        except Exception as error:  # noqa: BLE001 - the tally shows what reached the app
            raised[classify(error) or type(error).__name__] += 1
    flushed = reporter.close(timeout=10.0)
    print(
        json.dumps(
            {
                "calls": calls,
                "succeeded": succeeded,
                "raised": raised,
                "events": {outcome: dict(c) for outcome, c in events.items()},
                "reporter": {
                    "flushed": flushed,
                    "sent": reporter.sent,
                    "dropped": reporter.dropped,
                    "failed_requests": reporter.failed_requests,
                },
                "seconds": round(time.monotonic() - started, 3),
            },
            sort_keys=True,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

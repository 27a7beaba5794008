#!/usr/bin/env python3
"""Runs calls through claudewatch_retry against an API (the simulator, say) and prints a JSON
tally of what the app saw and what it reported. The wrapper tests in tests/wrappers.rs use it
(with the wheel installed in a clean venv); it is also a quick demo:

    pip install ./clients/python
    claudewatch simulate --scenario econnreset-wave &      # the API, on 127.0.0.1:8089
    claudewatch --config config/claudewatch.toml &         # the daemon, on :9464
    python examples/python/run_scenario.py --api-url http://127.0.0.1:8089 --calls 50 --mode helper --async

--mode picks the call shape: json (messages_create), raw (messages_create(stream=True)) or
helper (messages_stream); --async uses AsyncRetryingClient around AsyncAnthropic.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter, defaultdict
from typing import Any

import anthropic

from claudewatch_retry import AsyncRetryingClient, Reporter, RetryingClient, RetryPolicy, classify


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api-url", required=True, help="base URL of the Messages API")
    parser.add_argument("--daemon-url", default="http://127.0.0.1:9464", help="claudewatch's base URL")
    parser.add_argument("--service", default="demo-python")
    parser.add_argument("--model", default="claude-sonnet-4-6")
    parser.add_argument("--calls", type=int, default=20, help="calls to make at most")
    parser.add_argument("--duration", type=float, default=None, help="stop starting calls after this many seconds")
    parser.add_argument("--mode", choices=["json", "raw", "helper"], default="json", help="the call shape")
    parser.add_argument("--async", dest="use_async", action="store_true", help="AsyncAnthropic and AsyncRetryingClient")
    parser.add_argument("--api-key", default="sim-key")
    parser.add_argument("--token", default=None, help="bearer token for claudewatch")
    parser.add_argument("--timeout", type=float, default=30.0, help="SDK timeout per attempt, seconds")
    parser.add_argument("--fast", action="store_true", help="millisecond backoff delays (tests)")
    args = parser.parse_args()

    policy = RetryPolicy(initial_delay=0.01, max_delay=2.0, server_error_delay=0.01) if args.fast else RetryPolicy()
    reporter = Reporter(args.daemon_url, token=args.token, flush_interval=0.2, timeout=2.0)
    events: dict[str, Counter[str]] = defaultdict(Counter)
    options: dict[str, Any] = {
        "service": args.service,
        "reporter": reporter,
        "policy": policy,
        "on_event": lambda e: events[e["outcome"]].update([e.get("class", "-")]),
    }
    sdk: dict[str, Any] = {"api_key": args.api_key, "base_url": args.api_url, "timeout": args.timeout}
    params: dict[str, Any] = {"model": args.model, "max_tokens": 16, "messages": [{"role": "user", "content": "Reply with OK."}]}
    tally = Tally()
    if args.use_async:
        claude_async = AsyncRetryingClient(anthropic.AsyncAnthropic(**sdk), **options)
        asyncio.run(run_async(claude_async, args, params, tally))
    else:
        run_sync(RetryingClient(anthropic.Anthropic(**sdk), **options), args, params, tally)
    flushed = reporter.close(timeout=10.0)
    print(
        json.dumps(
            {
                "calls": tally.calls,
                "succeeded": tally.succeeded,
                "raised": tally.raised,
                "events": {outcome: dict(c) for outcome, c in events.items()},
                "reporter": {
                    "flushed": flushed,
                    "sent": reporter.sent,
                    "dropped": reporter.dropped,
                    "failed_requests": reporter.failed_requests,
                },
                "seconds": round(time.monotonic() - tally.started, 3),
            },
            sort_keys=True,
        )
    )
    return 0


class Tally:
    def __init__(self) -> None:
        self.calls = 0
        self.succeeded = 0
        self.raised: Counter[str] = Counter()
        self.started = time.monotonic()

    def more(self, args: argparse.Namespace) -> bool:
        if self.calls >= args.calls or (args.duration is not None and time.monotonic() - self.started >= args.duration):
            return False
        self.calls += 1
        return True

    def failed(self, error: Exception) -> None:
        failure = classify(error)
        self.raised[failure.cls if failure else type(error).__name__] += 1


def run_sync(claude: RetryingClient, args: argparse.Namespace, params: dict[str, Any], tally: Tally) -> None:
    while tally.more(args):
        try:
            if args.mode == "json":
                claude.messages_create(**params)
            elif args.mode == "raw":
                with claude.messages_create(stream=True, **params) as stream:
                    for _ in stream:
                        pass
            else:
                with claude.messages_stream(**params) as helper:
                    helper.get_final_message()
            tally.succeeded += 1
        except Exception as error:  # noqa: BLE001 - the tally shows what reached the app
            tally.failed(error)


async def run_async(claude: AsyncRetryingClient, args: argparse.Namespace, params: dict[str, Any], tally: Tally) -> None:
    while tally.more(args):
        try:
            if args.mode == "json":
                await claude.messages_create(**params)
            elif args.mode == "raw":
                async with await claude.messages_create(stream=True, **params) as stream:
                    async for _ in stream:
                        pass
            else:
                async with claude.messages_stream(**params) as helper:
                    await helper.get_final_message()
            tally.succeeded += 1
        except Exception as error:  # noqa: BLE001 - the tally shows what reached the app
            tally.failed(error)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A streaming async app under the playbook: two lines wrap the client.

    pip install ./clients/python
    claudewatch simulate --scenario econnreset-wave &     # the API, on 127.0.0.1:8089
    claudewatch &                                         # the daemon, on :9464
    python examples/python/stream_async.py --api-url http://127.0.0.1:8089

It prints the reply as it streams; the retries the wave causes are on the daemon's /metrics.
"""

from __future__ import annotations

import argparse
import asyncio

import anthropic

from claudewatch_retry import AsyncRetryingClient, Reporter


async def main(api_url: str, daemon_url: str) -> None:
    reporter = Reporter(daemon_url)
    claude = AsyncRetryingClient(anthropic.AsyncAnthropic(base_url=api_url, api_key="sim-key"), service="stream-demo", reporter=reporter)
    try:
        async with claude.messages_stream(
            model="claude-sonnet-4-6", max_tokens=64, messages=[{"role": "user", "content": "Say hello."}]
        ) as stream:
            async for text in stream.text_stream:
                print(text, end="", flush=True)
        print()
    finally:
        await reporter.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api-url", default="http://127.0.0.1:8089")
    parser.add_argument("--daemon-url", default="http://127.0.0.1:9464")
    args = parser.parse_args()
    asyncio.run(main(args.api_url, args.daemon_url))

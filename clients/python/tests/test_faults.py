"""Every way a call really fails, on real sockets (the fault server), through the pinned SDK
alone and through the wrappers: what the SDK raises, what the wrapper classifies, reports and
retries. One row per socket behaviour and call shape; each row runs with the sync and the async
client.

The rows' ``sdk`` column is what PyPI ``anthropic`` 2.10.0 (on ``httpx2`` 2.17) raises with
``max_retries=0``: checked here, not assumed. A failure before the first event reached the app
is retried by the wrapper (``retry`` then ``success``); after it, the wrapper reports
``exhausted`` and raises the SDK's own exception, and sends nothing again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from claudewatch_retry import AsyncRetryingClient, Reporter, RetryingClient, RetryPolicy
from conftest import WHOLE, FaultServer, chain_of, drive, sdk_client

CONNECTION_ERROR = ["anthropic.APIConnectionError", "httpx2.ReadError"]
STALL_TIMEOUT = 2.0  # the SDK's (per-read) timeout in the stall rows; the server stalls 30 s


@dataclass(frozen=True)
class Row:
    id: str
    step: Any
    mode: str  # json, raw (messages.create(stream=True)), helper (messages.stream)
    #: The exception and its causes, as `module.Class`, that the SDK raises.
    sdk: list[str]
    #: Events the app had seen when it was raised.
    delivered: int
    cls: str
    stage: str | None
    #: A plain call first, so that the faulted one reuses its keep-alive connection.
    warm: bool = False

    @property
    def retried(self) -> bool:
        return self.delivered == 0

    @property
    def steps(self) -> list[Any]:
        return ["ok", self.step] if self.warm else [self.step]


ROWS = [
    Row("reset/json", "reset", "json", CONNECTION_ERROR, 0, "connection", "request"),
    Row("reset/raw", "reset", "raw", CONNECTION_ERROR, 0, "connection", "request"),
    Row("reset/helper", "reset", "helper", CONNECTION_ERROR, 0, "connection", "request"),
    Row("reset_mid_body/json", "reset_mid_body", "json", CONNECTION_ERROR, 0, "connection", "body"),
    Row(
        "close_mid_body/json",
        "close_mid_body",
        "json",
        ["anthropic.APIConnectionError", "httpx2.RemoteProtocolError"],
        0,
        "connection",
        "body",
    ),
    Row("reset_mid_stream:2/raw", {"fault": "reset_mid_stream", "events": 2}, "raw", ["httpx2.ReadError"], 2, "connection", "body"),
    Row("reset_mid_stream:2/helper", {"fault": "reset_mid_stream", "events": 2}, "helper", ["httpx2.ReadError"], 2, "connection", "body"),
    Row("reset_mid_stream:0/raw", {"fault": "reset_mid_stream", "events": 0}, "raw", ["httpx2.ReadError"], 0, "connection", "body"),
    Row("reset_mid_stream:0/helper", {"fault": "reset_mid_stream", "events": 0}, "helper", ["httpx2.ReadError"], 0, "connection", "body"),
    Row(
        "close_mid_stream:3/raw",
        {"fault": "close_mid_stream", "events": 3},
        "raw",
        ["httpx2.RemoteProtocolError"],
        3,
        "connection",
        "body",
    ),
    Row(
        "close_mid_stream:3/helper",
        {"fault": "close_mid_stream", "events": 3},
        "helper",
        ["httpx2.RemoteProtocolError"],
        # message_start, content_block_start, content_block_delta and its `text` event
        4,
        "connection",
        "body",
    ),
    Row("stall/json", "stall", "json", ["anthropic.APITimeoutError", "httpx2.ReadTimeout"], 0, "timeout", "body"),
    Row("stall:1/raw", {"fault": "stall", "events": 1}, "raw", ["httpx2.ReadTimeout"], 1, "timeout", "body"),
    Row("stall:1/helper", {"fault": "stall", "events": 1}, "helper", ["httpx2.ReadTimeout"], 1, "timeout", "body"),
    Row("stall:0/raw", {"fault": "stall", "events": 0}, "raw", ["httpx2.ReadTimeout"], 0, "timeout", "body"),
    # `event: error` in a 200 stream: APIStatusError with status_code 200; its type decides.
    Row("stream_error:overloaded/raw", {"fault": "stream_error", "events": 2}, "raw", ["anthropic.APIStatusError"], 2, "overloaded", None),
    Row(
        "stream_error:overloaded/helper",
        {"fault": "stream_error", "events": 2},
        "helper",
        ["anthropic.APIStatusError"],
        2,
        "overloaded",
        None,
    ),
    Row(
        "stream_error:api_error/raw",
        {"fault": "stream_error", "events": 0, "type": "api_error"},
        "raw",
        ["anthropic.APIStatusError"],
        0,
        "server_error",
        None,
    ),
    Row(
        "stream_error:rate_limit/helper",
        {"fault": "stream_error", "events": 0, "type": "rate_limit_error"},
        "helper",
        ["anthropic.APIStatusError"],
        0,
        "rate_limited",
        None,
    ),
    Row("reset_on_reuse/json", "reset_on_reuse", "json", CONNECTION_ERROR, 0, "connection", "request", warm=True),
    Row("reset_on_reuse/raw", "reset_on_reuse", "raw", CONNECTION_ERROR, 0, "connection", "request", warm=True),
    Row("reset_on_reuse/helper", "reset_on_reuse", "helper", CONNECTION_ERROR, 0, "connection", "request", warm=True),
]

KINDS = ["sync", "async"]


def timeout_of(row: Row) -> float:
    return STALL_TIMEOUT if row.cls == "timeout" else 10.0


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_what_the_sdk_raises(server: FaultServer, row: Row, kind: str) -> None:
    """The pinned SDK alone (no retries): the exception the app gets, and when."""
    server.script(*row.steps)
    out = drive(sdk_client(server, kind, timeout_of(row)), row.mode, wrapped=False, warm=row.warm)
    assert chain_of(out.error)[: len(row.sdk)] == row.sdk, out.error
    assert out.events == row.delivered
    if row.stage is None and out.error is not None:
        # `event: error` after the 200: the status is the stream's 200, the type the event's.
        assert out.error.status_code == 200  # type: ignore[attr-defined]
    if row.warm:
        reused = server.log()[-1]
        assert reused["conn_request"] == 2 and reused["fault"] == "reset", server.log()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_what_the_wrapper_makes_of_it(server: FaultServer, row: Row, kind: str) -> None:
    """The same fault, then a good answer, through the wrapper: retried while nothing reached
    the app, reported and raised (as the SDK raised it) once something did."""
    server.script(*row.steps, "ok")
    events: list[dict[str, Any]] = []
    reporter = Reporter(server.url, flush_interval=0.05)
    options: dict[str, Any] = {
        "service": "faults",
        "reporter": reporter,
        "policy": RetryPolicy(initial_delay=0.001, server_error_delay=0.001),
        "on_event": events.append,
    }
    sdk = sdk_client(server, kind, timeout_of(row))
    claude = AsyncRetryingClient(sdk, **options) if kind == "async" else RetryingClient(sdk, **options)
    out = drive(claude, row.mode, wrapped=True, warm=row.warm)
    assert reporter.close(timeout=10)
    reported = list(events)
    if row.warm:
        assert events[0]["outcome"] == "success"
        events = events[1:]

    expected_fault = {"service": "faults", "class": row.cls, "attempts": 1, "model": "claude-fault-1"}
    if row.stage is not None:
        expected_fault["stage"] = row.stage
    requests = [r for r in server.log() if not (row.warm and r["seq"] == 1)]
    if row.retried:
        assert out.error is None, out.error
        assert out.events == WHOLE.get(row.mode, 0)
        assert events == [
            {**expected_fault, "outcome": "retry"},
            {"service": "faults", "outcome": "success", "attempts": 2, "model": "claude-fault-1"},
        ]
        assert len(requests) == 2
    else:
        assert chain_of(out.error)[: len(row.sdk)] == row.sdk, out.error
        assert out.events == row.delivered
        assert events == [{**expected_fault, "outcome": "exhausted"}]
        assert len(requests) == 1, "events had reached the app: never sent again"
    # What reached the daemon: the same events, without `stage` (not in the ingest contract yet).
    sent = [e for r in server.ingest()["requests"] for e in r["body"]["events"]]
    assert sorted(e["outcome"] for e in sent) == sorted(e["outcome"] for e in reported)
    assert all("stage" not in e for e in sent)

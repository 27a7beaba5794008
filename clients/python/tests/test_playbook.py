"""The playbook's special cases on real sockets: spend limits, retry-after over the cap, errors
that are not the API's (passed through, never reported), and a reporter that never holds up the
app or its event loop, however slow claudewatch is."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import claudewatch_retry
from claudewatch_retry import AsyncRetryingClient, Reporter, RetryingClient, RetryPolicy
from conftest import PARAMS, FaultServer, chain_of, sdk_client

FAST = RetryPolicy(initial_delay=0.001, server_error_delay=0.001)


def wrapped(server: FaultServer, events: list[dict[str, Any]], *, kind: str = "sync", **reporter: Any) -> Any:
    options: dict[str, Any] = {
        "service": "playbook",
        "reporter": Reporter(server.url, **{"flush_interval": 0.05, **reporter}),
        "policy": FAST,
        "on_event": events.append,
    }
    sdk = sdk_client(server, kind)
    return AsyncRetryingClient(sdk, **options) if kind == "async" else RetryingClient(sdk, **options)


def outcomes(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(e["outcome"], e.get("class")) for e in events]


@pytest.mark.parametrize(
    ("step", "expected", "requests"),
    [
        # The tier's monthly cap and a contract's: retrying cannot help, so no retry at all.
        ({"fault": "status", "status": 429, "error_code": "enforced_spend_limit_reached"}, [("failure", "rate_limited")], 1),
        ({"fault": "status", "status": 429, "error_code": "contract_spend_limit_reached"}, [("failure", "rate_limited")], 1),
        # A ramp limit asks for a wait, and is retried after it.
        (
            {"fault": "status", "status": 429, "error_code": "ramp_limit_exceeded", "retry_after_ms": 5},
            [("retry", "rate_limited"), ("success", None)],
            2,
        ),
        # A spend limit that the organization set arrives as a 400: a client error like any.
        ({"fault": "status", "status": 400, "type": "invalid_request_error"}, [("failure", "client_error")], 1),
        # retry-after above the 60 s cap: give up at once rather than sleep or hammer.
        ({"fault": "status", "status": 429, "retry_after": 600}, [("exhausted", "rate_limited")], 1),
        # ... and a wait under it is honoured.
        ({"fault": "status", "status": 429, "retry_after_ms": 5}, [("retry", "rate_limited"), ("success", None)], 2),
        # 529 and `overloaded_error` in a 200 stream are the same class; 504 is a server error.
        ({"fault": "status", "status": 529}, [("retry", "overloaded"), ("success", None)], 2),
        ({"fault": "status", "status": 504}, [("retry", "server_error"), ("success", None)], 2),
        ({"fault": "status", "status": 401}, [("failure", "auth")], 1),
    ],
    ids=["enforced", "contract", "ramp", "user-set-400", "retry-after-600", "retry-after-5ms", "529", "504", "401"],
)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_status_answers(server: FaultServer, kind: str, step: dict[str, Any], expected: list[Any], requests: int) -> None:
    server.script(step, "ok")
    events: list[dict[str, Any]] = []
    claude = wrapped(server, events, kind=kind)
    try:
        result = claude.messages_create(**PARAMS)
        if kind == "async":
            result = asyncio.run(result)
    except Exception as error:  # noqa: BLE001 - the outcome records whatever the call raised
        assert expected[-1][0] != "success", error
        assert chain_of(error)[0].startswith("anthropic."), error
    else:
        assert expected[-1][0] == "success", result
    assert outcomes(events) == expected
    assert len(server.log()) == requests
    if step["status"] != 200:
        assert events[0].get("status") == step["status"]


def test_retry_after_over_the_cap_is_logged(server: FaultServer, caplog: pytest.LogCaptureFixture) -> None:
    server.script({"fault": "status", "status": 429, "retry_after": 45})
    events: list[dict[str, Any]] = []
    claude = wrapped(server, events)
    claude.policy.max_delay = 30  # the cap is configurable (60 s by default)
    with caplog.at_level(logging.INFO, logger="claudewatch_retry"), pytest.raises(Exception, match="429"):
        claude.messages_create(**PARAMS)
    assert outcomes(events) == [("exhausted", "rate_limited")]
    assert "retry-after 45 s is over the 30 s cap" in caplog.text


def test_the_stage_is_logged(server: FaultServer, caplog: pytest.LogCaptureFixture) -> None:
    server.script({"fault": "reset_mid_stream", "events": 0})
    with caplog.at_level(logging.INFO, logger="claudewatch_retry"):
        for _ in wrapped(server, []).messages_create(stream=True, **PARAMS):
            pass
    assert "class=connection stage=body" in caplog.text


def test_caller_bugs_pass_through_unreported(server: FaultServer) -> None:
    events: list[dict[str, Any]] = []
    claude = wrapped(server, events)

    def buggy() -> None:
        raise KeyError("a bug in the app")

    with pytest.raises(KeyError):
        claude.call(buggy)
    with pytest.raises(TypeError):
        claude.messages_create(**PARAMS, not_a_parameter=1)
    assert events == []
    assert server.log() == []


def test_a_cancelled_task_passes_through_unreported(server: FaultServer) -> None:
    """asyncio cancellation (a client gone, a timeout around the call) is not the API's failure."""
    server.script({"fault": "stall", "events": 1})
    events: list[dict[str, Any]] = []

    async def main() -> None:
        claude = wrapped(server, events, kind="async")
        stream = await claude.messages_create(stream=True, **PARAMS)
        seen = asyncio.Event()

        async def read() -> None:
            async for _ in stream:
                seen.set()

        task = asyncio.create_task(read())
        await seen.wait()  # the stream is stalled after its first event
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert events == []


def test_the_reporter_never_holds_up_the_event_loop(server: FaultServer) -> None:
    """claudewatch takes a batch and does not answer: the app's calls all finish meanwhile, on
    the one event loop, and the events are delivered once it answers."""
    server.ingest(hold=True)
    events: list[dict[str, Any]] = []
    calls = 20

    async def main() -> Reporter:
        claude = wrapped(server, events, kind="async", flush_interval=0.001, max_batch=1)
        await asyncio.gather(*(claude.messages_create(**PARAMS) for _ in range(calls)))
        return claude.reporter  # type: ignore[no-any-return]

    reporter = asyncio.run(main())
    held = server.ingest()
    assert len(held["requests"]) >= 1, "the reporter did send"
    assert held["answered"] == 0 and reporter.sent == 0, "and every call finished while claudewatch held the first batch"
    assert len(events) == calls
    server.ingest(hold=False)
    assert reporter.close(timeout=10)
    assert reporter.sent == calls and reporter.dropped == 0


def test_a_full_buffer_drops_and_counts(server: FaultServer) -> None:
    server.ingest(hold=True)
    reporter = Reporter(server.url, max_queue=3, max_batch=1, flush_interval=0.001)
    for _ in range(10):
        reporter.report({"service": "x", "outcome": "success"})
    server.ingest(hold=False)
    assert reporter.close(timeout=10)
    assert reporter.sent + reporter.dropped == 10
    assert reporter.dropped >= 6  # at most one batch in flight and three queued


@pytest.mark.parametrize("send_stage", [False, True])
def test_sending_the_stage_is_one_switch(server: FaultServer, send_stage: bool) -> None:
    server.script("reset")
    events: list[dict[str, Any]] = []
    claude = wrapped(server, events, send_stage=send_stage)
    claude.messages_create(**PARAMS)
    assert claude.reporter.close(timeout=10)
    sent = [e for r in server.ingest()["requests"] for e in r["body"]["events"]]
    retry = next(e for e in sent if e["outcome"] == "retry")
    assert ("stage" in retry) is send_stage
    assert events[0]["stage"] == "request", "the app's own hook always sees it"
    assert claudewatch_retry.SEND_STAGE is False, "off until the daemon's ingest accepts `stage`"

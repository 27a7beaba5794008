"""The fault server (``clients/testing/faultserver.py``, raw sockets on 127.0.0.1) for the tests,
and helpers that drive an SDK client, or the wrapper around it, through one call of each shape."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import pytest

FAULT_SERVER = Path(__file__).resolve().parents[2] / "testing" / "faultserver.py"
PARAMS: dict[str, Any] = {"model": "claude-fault-1", "max_tokens": 16, "messages": [{"role": "user", "content": "Reply with OK."}]}
#: Events the app sees in a whole stream: the raw stream's 7, the helper's 9 (plus two `text`).
WHOLE = {"raw": 7, "helper": 9}

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


class FaultServer:
    def __init__(self, url: str) -> None:
        self.url = url

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        with _opener.open(request, timeout=10) as response:
            return json.loads(response.read())

    def script(self, *steps: Any) -> None:
        self._call("POST", "/_script", list(steps))

    def log(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_log")["requests"]  # type: ignore[no-any-return]

    def reset(self) -> None:
        self._call("POST", "/_reset")

    def ingest(self, *, hold: bool | None = None, status: int | None = None) -> dict[str, Any]:
        if hold is not None or status is not None:
            self._call("PUT", "/_ingest", {"hold": bool(hold), "status": status or 202})
        return self._call("GET", "/_ingest")  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def fault_server() -> Iterator[FaultServer]:
    process = subprocess.Popen([sys.executable, str(FAULT_SERVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdin is not None
    port = json.loads(process.stdout.readline())["port"]
    try:
        yield FaultServer(f"http://127.0.0.1:{port}")
    finally:
        process.stdin.close()
        process.wait(timeout=10)


@pytest.fixture
def server(fault_server: FaultServer) -> FaultServer:
    fault_server.reset()
    return fault_server


def sdk_client(server: FaultServer, kind: str, timeout: float = 10.0) -> Any:
    """An SDK client without its own retries, so each call is one request."""
    cls = anthropic.AsyncAnthropic if kind == "async" else anthropic.Anthropic
    return cls(base_url=server.url, api_key="sk-ant-fault", max_retries=0, timeout=timeout)


@dataclass
class Outcome:
    """What one call did from the app's side."""

    error: BaseException | None = None
    events: int = 0
    result: Any = None
    texts: list[str] = field(default_factory=list)


def drive(client: Any, mode: str, *, wrapped: bool, warm: bool = False) -> Outcome:
    """Makes one call of ``mode`` (``json``, ``raw`` or ``helper``) with an SDK client or a
    retrying client (sync or async) and records what the app saw. ``warm``: one plain call
    first, on the same connection pool (and event loop)."""
    if asyncio.iscoroutinefunction(getattr(client, "call", None)) or isinstance(client, anthropic.AsyncAnthropic):
        return asyncio.run(_drive_async(client, mode, wrapped, warm))
    if warm:
        (client.messages_create if wrapped else client.messages.create)(**PARAMS)
    out = Outcome()
    try:
        if mode == "json":
            out.result = client.messages_create(**PARAMS) if wrapped else client.messages.create(**PARAMS)
        elif mode == "raw":
            stream = client.messages_create(stream=True, **PARAMS) if wrapped else client.messages.create(stream=True, **PARAMS)
            with stream:
                for _ in stream:
                    out.events += 1
        else:
            manager = client.messages_stream(**PARAMS) if wrapped else client.messages.stream(**PARAMS)
            with manager as stream:
                for event in stream:
                    out.events += 1
                    if event.type == "text":
                        out.texts.append(event.text)
                out.result = stream.get_final_message()
    except Exception as error:  # noqa: BLE001 - the outcome records whatever the call raised
        out.error = error
    return out


async def _drive_async(client: Any, mode: str, wrapped: bool, warm: bool) -> Outcome:
    if warm:
        await (client.messages_create if wrapped else client.messages.create)(**PARAMS)
    out = Outcome()
    try:
        if mode == "json":
            out.result = await (client.messages_create(**PARAMS) if wrapped else client.messages.create(**PARAMS))
        elif mode == "raw":
            stream = await (client.messages_create(stream=True, **PARAMS) if wrapped else client.messages.create(stream=True, **PARAMS))
            async with stream:
                async for _ in stream:
                    out.events += 1
        else:
            manager = client.messages_stream(**PARAMS) if wrapped else client.messages.stream(**PARAMS)
            async with manager as stream:
                async for event in stream:
                    out.events += 1
                    if event.type == "text":
                        out.texts.append(event.text)
                out.result = await stream.get_final_message()
    except Exception as error:  # noqa: BLE001 - the outcome records whatever the call raised
        out.error = error
    return out


def chain_of(error: BaseException | None) -> list[str]:
    """``module.Class`` of an exception and of its causes."""
    names = []
    while error is not None:
        names.append(f"{type(error).__module__.split('.')[0]}.{type(error).__name__}")
        error = error.__cause__
    return names

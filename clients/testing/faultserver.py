#!/usr/bin/env python3
"""A raw-socket fault server for the client libraries' tests: it speaks just enough of the
Messages API (``POST /v1/messages``, JSON and SSE) over plain HTTP/1.1 to drive the official SDKs,
and breaks each response the way real networks do, at the socket level, so the tests see what the
SDKs really raise. It also plays a claudewatch ingest endpoint (``POST /v1/events``) that can be
made slow, for the reporter's tests. Standard library only; both the pytest and the node:test
suites start it as a process.

    python3 faultserver.py            # prints {"port": N} on stdout, serves 127.0.0.1:N
                                      # until stdin closes (so it dies with its parent)

Each ``POST /v1/messages`` takes the next step of the script (``ok`` when it is empty):

====================  ==========================================================================
fault                 what the client gets
====================  ==========================================================================
ok                    a normal answer: JSON with Content-Length, or SSE in chunked encoding
status                an API error: ``status`` (529), ``type`` (by the status), optional
                      ``retry_after``, ``retry_after_ms``, ``error_code``, ``x_should_retry``
reset                 the request is read, then the connection is reset (SO_LINGER 0): no byte
                      of a response
reset_mid_stream      a 200 whose body stops, then a reset: a stream after ``events`` SSE events
                      (3 unless given), a JSON answer halfway
close_mid_stream      the same, then a clean close (FIN) with the body unfinished: the chunked
                      stream lacks its last chunk, the JSON its last bytes
reset_mid_body        the same as ``reset_mid_stream`` (the name for non-streaming requests)
close_mid_body        the same as ``close_mid_stream``
stall                 a 200 whose body stops as above, then silence for ``seconds`` (30), then a
                      reset; with ``"before_headers": true``, silence right after the request
stream_error          200, ``events`` SSE events (3), then ``event: error`` with ``type``
                      (overloaded_error) and optional ``error_code``, then the stream ends
                      properly; on a non-streaming request, a normal answer
reset_on_reuse        on a connection that already served a request: the request is read, then
                      a reset; on a fresh connection: ``ok`` (a keep-alive connection that a
                      middlebox forgot while it idled)
====================  ==========================================================================

``events`` counts the SSE events before the fault, pings not included (one ``ping`` follows
``content_block_start``, as in real streams). A step is a fault name or an object
``{"fault": …, "count": N, …}``.

Control routes (each answered with ``Connection: close``):

- ``POST /_script`` appends a JSON list of steps; ``DELETE /_script`` empties it.
- ``GET /_log``: every API request so far: ``seq``, ``conn`` (connection number),
  ``conn_request`` (1 for the first request on its connection), ``fault``, ``stream``,
  ``retry_count`` (the SDKs' ``x-stainless-retry-count``).
- ``PUT /_ingest`` ``{"hold": bool, "status": 202}``: how the ingest endpoint answers; while
  ``hold`` is true it records each batch and answers none until a ``PUT`` releases them (a
  claudewatch that hangs); ``GET /_ingest``: the batches received (``{"requests": [{"headers",
  "body"}], "answered": N}``).
- ``POST /_reset``: empty the script, the log and the ingest record; ingest back to 202 at once.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import sys
from typing import Any

MESSAGE = {
    "id": "msg_fault01",
    "type": "message",
    "role": "assistant",
    "model": "claude-fault-1",
    "content": [{"type": "text", "text": "OK"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 5, "output_tokens": 2},
}

# The events of a normal stream, as the API sends them (platform docs, "Streaming Messages").
STREAM_EVENTS: list[tuple[str, dict[str, Any]]] = [
    (
        "message_start",
        {
            "type": "message_start",
            "message": {**MESSAGE, "content": [], "stop_reason": None, "usage": {"input_tokens": 5, "output_tokens": 1}},
        },
    ),
    ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "O"}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "K"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    (
        "message_delta",
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 2}},
    ),
    ("message_stop", {"type": "message_stop"}),
]

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

FAULTS = frozenset(
    {
        "ok",
        "status",
        "reset",
        "reset_mid_stream",
        "close_mid_stream",
        "reset_mid_body",
        "close_mid_body",
        "stall",
        "stream_error",
        "reset_on_reuse",
    }
)


class BadStep(ValueError):
    pass


def parse_step(step: Any) -> list[dict[str, Any]]:
    """One script step as a list of plain steps (``count`` expanded)."""
    if isinstance(step, str):
        step = {"fault": step}
    if not isinstance(step, dict) or step.get("fault") not in FAULTS:
        raise BadStep(f"a step is one of {sorted(FAULTS)} or an object with such a 'fault': {step!r}")
    count = step.get("count", 1)
    if not isinstance(count, int) or not 1 <= count <= 1000:
        raise BadStep(f"count must be 1-1000: {step!r}")
    plain = {k: v for k, v in step.items() if k != "count"}
    return [dict(plain) for _ in range(count)]


class State:
    def __init__(self) -> None:
        self.script: list[dict[str, Any]] = []
        self.log: list[dict[str, Any]] = []
        self.connections = 0
        self.ingest_release = asyncio.Event()
        self.ingest_release.set()
        self.ingest_status = 202
        self.ingested: list[dict[str, Any]] = []
        self.ingest_answered = 0

    def reset(self) -> None:
        self.ingest_release.set()  # whoever waits on the old state is answered
        self.__init__()  # type: ignore[misc]


STATE = State()


def sse(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def head(status: int, headers: dict[str, str]) -> bytes:
    reason = {200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def reset(writer: asyncio.StreamWriter) -> None:
    """Closes with SO_LINGER 0: the kernel sends a RST (ECONNRESET on the other side)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes] | None:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = raw.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or "0")
    body = await reader.readexactly(length) if length else b""
    return method, path, headers, body


async def answer_json(
    writer: asyncio.StreamWriter, status: int, body: Any, *, close: bool = False, extra: dict[str, str] | None = None
) -> None:
    data = json.dumps(body).encode()
    headers = {"content-type": "application/json", "content-length": str(len(data))}
    headers["connection"] = "close" if close else "keep-alive"
    headers.update(extra or {})
    writer.write(head(status, headers) + data)
    await writer.drain()


async def control(method: str, path: str, body: bytes, writer: asyncio.StreamWriter) -> None:
    try:
        if (method, path) == ("POST", "/_script"):
            steps = json.loads(body or b"[]")
            if not isinstance(steps, list):
                raise BadStep("the script is a JSON list")
            parsed = [plain for step in steps for plain in parse_step(step)]
            STATE.script.extend(parsed)
            await answer_json(writer, 200, {"queued": len(STATE.script)}, close=True)
        elif (method, path) == ("DELETE", "/_script"):
            STATE.script.clear()
            await answer_json(writer, 200, {"queued": 0}, close=True)
        elif (method, path) == ("GET", "/_log"):
            await answer_json(writer, 200, {"requests": STATE.log}, close=True)
        elif (method, path) == ("PUT", "/_ingest"):
            config = json.loads(body or b"{}")
            if config.get("hold"):
                STATE.ingest_release.clear()
            else:
                STATE.ingest_release.set()
            STATE.ingest_status = int(config.get("status", 202))
            await answer_json(writer, 200, {}, close=True)
        elif (method, path) == ("GET", "/_ingest"):
            await answer_json(writer, 200, {"requests": STATE.ingested, "answered": STATE.ingest_answered}, close=True)
        elif (method, path) == ("POST", "/_reset"):
            STATE.reset()
            await answer_json(writer, 200, {}, close=True)
        else:
            await answer_json(writer, 404, {"error": f"no route {method} {path}"}, close=True)
    except (BadStep, ValueError) as e:
        await answer_json(writer, 400, {"error": str(e)}, close=True)


async def ingest(headers: dict[str, str], body: bytes, writer: asyncio.StreamWriter) -> None:
    """A claudewatch that may hang: records the batch, waits while held, answers."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    STATE.ingested.append({"headers": headers, "body": parsed})
    await STATE.ingest_release.wait()
    events = parsed.get("events", []) if isinstance(parsed, dict) else []
    STATE.ingest_answered += 1
    await answer_json(writer, STATE.ingest_status, {"accepted": len(events)})


async def serve_messages(step: dict[str, Any], stream: bool, seq: int, writer: asyncio.StreamWriter) -> bool:
    """Answers one ``POST /v1/messages`` by ``step``. Returns whether the connection stays open."""
    fault = step["fault"]
    request_id = f"req_fault{seq:04d}"
    if fault == "reset":
        reset(writer)
        return False
    if fault == "stall" and step.get("before_headers"):
        await asyncio.sleep(float(step.get("seconds", 30)))
        reset(writer)
        return False
    if fault == "status":
        status = int(step.get("status", 529))
        error: dict[str, Any] = {"type": step.get("type", ERROR_TYPES.get(status, "api_error")), "message": "fault server"}
        if "error_code" in step:
            error["details"] = {"error_code": step["error_code"]}
        extra = {"request-id": request_id}
        for key, header in (("retry_after", "retry-after"), ("retry_after_ms", "retry-after-ms"), ("x_should_retry", "x-should-retry")):
            if key in step:
                extra[header] = str(step[key])
        await answer_json(writer, status, {"type": "error", "error": error, "request_id": request_id}, extra=extra)
        return True
    if not stream:
        data = json.dumps(MESSAGE).encode()
        if fault in ("reset_mid_body", "close_mid_body", "stall", "reset_mid_stream", "close_mid_stream"):
            headers = {"content-type": "application/json", "content-length": str(len(data)), "request-id": request_id}
            writer.write(head(200, headers) + data[: len(data) // 2])
            await writer.drain()
            if fault == "stall":
                await asyncio.sleep(float(step.get("seconds", 30)))
            if fault.startswith("close"):
                writer.close()
            else:
                reset(writer)
            return False
        await answer_json(writer, 200, MESSAGE, extra={"request-id": request_id})
        return True

    headers = {
        "content-type": "text/event-stream; charset=utf-8",
        "transfer-encoding": "chunked",
        "cache-control": "no-cache",
        "connection": "keep-alive",
        "request-id": request_id,
    }
    writer.write(head(200, headers))
    await writer.drain()
    limit = len(STREAM_EVENTS) if fault == "ok" else int(step.get("events", 3))
    for index, (name, data) in enumerate(STREAM_EVENTS[:limit]):
        writer.write(chunk(sse(name, data)))
        if index == 1:
            writer.write(chunk(sse("ping", {"type": "ping"})))
        await writer.drain()
    if fault == "ok":
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True
    if fault == "stream_error":
        error = {"type": step.get("type", "overloaded_error"), "message": "fault server"}
        if "error_code" in step:
            error["details"] = {"error_code": step["error_code"]}
        writer.write(chunk(sse("error", {"type": "error", "error": error})) + b"0\r\n\r\n")
        await writer.drain()
        return True
    if fault == "stall":
        await asyncio.sleep(float(step.get("seconds", 30)))
        reset(writer)
        return False
    if fault.startswith("close"):
        writer.close()
        return False
    reset(writer)
    return False


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    STATE.connections += 1
    conn = STATE.connections
    served = 0
    try:
        while True:
            request = await read_request(reader)
            if request is None:
                return
            method, path, headers, body = request
            if path.startswith("/_"):
                await control(method, path, body, writer)
                return
            if (method, path) == ("POST", "/v1/events"):
                await ingest(headers, body, writer)
                continue
            if (method, path.split("?")[0]) != ("POST", "/v1/messages"):
                await answer_json(writer, 404, {"type": "error", "error": {"type": "not_found_error", "message": path}})
                continue
            served += 1
            try:
                stream = bool(json.loads(body).get("stream"))
            except (ValueError, AttributeError):
                stream = False
            step = STATE.script.pop(0) if STATE.script else {"fault": "ok"}
            fault = step["fault"]
            if fault == "reset_on_reuse":
                step = {"fault": "reset" if served > 1 else "ok"}
            STATE.log.append(
                {
                    "seq": len(STATE.log) + 1,
                    "conn": conn,
                    "conn_request": served,
                    "fault": step["fault"],
                    "stream": stream,
                    "retry_count": headers.get("x-stainless-retry-count"),
                }
            )
            if not await serve_messages(step, stream, len(STATE.log), writer):
                return
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
        return
    finally:
        if not writer.transport.is_closing():
            writer.close()


async def main() -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port}), flush=True)
    loop = asyncio.get_running_loop()
    # Serve until the parent closes our stdin (or dies): never outlive the test run.
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())

"""The reporter: events to claudewatch's ``POST /v1/events`` from a background thread, never
blocking or failing the app (nor, in async code, its event loop)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from typing import Any, Deque, Dict, List, Optional, Tuple

log = logging.getLogger("claudewatch_retry")

#: Whether reporters send the ``stage`` of connection and timeout failures by default. The
#: ingest endpoint refuses fields it does not know, and ``stage`` is not in its contract yet:
#: switch this on (or pass ``send_stage=True``) once the daemon accepts it.
SEND_STAGE = False

_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def check_service(service: str) -> str:
    """A service name as claudewatch takes it, or ``ValueError`` (a config mistake to catch at
    start-up rather than lose every event)."""
    if not _NAME.fullmatch(service) or service == "other":
        raise ValueError(f"service must be 1-64 characters of A-Za-z0-9_.:- (and not 'other'), got {service!r}")
    return service


def model_label(model: Any) -> Optional[str]:
    """A model id as a claudewatch label: other characters become ``_`` (``@`` in Vertex ids),
    cut to 64 characters, so that one odd id never gets a whole batch refused."""
    if not isinstance(model, str) or not model:
        return None
    label = re.sub(r"[^A-Za-z0-9_.:-]", "_", model)[:64]
    return "other_" if label == "other" else label


class Reporter:
    """Sends events to claudewatch from a background thread.

    :meth:`report` takes a lock for a moment and returns: it never waits for the network, so it
    is safe in async code (the thread does the sending). It never blocks on the network and never raises: it appends to a bounded buffer
    (``max_queue`` events; beyond it events are dropped and counted in :attr:`dropped`). The
    thread sends a batch every ``flush_interval`` seconds, or sooner when ``max_batch`` events
    wait, merging identical events into one with a ``count``. A batch that fails for a reason a
    resend can fix (connection error, 5xx, 429) is resent with the same ``Idempotency-Key`` up
    to ``send_attempts`` times, so it is never counted twice; then it is dropped and counted.
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1:9464",
        *,
        token: Optional[str] = None,
        max_queue: int = 10_000,
        max_batch: int = 500,
        flush_interval: float = 1.0,
        timeout: float = 2.0,
        send_attempts: int = 3,
        resend_delay: float = 0.5,
        send_stage: bool = SEND_STAGE,
    ) -> None:
        self.endpoint = url.rstrip("/") + "/v1/events"
        self._token = token
        self._max_queue = max(1, max_queue)
        self._max_batch = max(1, max_batch)
        self._flush_interval = flush_interval
        self._timeout = timeout
        self._send_attempts = max(1, send_attempts)
        self._resend_delay = resend_delay
        #: Whether events keep their ``stage`` on the wire (see :data:`SEND_STAGE`).
        self.send_stage = send_stage
        # Loopback or in-cluster: never send events through a proxy from the environment.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        self._cv = threading.Condition()
        self._buffer: Deque[Dict[str, Any]] = deque()
        self._in_flight = 0
        self._flush_requested = False
        self._closing = False
        #: Events dropped: buffer full, or their batch could not be delivered.
        self.dropped = 0
        #: Events the daemon accepted.
        self.sent = 0
        #: Requests to the daemon that failed (each resend counts).
        self.failed_requests = 0

        self._thread = threading.Thread(target=self._run, name="claudewatch-reporter", daemon=True)
        self._thread.start()

    def report(self, event: Dict[str, Any]) -> None:
        """Queues one event (a dict in the ``/v1/events`` format). Never blocks, never raises."""
        if not self.send_stage and "stage" in event:
            event = {k: v for k, v in event.items() if k != "stage"}
        with self._cv:
            if self._closing or len(self._buffer) >= self._max_queue:
                self.dropped += 1
                return
            self._buffer.append(event)
            if len(self._buffer) >= self._max_batch:
                self._cv.notify()

    def flush(self, timeout: float = 5.0) -> bool:
        """Sends what is buffered now; waits up to ``timeout`` seconds. True when nothing is
        left to send (delivered or dropped)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            self._flush_requested = True
            self._cv.notify_all()
            while self._buffer or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cv.wait(remaining)
            return True

    def close(self, timeout: float = 5.0) -> bool:
        """Flushes, then stops the thread. Events reported afterwards are dropped."""
        done = self.flush(timeout)
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        self._thread.join(max(0.0, timeout))
        return done

    async def aflush(self, timeout: float = 5.0) -> bool:
        """:meth:`flush` for async code: waits in a thread, so the event loop runs on."""
        return await asyncio.to_thread(self.flush, timeout)

    async def aclose(self, timeout: float = 5.0) -> bool:
        """:meth:`close` for async code: waits in a thread, so the event loop runs on."""
        return await asyncio.to_thread(self.close, timeout)

    # -- the background thread -------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cv:
                # Send when a batch is full, on flush or close, or once per interval.
                deadline = time.monotonic() + self._flush_interval
                while not (self._closing or self._flush_requested) and len(self._buffer) < self._max_batch:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cv.wait(remaining)
                if not self._buffer:
                    self._flush_requested = False
                    self._cv.notify_all()
                    if self._closing:
                        return
                    continue
                batch = [self._buffer.popleft() for _ in range(min(len(self._buffer), self._max_batch))]
                self._in_flight = len(batch)
            try:
                delivered = self._deliver(batch)
            except Exception:
                log.exception("claudewatch reporter: unexpected error; %d events dropped", len(batch))
                delivered = False
            with self._cv:
                if delivered:
                    self.sent += len(batch)
                else:
                    self.dropped += len(batch)
                self._in_flight = 0
                if not self._buffer:
                    self._flush_requested = False
                self._cv.notify_all()

    def _deliver(self, batch: List[Dict[str, Any]]) -> bool:
        body = json.dumps({"events": _aggregate(batch)}, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
        if self._token:
            headers["Authorization"] = "Bearer " + self._token
        for attempt in range(1, self._send_attempts + 1):
            request = urllib.request.Request(self.endpoint, data=body, headers=headers, method="POST")
            try:
                with self._opener.open(request, timeout=self._timeout) as response:
                    response.read()
                    return True
            except urllib.error.HTTPError as e:
                self.failed_requests += 1
                detail = e.read(2048).decode("utf-8", "replace")
                if e.code < 500 and e.code != 429:
                    # The daemon refused the batch itself: a resend cannot fix it.
                    log.warning("claudewatch refused %d events (%d): %s", len(batch), e.code, detail)
                    return False
                log.debug("claudewatch answered %d (attempt %d): %s", e.code, attempt, detail)
            except (OSError, ValueError) as e:
                self.failed_requests += 1
                log.debug("claudewatch unreachable (attempt %d): %s", attempt, e)
            if attempt < self._send_attempts:
                with self._cv:
                    if self._closing:
                        break
                    self._cv.wait(self._resend_delay)
        log.warning("claudewatch unreachable at %s; %d events dropped", self.endpoint, len(batch))
        return False


def _aggregate(batch: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Merges identical events into one with their summed ``count``."""
    merged: Dict[Tuple[Tuple[str, Any], ...], Dict[str, Any]] = {}
    for event in batch:
        key = tuple(sorted((k, v) for k, v in event.items() if k != "count"))
        count = int(event.get("count", 1))
        if key in merged:
            merged[key]["count"] += count
        else:
            merged[key] = dict(event, count=count)
    return list(merged.values())

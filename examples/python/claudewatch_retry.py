"""The retry playbook around the official ``anthropic`` SDK, reporting to claudewatch.

The SDK's own retries are switched off (``max_retries=0``); this wrapper decides per error class:

=============  ======================================================  =====================
class          what                                                    policy
=============  ======================================================  =====================
overloaded     529, 503, ``overloaded_error``                          backoff 1 s doubling to 60 s, ±20 % jitter, 5 tries
connection     reset, refused, closed, DNS, TLS                        as overloaded
timeout        no answer within the client's timeout                   as overloaded
rate_limited   429                                                     wait ``retry-after``; else backoff; a spend-limit 429 is not retried
server_error   500, 502, 504, other 5xx                                retry once after 5 s, then give up
client_error   400 and other 4xx                                       never retried
auth           401, 403                                                never retried
unexpected     a reply the SDK could not read                          never retried
=============  ======================================================  =====================

Every failed attempt that will be retried, every retry chain that gives up, and every finished
call is reported to claudewatch's ``POST /v1/events`` by a :class:`Reporter`: a background thread
that sends batches, pre-aggregates identical events, and never blocks or fails the app's call.
When the daemon is down or slow, events wait in a bounded buffer; past it they are dropped and
counted in :attr:`Reporter.dropped`.

Usage::

    import anthropic
    from claudewatch_retry import Reporter, RetryingClient

    reporter = Reporter("http://claudewatch:9464", token=os.environ.get("CLAUDEWATCH_TOKEN"))
    claude = RetryingClient(anthropic.Anthropic(), service="checkout-api", reporter=reporter)
    message = claude.messages_create(model="claude-sonnet-4-5", max_tokens=256,
                                     messages=[{"role": "user", "content": "Hello"}])

Standard library only, besides the SDK itself.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple, TypeVar

import anthropic

__all__ = ["RetryPolicy", "Reporter", "RetryingClient", "classify", "check_service", "model_label", "CLASSES"]

log = logging.getLogger("claudewatch_retry")

#: The failure classes claudewatch knows (the same list its probes use).
CLASSES = (
    "overloaded",
    "connection",
    "rate_limited",
    "server_error",
    "timeout",
    "client_error",
    "auth",
    "unexpected",
)

_BACKOFF_CLASSES = frozenset({"overloaded", "connection", "timeout", "rate_limited"})

T = TypeVar("T")


def classify(error: BaseException) -> Optional[str]:
    """The playbook class of an SDK error, or ``None`` for an error that is not the API's
    (a bug in the caller's code is re-raised untouched and never reported)."""
    if isinstance(error, anthropic.APITimeoutError):
        return "timeout"
    if isinstance(error, anthropic.APIConnectionError):
        return "connection"
    if isinstance(error, anthropic.APIStatusError):
        status = error.status_code
        if getattr(error, "type", None) == "overloaded_error" or status in (503, 529):
            return "overloaded"
        if status == 429:
            return "rate_limited"
        if status in (401, 403):
            return "auth"
        if status >= 500:
            return "server_error"
        return "client_error"
    if isinstance(error, (anthropic.APIResponseValidationError, json.JSONDecodeError)):
        # A 2xx whose body the SDK could not read.
        return "unexpected"
    return None


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


def _status(error: BaseException) -> Optional[int]:
    status = getattr(error, "status_code", None)
    return status if isinstance(status, int) and 100 <= status <= 599 else None


def _retry_after(error: BaseException) -> Optional[float]:
    """Seconds the server asked us to wait: ``retry-after-ms``, then ``retry-after`` as seconds
    or as an HTTP date. ``None`` when absent or unreadable."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        return max(0.0, float(headers.get("retry-after-ms")) / 1000.0)
    except (TypeError, ValueError):
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(0.0, email.utils.mktime_tz(parsed) - time.time())


def _is_spend_limit(error: BaseException) -> bool:
    """A 429 for a spend limit: retrying does not help until the limit resets."""
    return getattr(error, "error_code", None) == "enforced_spend_limit_reached"


@dataclass
class RetryPolicy:
    """When to retry, and after how long. Every delay is configurable (tests run fast)."""

    #: Attempts in one chain at most, the first included (the playbook's "5 tries").
    max_attempts: int = 5
    #: First backoff delay for overloaded, connection, timeout and 429 without retry-after.
    initial_delay: float = 1.0
    #: Backoff doubles up to this; a longer ``retry-after`` gives up instead of waiting.
    max_delay: float = 60.0
    #: ± this fraction of random jitter on backoff delays.
    jitter: float = 0.2
    #: Wait before the one retry of a server error.
    server_error_delay: float = 5.0
    #: Retries a chain may spend on server errors.
    server_error_retries: int = 1

    def decide(self, cls: str, attempt: int, backoffs: int, server_retries: int, error: BaseException) -> Tuple[str, float]:
        """What to do after attempt number ``attempt`` (1-based) failed with ``cls``:
        ``("retry", seconds)``, ``("exhausted", 0)`` when the class is retried but this chain
        has used up its tries, or ``("failure", 0)`` when retrying cannot help. ``backoffs``
        and ``server_retries`` are the retries this chain already spent on backoff classes and
        on server errors."""
        if cls == "server_error":
            if server_retries < self.server_error_retries and attempt < self.max_attempts:
                return "retry", self.server_error_delay
            return "exhausted", 0.0
        if cls not in _BACKOFF_CLASSES:
            return "failure", 0.0
        if cls == "rate_limited":
            if _is_spend_limit(error):
                return "failure", 0.0
            wait = _retry_after(error)
            if wait is not None and wait > 0:
                if wait > self.max_delay or attempt >= self.max_attempts:
                    return "exhausted", 0.0
                return "retry", wait
        if attempt >= self.max_attempts:
            return "exhausted", 0.0
        base = min(self.initial_delay * (2**backoffs), self.max_delay)
        return "retry", max(0.0, base * (1.0 + random.uniform(-self.jitter, self.jitter)))


class Reporter:
    """Sends events to claudewatch from a background thread.

    :meth:`report` never blocks on the network and never raises: it appends to a bounded buffer
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
    ) -> None:
        self.endpoint = url.rstrip("/") + "/v1/events"
        self._token = token
        self._max_queue = max(1, max_queue)
        self._max_batch = max(1, max_batch)
        self._flush_interval = flush_interval
        self._timeout = timeout
        self._send_attempts = max(1, send_attempts)
        self._resend_delay = resend_delay
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
            except Exception:  # noqa: BLE001 - the reporter must never take the app down
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


class RetryingClient:
    """Runs calls through the playbook and reports what happens.

    ``client`` is an ``anthropic.Anthropic`` (its SDK retries are switched off on a copy);
    ``service`` names the app in claudewatch (1–64 characters of ``A-Za-z0-9_.:-``).
    ``sleep`` is injectable for tests; ``on_event`` (optional) sees every event as it is
    reported, for the app's own logs. Exceptions of the last attempt reach the caller
    unchanged.
    """

    def __init__(
        self,
        client: Any,
        *,
        service: str,
        reporter: Reporter,
        policy: Optional[RetryPolicy] = None,
        sleep: Callable[[float], None] = time.sleep,
        on_event: Optional[Callable[[Dict[str, Any]], None]] = None,
    ) -> None:
        if getattr(client, "max_retries", 0) != 0:
            client = client.with_options(max_retries=0)
        self.client = client
        self.service = check_service(service)
        self.reporter = reporter
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._on_event = on_event

    def messages_create(self, **params: Any) -> Any:
        """``client.messages.create(**params)`` under the playbook."""
        return self.call(lambda: self.client.messages.create(**params), model=params.get("model"))

    def call(self, fn: Callable[[], T], *, model: Optional[str] = None) -> T:
        """Runs ``fn`` (one API call with the SDK) under the playbook."""
        attempt = 0
        backoffs = 0
        server_retries = 0
        while True:
            attempt += 1
            try:
                result = fn()
            except Exception as error:
                cls = classify(error)
                if cls is None:
                    raise
                outcome, delay = self.policy.decide(cls, attempt, backoffs, server_retries, error)
                self._report(outcome, cls, error, attempt, model)
                if outcome != "retry":
                    raise
                if cls == "server_error":
                    server_retries += 1
                else:
                    backoffs += 1
                self._sleep(delay)
                continue
            self._report("success", None, None, attempt, model)
            return result

    def _report(self, outcome: str, cls: Optional[str], error: Optional[BaseException], attempts: int, model: Optional[str]) -> None:
        event: Dict[str, Any] = {"service": self.service, "outcome": outcome, "attempts": min(attempts, 100)}
        if cls is not None:
            event["class"] = cls
        status = _status(error) if error is not None else None
        if status is not None:
            event["status"] = status
        label = model_label(model)
        if label:
            event["model"] = label
        self.reporter.report(event)
        if self._on_event is not None:
            try:
                self._on_event(dict(event))
            except Exception:  # noqa: BLE001 - a logging hook must not change the call's outcome
                log.exception("claudewatch_retry: on_event hook failed")

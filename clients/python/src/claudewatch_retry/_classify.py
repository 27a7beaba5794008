"""What kind of failure an exception is: the playbook's class, where the call broke (``stage``),
and what the server said (status, ``error.type``, ``error_code``, ``retry-after``).

Checked against the pinned SDK (PyPI ``anthropic`` 2.10.0, on ``httpx2``) on real sockets by
``tests/test_faults.py``; what each socket behaviour raises:

==========================  ====================================================================
what the network did        what the SDK raises (``max_retries=0``)
==========================  ====================================================================
RST before any response     ``APIConnectionError`` ← ``httpx2.ReadError`` (``ConnectError`` when
                            the connection is refused)
RST / FIN mid-body (JSON)   ``APIConnectionError`` ← ``httpx2.ReadError`` / ``RemoteProtocolError``
                            (the body is read inside the SDK's send)
stall mid-body (JSON)       ``APITimeoutError`` ← ``httpx2.ReadTimeout`` (the SDK's timeout is a
                            per-read timeout)
RST / FIN mid-stream        raw ``httpx2.ReadError`` / ``httpx2.RemoteProtocolError`` while
                            iterating: not an ``anthropic`` exception
stall mid-stream            raw ``httpx2.ReadTimeout`` while iterating
``event: error`` in a 200   ``APIStatusError`` with ``status_code == 200`` and ``.type`` from the
                            event's body
==========================  ====================================================================
"""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass
from types import CodeType, TracebackType
from typing import Literal, Optional

import anthropic
import httpx2  # the SDK's HTTP client (a dependency of anthropic 2.x); its errors arrive raw mid-stream

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

#: Where a connection or timeout failure happened: ``connect`` (DNS, TCP, TLS), ``request`` (sent,
#: no response headers yet) or ``body`` (after the headers: mid-stream or mid-body).
Stage = Literal["connect", "request", "body"]
STAGES = ("connect", "request", "body")

#: 429s whose ``error.details.error_code`` says retrying cannot help before the limit resets.
SPEND_LIMIT_CODES = frozenset({"enforced_spend_limit_reached", "contract_spend_limit_reached"})

# An ``event: error`` inside a 200 stream carries no status: its ``error.type`` decides.
_EVENT_TYPE_CLASSES = {
    "overloaded_error": "overloaded",
    "rate_limit_error": "rate_limited",
    "api_error": "server_error",
    "timeout_error": "server_error",
    "authentication_error": "auth",
    "permission_error": "auth",
    "invalid_request_error": "client_error",
    "not_found_error": "client_error",
    "request_too_large": "client_error",
    "billing_error": "client_error",
}

# httpx2 reads a response body in these methods: an error raised under one of them came after
# the response headers (the SDK reads a non-streaming body inside its send, so only the traceback
# tells a reset mid-body from a reset before the response).
_BODY_READERS: frozenset[CodeType] = frozenset(
    f.__code__
    for f in (
        httpx2.Response.read,
        httpx2.Response.aread,
        httpx2.Response.iter_raw,
        httpx2.Response.aiter_raw,
    )
)


@dataclass(frozen=True)
class Failure:
    """One failed attempt as the playbook sees it."""

    #: One of :data:`CLASSES`.
    cls: str
    #: For ``connection`` and ``timeout``: where it broke (see :data:`Stage`), when known.
    stage: Optional[Stage] = None
    #: The HTTP status, when the failure was an HTTP answer (never the 200 of a stream that
    #: carried ``event: error``).
    status: Optional[int] = None
    #: The API's ``error.type``, when it sent one.
    error_type: Optional[str] = None
    #: The API's ``error.details.error_code``, when it sent one.
    error_code: Optional[str] = None
    #: Seconds the server asked to wait (``retry-after-ms``, ``retry-after``), when it did.
    retry_after: Optional[float] = None

    @property
    def spend_limit(self) -> bool:
        """A 429 for a spend limit that retrying cannot lift (a ``ramp_limit_exceeded`` can)."""
        return self.cls == "rate_limited" and self.error_code in SPEND_LIMIT_CODES


def classify(error: BaseException) -> Optional[Failure]:
    """The playbook's view of an exception raised by an SDK call, or ``None`` for one that is not
    the API's (a bug in the caller's code, a cancelled task): those pass through untouched and
    are never reported."""
    if isinstance(error, anthropic.APITimeoutError):
        return Failure("timeout", stage=_transport_stage(error.__cause__))
    if isinstance(error, anthropic.APIConnectionError):
        return Failure("connection", stage=_transport_stage(error.__cause__))
    if isinstance(error, anthropic.APIStatusError):
        return _status_failure(error)
    if isinstance(error, httpx2.TimeoutException):
        # Raised raw while iterating a stream: after the headers.
        return Failure("timeout", stage="body")
    if isinstance(error, httpx2.TransportError):
        return Failure("connection", stage="body")
    if isinstance(error, (anthropic.APIResponseValidationError, httpx2.DecodingError, json.JSONDecodeError)):
        # A 2xx whose body the SDK could not read.
        return Failure("unexpected")
    return None


def _status_failure(error: anthropic.APIStatusError) -> Failure:
    status = error.status_code
    error_type = error.type if isinstance(error.type, str) else None
    common = {"error_type": error_type, "error_code": error.error_code, "retry_after": retry_after(error)}
    if 200 <= status < 300:
        # `event: error` after the 200: the status says nothing, the event's type says all.
        return Failure(_EVENT_TYPE_CLASSES.get(error_type or "", "server_error"), **common)  # type: ignore[arg-type]
    if error_type == "overloaded_error" or status in (503, 529):
        cls = "overloaded"
    elif status == 429:
        cls = "rate_limited"
    elif status in (401, 403):
        cls = "auth"
    elif status >= 500:
        cls = "server_error"
    else:
        cls = "client_error"
    return Failure(cls, status=status if 100 <= status <= 599 else None, **common)  # type: ignore[arg-type]


def _transport_stage(cause: Optional[BaseException]) -> Optional[Stage]:
    """Where the transport error behind an ``APIConnectionError`` happened."""
    if cause is None:
        return None
    if isinstance(cause, (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)):
        return "connect"
    if _raised_under(cause.__traceback__, _BODY_READERS):
        return "body"
    if isinstance(cause, httpx2.TransportError):
        return "request"
    return None


def _raised_under(tb: Optional[TracebackType], codes: frozenset[CodeType]) -> bool:
    while tb is not None:
        if tb.tb_frame.f_code in codes:
            return True
        tb = tb.tb_next
    return False


def retry_after(error: BaseException) -> Optional[float]:
    """Seconds the server asked us to wait: ``retry-after-ms``, then ``retry-after`` as seconds
    or as an HTTP date (the SDK's order). ``None`` when absent or unreadable."""
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

"""When to retry, and after how long: the retry playbook."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from ._classify import Failure

Outcome = Literal["retry", "exhausted", "failure"]

_BACKOFF_CLASSES = frozenset({"overloaded", "connection", "timeout", "rate_limited"})


@dataclass(frozen=True)
class Decision:
    """What to do after a failed attempt, and why (the why goes to the log)."""

    outcome: Outcome
    #: Seconds to wait before the next attempt (``retry`` only).
    delay: float = 0.0
    reason: str = ""


@dataclass
class RetryPolicy:
    """When to retry, and after how long. Every delay is configurable (tests run fast)."""

    #: Attempts in one chain at most, the first included (the playbook's "5 tries").
    max_attempts: int = 5
    #: First backoff delay for overloaded, connection, timeout and 429 without retry-after.
    initial_delay: float = 1.0
    #: Backoff doubles up to this; a longer ``retry-after`` gives up at once instead of waiting.
    max_delay: float = 60.0
    #: ± this fraction of random jitter on backoff delays.
    jitter: float = 0.2
    #: Wait before the one retry of a server error.
    server_error_delay: float = 5.0
    #: Retries a chain may spend on server errors.
    server_error_retries: int = 1

    def decide(self, failure: Failure, attempt: int, backoffs: int, server_retries: int) -> Decision:
        """What to do after attempt number ``attempt`` (1-based) failed with ``failure``.
        ``backoffs`` and ``server_retries`` are the retries this chain already spent on backoff
        classes and on server errors."""
        cls = failure.cls
        if cls == "server_error":
            if server_retries < self.server_error_retries and attempt < self.max_attempts:
                return Decision("retry", self.server_error_delay, "server error: one retry")
            return Decision("exhausted", reason="server error retried already")
        if cls not in _BACKOFF_CLASSES:
            return Decision("failure", reason=f"{cls} is never retried")
        if failure.spend_limit:
            return Decision("failure", reason=f"spend limit ({failure.error_code}): retrying cannot help")
        wait = failure.retry_after if cls == "rate_limited" else None
        if wait is not None and wait > 0:
            if wait > self.max_delay:
                return Decision("exhausted", reason=f"retry-after {wait:g} s is over the {self.max_delay:g} s cap")
            if attempt >= self.max_attempts:
                return Decision("exhausted", reason=f"{attempt} attempts")
            return Decision("retry", wait, f"retry-after {wait:g} s")
        if attempt >= self.max_attempts:
            return Decision("exhausted", reason=f"{attempt} attempts")
        base = min(self.initial_delay * (2**backoffs), self.max_delay)
        delay = max(0.0, base * (1.0 + random.uniform(-self.jitter, self.jitter)))
        return Decision("retry", delay, "backoff")

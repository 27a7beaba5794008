"""One call under the playbook: its attempts, the policy's decisions, what is reported and
logged. Shared by the sync and the async clients, which own only the waiting."""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Optional

from ._classify import Failure, classify
from ._policy import Decision, RetryPolicy
from ._reporter import Reporter, check_service, model_label

log = logging.getLogger("claudewatch_retry")

EventHook = Callable[[Dict[str, Any]], None]


class Settings:
    """What a retrying client holds besides its SDK client."""

    def __init__(self, client: Any, service: str, reporter: Reporter, policy: Optional[RetryPolicy], on_event: Optional[EventHook]) -> None:
        # The SDK's own retries would hide failures from the playbook (and retry spend limits).
        if getattr(client, "max_retries", 0) != 0:
            client = client.with_options(max_retries=0)
        self.client = client
        self.service = check_service(service)
        self.reporter = reporter
        self.policy = policy or RetryPolicy()
        self.on_event = on_event


class ClientBase:
    """What the sync and the async client share: their settings, read-only."""

    _settings: Settings

    @property
    def service(self) -> str:
        """The app's name in claudewatch."""
        return self._settings.service

    @property
    def reporter(self) -> Reporter:
        return self._settings.reporter

    @property
    def policy(self) -> RetryPolicy:
        return self._settings.policy


class StreamState:
    """What the sync and the async retrying streams hold: the client, the call's chain, how to
    open an attempt, the attempt being read, and whether an event has reached the caller."""

    def __init__(self, owner: Any, chain: Chain, open_stream: Callable[[], Any], first: Any) -> None:
        self._owner = owner
        self._chain = chain
        self._open = open_stream
        self._current = first
        self._delivered = False

    @property
    def current(self) -> Any:
        """The SDK stream of the attempt being read."""
        return self._current

    @property
    def response(self) -> Any:
        """The HTTP response of the attempt being read."""
        return self._current.response


class Chain:
    """The attempts of one call. ``failed`` says whether to retry; every outcome is reported
    once: each retried attempt, then one of ``success``, ``exhausted``, ``failure``."""

    def __init__(self, settings: Settings, model: Any) -> None:
        self.settings = settings
        self.model = model
        self.attempt = 0
        self._backoffs = 0
        self._server_retries = 0
        self.finished = False

    def begin(self) -> None:
        """An attempt starts."""
        self.attempt += 1

    def failed(self, error: BaseException, *, delivered: bool = False) -> Optional[float]:
        """The attempt raised ``error``: the seconds to wait before the next attempt, or
        ``None`` to let the error reach the caller. An error that is not the API's is neither
        reported nor retried. ``delivered``: the caller already has part of this attempt's
        answer (stream events), so a retry would duplicate it and the chain gives up."""
        failure = classify(error)
        if failure is None or self.finished:
            return None
        decision = self.settings.policy.decide(failure, self.attempt, self._backoffs, self._server_retries)
        if delivered and decision.outcome == "retry":
            decision = Decision("exhausted", reason="events already reached the caller: a retry would repeat them")
        self._log(failure, decision, error)
        self._report(decision.outcome, failure)
        if decision.outcome != "retry":
            self.finished = True
            return None
        if failure.cls == "server_error":
            self._server_retries += 1
        else:
            self._backoffs += 1
        return decision.delay

    def succeeded(self) -> None:
        """The call finished well (a stream: read to its end)."""
        if not self.finished:
            self.finished = True
            self._report("success", None)

    def _log(self, failure: Failure, decision: Decision, error: BaseException) -> None:
        level = logging.INFO if decision.outcome == "retry" else logging.WARNING
        if log.isEnabledFor(level):
            then = f"retry in {decision.delay:.3g} s" if decision.outcome == "retry" else decision.outcome
            log.log(
                level,
                "claudewatch_retry: %s attempt %d failed: class=%s stage=%s status=%s type=%s code=%s (%s): %s (%s)",
                self.settings.service,
                self.attempt,
                failure.cls,
                failure.stage or "-",
                failure.status or "-",
                failure.error_type or "-",
                failure.error_code or "-",
                type(error).__name__,
                then,
                decision.reason,
            )

    def _report(self, outcome: str, failure: Optional[Failure]) -> None:
        event: Dict[str, Any] = {"service": self.settings.service, "outcome": outcome, "attempts": min(self.attempt, 100)}
        if failure is not None:
            event["class"] = failure.cls
            if failure.status is not None:
                event["status"] = failure.status
            if failure.stage is not None and failure.cls in ("connection", "timeout"):
                event["stage"] = failure.stage
        label = model_label(self.model)
        if label:
            event["model"] = label
        self.settings.reporter.report(event)
        hook = self.settings.on_event
        if hook is not None:
            try:
                hook(dict(event))
            except Exception:
                log.exception("claudewatch_retry: on_event hook failed")

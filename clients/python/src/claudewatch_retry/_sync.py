"""The playbook around ``anthropic.Anthropic``: plain calls, raw streams and the stream helper."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, Callable, Generic, Iterator, Literal, Optional, TypeVar, overload

import anthropic
from anthropic.lib.streaming import MessageStream, ParsedMessageStreamEvent  # noqa: F401 - named in a base class
from anthropic.types import Message, RawMessageStreamEvent

from ._chain import Chain, ClientBase, EventHook, Settings, StreamState
from ._policy import RetryPolicy
from ._reporter import Reporter

T = TypeVar("T")
E = TypeVar("E")


class RetryingClient(ClientBase):
    """Runs calls of an ``anthropic.Anthropic`` through the playbook and reports what happens.

    ``client``'s own retries are switched off on a copy; ``service`` names the app in
    claudewatch (1–64 characters of ``A-Za-z0-9_.:-``). ``sleep`` is injectable for tests;
    ``on_event`` (optional) sees every event as it is reported, ``stage`` included, for the
    app's own logs. The last attempt's exception reaches the caller unchanged.
    """

    def __init__(
        self,
        client: anthropic.Anthropic,
        *,
        service: str,
        reporter: Reporter,
        policy: Optional[RetryPolicy] = None,
        sleep: Callable[[float], None] = time.sleep,
        on_event: Optional[EventHook] = None,
    ) -> None:
        self._settings = Settings(client, service, reporter, policy, on_event)
        self._sleep = sleep

    @property
    def client(self) -> anthropic.Anthropic:
        """The SDK client the calls go through (SDK retries off)."""
        return self._settings.client  # type: ignore[no-any-return]

    @overload
    def messages_create(self, *, stream: Literal[True], **params: Any) -> RetryingStream[RawMessageStreamEvent]: ...
    @overload
    def messages_create(self, *, stream: Literal[False] = False, **params: Any) -> Message: ...
    def messages_create(self, *, stream: bool = False, **params: Any) -> Message | RetryingStream[RawMessageStreamEvent]:
        """``client.messages.create(**params)`` under the playbook. With ``stream=True``, a
        :class:`RetryingStream` of the SDK's events: a failure before the first event reached
        the caller is retried, a later one is reported and raised."""
        if stream:
            chain = Chain(self._settings, params.get("model"))

            def open_stream() -> Iterator[RawMessageStreamEvent]:
                return self.client.messages.create(stream=True, **params)  # type: ignore[no-any-return]

            return RetryingStream(self, chain, open_stream, self._attempts(chain, open_stream))
        message: Message = self.call(lambda: self.client.messages.create(**params), model=params.get("model"))
        return message

    def messages_stream(self, **params: Any) -> RetryingMessageStreamManager:
        """``client.messages.stream(**params)`` under the playbook: ``with claude.messages_stream(…)
        as stream:`` gives the SDK's events, ``text_stream`` and ``get_final_message()``."""
        return RetryingMessageStreamManager(self, params)

    def call(self, fn: Callable[[], T], *, model: Optional[str] = None) -> T:
        """Runs ``fn`` (one API call with the SDK) under the playbook."""
        chain = Chain(self._settings, model)
        result = self._attempts(chain, fn)
        chain.succeeded()
        return result

    def _attempts(self, chain: Chain, fn: Callable[[], T]) -> T:
        """Calls ``fn`` until it returns or the chain gives up (its last error is raised)."""
        while True:
            chain.begin()
            try:
                return fn()
            except Exception as error:
                delay = chain.failed(error)
                if delay is None:
                    raise
            self._sleep(delay)


class RetryingStream(StreamState, Generic[E]):
    """A stream of SDK events that is reopened, under the playbook, while nothing has reached
    the caller: a reset after the headers but before the first event is retried; once an event
    was handed over, a failure is reported (``exhausted`` for a retryable class) and raised as
    the SDK raised it. Read to its end, the call is reported as a ``success``; closed before,
    it is the caller's abandonment and not reported."""

    def __iter__(self) -> Iterator[E]:
        return self

    def __next__(self) -> E:
        while True:
            try:
                item: E = next(self._current)
            except StopIteration:
                self._chain.succeeded()
                raise
            except Exception as error:
                delay = self._chain.failed(error, delivered=self._delivered)
                if delay is None:
                    raise
                self._current.close()
                self._owner._sleep(delay)
                self._current = self._owner._attempts(self._chain, self._open)
                continue
            self._delivered = True
            return item

    def close(self) -> None:
        """Closes the response; a stream not read to its end is not reported."""
        self._current.close()

    def __enter__(self) -> RetryingStream[E]:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class RetryingMessageStream(RetryingStream["ParsedMessageStreamEvent[Any]"]):
    """The SDK's ``MessageStream`` under the playbook: its events (``text`` events included),
    ``text_stream``, ``get_final_message()`` and ``get_final_text()``, from whichever attempt
    delivered them."""

    def __init__(
        self, owner: RetryingClient, chain: Chain, open_stream: Callable[[], MessageStream[Any]], first: MessageStream[Any]
    ) -> None:
        super().__init__(owner, chain, open_stream, first)
        self.text_stream: Iterator[str] = self._text()

    @property
    def current(self) -> MessageStream[Any]:
        stream: MessageStream[Any] = self._current
        return stream

    @property
    def request_id(self) -> Optional[str]:
        return self.current.request_id

    @property
    def current_message_snapshot(self) -> Any:
        return self.current.current_message_snapshot

    def until_done(self) -> None:
        """Reads the stream to its end."""
        for _ in self:
            pass

    def get_final_message(self) -> Any:
        """Reads the stream to its end; the message it made."""
        self.until_done()
        return self.current.get_final_message()

    def get_final_text(self) -> str:
        """Reads the stream to its end; its text blocks, joined."""
        self.until_done()
        return self.current.get_final_text()

    def _text(self) -> Iterator[str]:
        for event in self:
            if event.type == "text":
                yield event.text


class RetryingMessageStreamManager:
    """What :meth:`RetryingClient.messages_stream` returns: entering it opens the stream under
    the playbook (a 529 before the headers is retried like any call)."""

    def __init__(self, owner: RetryingClient, params: dict[str, Any]) -> None:
        self._owner = owner
        self._params = params
        self._stream: Optional[RetryingMessageStream] = None

    def __enter__(self) -> RetryingMessageStream:
        owner = self._owner
        chain = Chain(owner._settings, self._params.get("model"))

        def open_stream() -> MessageStream[Any]:
            return owner.client.messages.stream(**self._params).__enter__()

        self._stream = RetryingMessageStream(owner, chain, open_stream, owner._attempts(chain, open_stream))
        return self._stream

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._stream is not None:
            self._stream.close()

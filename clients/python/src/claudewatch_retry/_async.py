"""The playbook around ``anthropic.AsyncAnthropic``: the async twin of ``_sync``. Waiting is
``asyncio.sleep``; reporting hands events to the reporter's thread, so the event loop never
waits for claudewatch. A cancelled task (``asyncio.CancelledError``) passes through untouched
and is never reported."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, AsyncIterator, Awaitable, Callable, Generic, Literal, Optional, TypeVar, overload

import anthropic
from anthropic.lib.streaming import AsyncMessageStream, ParsedMessageStreamEvent  # noqa: F401 - named in a base class
from anthropic.types import Message, RawMessageStreamEvent

from ._chain import Chain, ClientBase, EventHook, Settings, StreamState
from ._policy import RetryPolicy
from ._reporter import Reporter

T = TypeVar("T")
E = TypeVar("E")


class AsyncRetryingClient(ClientBase):
    """:class:`~claudewatch_retry.RetryingClient` for ``anthropic.AsyncAnthropic``: the same
    playbook, reports and stream rule, with ``await``."""

    def __init__(
        self,
        client: anthropic.AsyncAnthropic,
        *,
        service: str,
        reporter: Reporter,
        policy: Optional[RetryPolicy] = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_event: Optional[EventHook] = None,
    ) -> None:
        self._settings = Settings(client, service, reporter, policy, on_event)
        self._sleep = sleep

    @property
    def client(self) -> anthropic.AsyncAnthropic:
        """The SDK client the calls go through (SDK retries off)."""
        return self._settings.client  # type: ignore[no-any-return]

    @overload
    async def messages_create(self, *, stream: Literal[True], **params: Any) -> AsyncRetryingStream[RawMessageStreamEvent]: ...
    @overload
    async def messages_create(self, *, stream: Literal[False] = False, **params: Any) -> Message: ...
    async def messages_create(self, *, stream: bool = False, **params: Any) -> Message | AsyncRetryingStream[RawMessageStreamEvent]:
        """``await client.messages.create(**params)`` under the playbook; with ``stream=True`` an
        :class:`AsyncRetryingStream` (the stream rule of :class:`RetryingStream`)."""
        if stream:
            chain = Chain(self._settings, params.get("model"))

            async def open_stream() -> AsyncIterator[RawMessageStreamEvent]:
                return await self.client.messages.create(stream=True, **params)  # type: ignore[no-any-return]

            return AsyncRetryingStream(self, chain, open_stream, await self._attempts(chain, open_stream))
        return await self.call(lambda: self.client.messages.create(**params), model=params.get("model"))

    def messages_stream(self, **params: Any) -> AsyncRetryingMessageStreamManager:
        """``client.messages.stream(**params)`` under the playbook: ``async with
        claude.messages_stream(…) as stream:``."""
        return AsyncRetryingMessageStreamManager(self, params)

    async def call(self, fn: Callable[[], Awaitable[T]], *, model: Optional[str] = None) -> T:
        """Runs ``fn`` (one API call with the SDK, returning an awaitable) under the playbook."""
        chain = Chain(self._settings, model)
        result = await self._attempts(chain, fn)
        chain.succeeded()
        return result

    async def _attempts(self, chain: Chain, fn: Callable[[], Awaitable[T]]) -> T:
        while True:
            chain.begin()
            try:
                return await fn()
            except Exception as error:
                delay = chain.failed(error)
                if delay is None:
                    raise
            await self._sleep(delay)


class AsyncRetryingStream(StreamState, Generic[E]):
    """The async twin of :class:`~claudewatch_retry.RetryingStream`: reopened while nothing has
    reached the caller, reported and raised after."""

    def __aiter__(self) -> AsyncIterator[E]:
        return self

    async def __anext__(self) -> E:
        while True:
            try:
                item: E = await self._current.__anext__()
            except StopAsyncIteration:
                self._chain.succeeded()
                raise
            except Exception as error:
                delay = self._chain.failed(error, delivered=self._delivered)
                if delay is None:
                    raise
                await self._current.close()
                await self._owner._sleep(delay)
                self._current = await self._owner._attempts(self._chain, self._open)
                continue
            self._delivered = True
            return item

    async def close(self) -> None:
        """Closes the response; a stream not read to its end is not reported."""
        await self._current.close()

    async def __aenter__(self) -> AsyncRetryingStream[E]:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()


class AsyncRetryingMessageStream(AsyncRetryingStream["ParsedMessageStreamEvent[Any]"]):
    """The SDK's ``AsyncMessageStream`` under the playbook."""

    def __init__(
        self,
        owner: AsyncRetryingClient,
        chain: Chain,
        open_stream: Callable[[], Awaitable[AsyncMessageStream[Any]]],
        first: AsyncMessageStream[Any],
    ) -> None:
        super().__init__(owner, chain, open_stream, first)
        self.text_stream: AsyncIterator[str] = self._text()

    @property
    def current(self) -> AsyncMessageStream[Any]:
        stream: AsyncMessageStream[Any] = self._current
        return stream

    @property
    def request_id(self) -> Optional[str]:
        return self.current.request_id

    @property
    def current_message_snapshot(self) -> Any:
        return self.current.current_message_snapshot

    async def until_done(self) -> None:
        async for _ in self:
            pass

    async def get_final_message(self) -> Any:
        await self.until_done()
        return await self.current.get_final_message()

    async def get_final_text(self) -> str:
        await self.until_done()
        return await self.current.get_final_text()

    async def _text(self) -> AsyncIterator[str]:
        async for event in self:
            if event.type == "text":
                yield event.text


class AsyncRetryingMessageStreamManager:
    """What :meth:`AsyncRetryingClient.messages_stream` returns (``async with``)."""

    def __init__(self, owner: AsyncRetryingClient, params: dict[str, Any]) -> None:
        self._owner = owner
        self._params = params
        self._stream: Optional[AsyncRetryingMessageStream] = None

    async def __aenter__(self) -> AsyncRetryingMessageStream:
        owner = self._owner
        chain = Chain(owner._settings, self._params.get("model"))

        async def open_stream() -> AsyncMessageStream[Any]:
            return await owner.client.messages.stream(**self._params).__aenter__()

        self._stream = AsyncRetryingMessageStream(owner, chain, open_stream, await owner._attempts(chain, open_stream))
        return self._stream

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._stream is not None:
            await self._stream.close()

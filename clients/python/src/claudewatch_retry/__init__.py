"""The retry playbook around the official ``anthropic`` SDK, reporting to claudewatch.

The SDK's own retries are switched off (``max_retries=0``); the wrapper decides per error class
(see :mod:`claudewatch_retry._classify` for what each network failure raises):

=============  ======================================================  =====================
class          what                                                    policy
=============  ======================================================  =====================
overloaded     529, 503, ``overloaded_error`` (also mid-stream)        backoff 1 s doubling to 60 s, ±20 % jitter, 5 tries
connection     reset, refused, closed: before the response, mid-body   as overloaded
               or mid-stream
timeout        no answer within the client's timeout (also a stall)    as overloaded
rate_limited   429 (or ``rate_limit_error`` mid-stream)                wait ``retry-after`` (over the 60 s cap: give up at
                                                                       once); else backoff. A spend limit
                                                                       (``enforced_/contract_spend_limit_reached``) is not
                                                                       retried
server_error   500, 502, 504, other 5xx, ``api_error`` mid-stream      retry once after 5 s, then give up
client_error   400 (a spend limit you set included) and other 4xx      never retried
auth           401, 403                                                never retried
unexpected     a reply the SDK could not read                          never retried
=============  ======================================================  =====================

Streams (``messages_create(stream=True)``, ``messages_stream()``) are retried only while nothing
has reached the caller; once an event was handed over, a failure is reported and raised, never
re-sent (the caller would see text twice).

Every failed attempt that will be retried, every retry chain that gives up, and every finished
call is reported to claudewatch's ``POST /v1/events`` by a :class:`Reporter`: a background thread
that sends batches, pre-aggregates identical events, and never blocks or fails the app's call.

Usage::

    import anthropic
    from claudewatch_retry import AsyncRetryingClient, Reporter

    reporter = Reporter("http://claudewatch:9464", token=os.environ.get("CLAUDEWATCH_TOKEN"))
    claude = AsyncRetryingClient(anthropic.AsyncAnthropic(), service="checkout-api", reporter=reporter)
    async with claude.messages_stream(model="claude-sonnet-4-6", max_tokens=256,
                                      messages=[{"role": "user", "content": "Hello"}]) as stream:
        async for text in stream.text_stream:
            print(text, end="")
"""

from ._async import AsyncRetryingClient, AsyncRetryingMessageStream, AsyncRetryingMessageStreamManager, AsyncRetryingStream
from ._classify import CLASSES, SPEND_LIMIT_CODES, STAGES, Failure, Stage, classify, retry_after
from ._policy import Decision, RetryPolicy
from ._reporter import SEND_STAGE, Reporter, check_service, model_label
from ._sync import RetryingClient, RetryingMessageStream, RetryingMessageStreamManager, RetryingStream

__version__ = "0.1.0"

__all__ = [
    "AsyncRetryingClient",
    "AsyncRetryingMessageStream",
    "AsyncRetryingMessageStreamManager",
    "AsyncRetryingStream",
    "CLASSES",
    "Decision",
    "Failure",
    "Reporter",
    "RetryPolicy",
    "RetryingClient",
    "RetryingMessageStream",
    "RetryingMessageStreamManager",
    "RetryingStream",
    "SEND_STAGE",
    "SPEND_LIMIT_CODES",
    "STAGES",
    "Stage",
    "check_service",
    "classify",
    "model_label",
    "retry_after",
]

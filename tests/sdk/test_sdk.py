"""The official `anthropic` Python SDK against the simulator: its normal responses, its normal
error classes, and its documented retry behaviour (observed in the simulator's request log)."""

import asyncio

import anthropic
import pytest

MODEL = "claude-haiku-4-5"
MESSAGES = [{"role": "user", "content": "Reply with the word OK"}]


def create(client, **kw):
    return client.messages.create(model=MODEL, max_tokens=16, messages=MESSAGES, **kw)


# --- normal responses -------------------------------------------------------------------------


def test_create_returns_a_message(client, sim):
    message = create(client)
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.id.startswith("msg_")
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "OK"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens == 1
    assert message._request_id == sim.requests()[-1]["request_id"]


def test_raw_response_carries_the_rate_limit_headers(client):
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=16, messages=MESSAGES)
    for resource in ("requests", "tokens", "input-tokens", "output-tokens"):
        limit = int(raw.headers[f"anthropic-ratelimit-{resource}-limit"])
        remaining = int(raw.headers[f"anthropic-ratelimit-{resource}-remaining"])
        assert 0 <= remaining <= limit
        assert raw.headers[f"anthropic-ratelimit-{resource}-reset"].endswith("Z")
    assert raw.headers["request-id"].startswith("req_")
    assert raw.parse().content[0].text == "OK"


def test_stream_helper_yields_the_text_and_final_message(client):
    with client.messages.stream(model=MODEL, max_tokens=16, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "OK"
    assert final.content[0].text == "OK"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 1


def test_raw_stream_events_come_in_the_api_order(client):
    events = [e.type for e in create(client, stream=True)]
    assert events == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ], "the SDK drops ping; the rest arrive in order"


def test_async_client(sim):
    async def run():
        async with anthropic.AsyncAnthropic(base_url=sim.url, api_key=sim.key, max_retries=0) as c:
            return await c.messages.create(model=MODEL, max_tokens=16, messages=MESSAGES)

    assert asyncio.run(run()).content[0].text == "OK"


def test_count_tokens_and_models(client):
    assert client.messages.count_tokens(model=MODEL, messages=MESSAGES).input_tokens > 0
    models = client.models.list()
    assert len(models.data) > 0 and all(m.type == "model" for m in models.data)


# --- error classes ----------------------------------------------------------------------------

STATUS_FAULTS = [
    ("overloaded", anthropic.OverloadedError, 529),
    ("unavailable", anthropic.InternalServerError, 503),
    ("server_error", anthropic.InternalServerError, 500),
    ("bad_gateway", anthropic.InternalServerError, 502),
    ("gateway_timeout", anthropic.InternalServerError, 504),
    ("rate_limited", anthropic.RateLimitError, 429),
    ("rate_limited_no_retry_after", anthropic.RateLimitError, 429),
    ("spend_limit", anthropic.RateLimitError, 429),
    ("bad_request", anthropic.BadRequestError, 400),
    ("unauthorized", anthropic.AuthenticationError, 401),
    ("forbidden", anthropic.PermissionDeniedError, 403),
]


@pytest.mark.parametrize("fault,error,status", STATUS_FAULTS, ids=[f for f, _, _ in STATUS_FAULTS])
def test_status_faults_raise_the_sdk_error_class(client, sim, fault, error, status):
    sim.script(fault)
    with pytest.raises(error) as info:
        create(client)
    assert info.value.status_code == status
    if fault != "bad_gateway":
        assert info.value.request_id == sim.requests()[-1]["request_id"]
        assert info.value.body["type"] == "error"
    assert sim.stats()["by_fault"][fault] == 1


def test_spend_limit_carries_its_error_code(client, sim):
    sim.script("spend_limit")
    with pytest.raises(anthropic.RateLimitError) as info:
        create(client)
    assert info.value.body["error"]["details"]["error_code"] == "enforced_spend_limit_reached"
    assert "retry-after" not in info.value.response.headers


def test_reset_is_a_connection_error(client, sim):
    sim.script("reset")
    with pytest.raises(anthropic.APIConnectionError) as info:
        create(client)
    assert not isinstance(info.value, anthropic.APITimeoutError)


def test_close_mid_body_is_a_connection_error(client, sim):
    sim.script("close_mid_body")
    with pytest.raises(anthropic.APIConnectionError):
        create(client)


def test_hang_times_out(sim):
    sim.script("hang")
    with anthropic.Anthropic(base_url=sim.url, api_key=sim.key, max_retries=0, timeout=0.5) as c:
        with pytest.raises(anthropic.APITimeoutError):
            create(c)


def test_mid_stream_error_event_raises_after_the_200(client, sim):
    sim.script("stream_error")
    seen = []
    with pytest.raises(anthropic.APIStatusError) as info:
        for event in create(client, stream=True):
            seen.append(event.type)
    assert seen == ["message_start", "content_block_start"]
    assert info.value.body["error"]["type"] == "overloaded_error"


def test_wrong_key_is_an_authentication_error(sim):
    with anthropic.Anthropic(base_url=sim.url, api_key="sk-ant-wrong", max_retries=0) as c:
        with pytest.raises(anthropic.AuthenticationError) as info:
            create(c)
    assert info.value.body["error"]["type"] == "authentication_error"


def test_invalid_request_is_a_bad_request_error(client):
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model=MODEL, max_tokens=0, messages=MESSAGES)
    assert "max_tokens" in info.value.body["error"]["message"]


def test_default_headers_pick_the_fault(sim):
    headers = {"x-claudewatch-sim-fault": "overloaded"}
    with anthropic.Anthropic(base_url=sim.url, api_key=sim.key, max_retries=0, default_headers=headers) as c:
        with pytest.raises(anthropic.OverloadedError):
            create(c)
    assert sim.stats()["by_source"]["header"] == 1


# --- retries ----------------------------------------------------------------------------------


def retrying_client(sim, **kw):
    return anthropic.Anthropic(base_url=sim.url, api_key=sim.key, max_retries=2, **kw)


@pytest.mark.parametrize("fault", ["overloaded", "unavailable", "server_error", "rate_limited_no_retry_after", "reset"])
def test_retryable_faults_are_tried_three_times(sim, fault):
    sim.script({"fault": fault, "count": 3})
    with retrying_client(sim) as c, pytest.raises(anthropic.APIError):
        create(c)
    stats = sim.stats()
    assert stats["by_fault"][fault] == 3 and stats["requests"] == 3
    assert [r["retry_count"] for r in sim.requests()] == ["0", "1", "2"]


def test_a_retry_can_succeed(sim):
    sim.script("reset", "overloaded")
    with retrying_client(sim) as c:
        assert create(c).content[0].text == "OK"
    assert [r["fault"] for r in sim.requests()] == ["reset", "overloaded", "ok"]


def test_timeouts_are_retried(sim):
    sim.script("hang")
    with retrying_client(sim, timeout=0.5) as c:
        assert create(c).content[0].text == "OK"
    assert [r["fault"] for r in sim.requests()] == ["hang", "ok"]


def test_retry_after_is_honoured(sim):
    sim.script({"fault": "rate_limited", "retry_after": 2}, "rate_limited_no_retry_after")
    with retrying_client(sim) as c:
        assert create(c).content[0].text == "OK"
    first, second, third = sim.requests()
    # The server asked for 2 s; without retry-after the SDK's own backoff is 0.5 s or less
    # on the second retry's first step (0.5 × 2^1 × [0.75, 1] = 0.75–1 s).
    assert second["at_seconds"] - first["at_seconds"] >= 1.9
    assert third["at_seconds"] - second["at_seconds"] < 1.5


@pytest.mark.parametrize("fault", ["bad_request", "unauthorized", "forbidden"])
def test_client_errors_are_not_retried(sim, fault):
    sim.script(fault, fault, fault)
    with retrying_client(sim) as c, pytest.raises(anthropic.APIStatusError):
        create(c)
    assert sim.stats()["requests"] == 1
    assert sim.stats()["script_remaining"] == 2


def test_a_mid_stream_error_is_not_retried(sim):
    sim.script("stream_error")
    with retrying_client(sim) as c, pytest.raises(anthropic.APIStatusError):
        for _ in create(c, stream=True):
            pass
    assert sim.stats()["requests"] == 1

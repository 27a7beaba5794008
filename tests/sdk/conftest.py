"""Fixtures for the official-SDK tests: the simulator's URL and key come from the Rust driver
(tests/sdk.rs), which starts the simulator and runs pytest against it."""

import json
import os
import urllib.request

import anthropic
import pytest

SIM_URL = os.environ.get("CLAUDEWATCH_SIM_URL")
SIM_KEY = os.environ.get("CLAUDEWATCH_SIM_API_KEY", "sk-ant-sim-test")


def _control(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(SIM_URL + path, data=data, method=method)
    # The simulator is on loopback; never go through a proxy from the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=10) as resp:
        return json.loads(resp.read())


class Sim:
    """The simulator's control routes."""

    url = SIM_URL
    key = SIM_KEY

    def script(self, *steps):
        return _control("POST", "/_sim/script", list(steps))

    def stats(self):
        return _control("GET", "/_sim/stats")

    def requests(self):
        return _control("GET", "/_sim/requests")["requests"]


@pytest.fixture
def sim():
    if not SIM_URL:
        pytest.fail("CLAUDEWATCH_SIM_URL is not set: run these tests through `cargo test --test sdk`")
    _control("POST", "/_sim/reset")
    return Sim()


@pytest.fixture
def client(sim):
    """A client that does not retry, so each call is one request."""
    with anthropic.Anthropic(base_url=sim.url, api_key=sim.key, max_retries=0, timeout=10) as c:
        yield c

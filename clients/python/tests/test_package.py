"""The package as installed from its wheel: these tests run in a clean venv that holds the wheel
and its declared dependencies only (``cargo test --test clients`` builds and installs it)."""

from __future__ import annotations

import os
from importlib import metadata, resources
from pathlib import Path

import pytest

import claudewatch_retry

STAGED = os.environ.get("CLAUDEWATCH_CLIENTS_STAGED")


@pytest.fixture
def staged() -> str:
    if not STAGED:
        pytest.fail("run through `cargo nextest run --test clients`, which installs the wheel into a clean venv")
    return STAGED


def test_imported_from_the_installed_wheel(staged: str) -> None:
    source = Path(claudewatch_retry.__file__).resolve()
    assert "site-packages" in source.parts, source
    assert Path(staged).resolve() in source.parents, f"{source} is not in the clean venv {staged}"


def test_typed_and_versioned_like_the_daemon(staged: str) -> None:
    assert resources.files("claudewatch_retry").joinpath("py.typed").is_file()
    version = os.environ["CLAUDEWATCH_VERSION"]
    assert claudewatch_retry.__version__ == version
    assert metadata.version("claudewatch-retry") == version


def test_depends_on_the_sdk_only(staged: str) -> None:
    requires = metadata.requires("claudewatch-retry") or []
    assert [r.split(">")[0].split("=")[0].strip() for r in requires] == ["anthropic"], requires

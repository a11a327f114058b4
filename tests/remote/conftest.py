"""Fixtures for the remote backends: loopback fakes of each API (tests.remote.fakes); the real llama-server
fixtures are in tests/llama_servers.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.remote.fakes import FakeServer


@pytest.fixture
def fake_server() -> Iterator[Callable[..., FakeServer]]:
    """``fake_server(api, **fields)`` -> a started loopback fake (stopped after the test)."""
    started: list[FakeServer] = []

    def start(api: str, **fields: object) -> FakeServer:
        server = FakeServer(api, **fields).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()

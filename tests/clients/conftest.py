"""Fixtures for the real-client tests: the clients installed once into ~/.cache (install.sh), a
gateway on each database that records what the client sent, and a real MCP server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from responses_gateway.app import create_app
from tests.clients.codex import Codex, codex_binary, config_toml
from tests.clients.support import SentRecorder, install_clients
from tests.conftest import gateway_settings
from tests.support.mcp_servers import build_server
from tests.support.serving import serve_in_thread
from tests.support.upstream import ScriptedUpstream


@pytest.fixture(scope="session")
def clients_cache() -> Path:
    return install_clients()


@dataclass
class RecordedGateway:
    url: str
    recorder: SentRecorder

    @property
    def base_url(self) -> str:
        return self.url + "/v1"


@pytest.fixture(scope="session")
def recorded_gateway(
    database_url: str, upstream_server: ScriptedUpstream
) -> Iterator[RecordedGateway]:
    settings = gateway_settings(database_url, upstream_server.base_url)
    recorder = SentRecorder(create_app(settings))
    with serve_in_thread(recorder) as url:
        yield RecordedGateway(url, recorder)


@pytest.fixture
def gw(recorded_gateway: RecordedGateway, upstream: ScriptedUpstream) -> RecordedGateway:
    """The recording gateway, with a fresh upstream script and a fresh record for each test."""
    recorded_gateway.recorder.requests.clear()
    return recorded_gateway


@pytest.fixture(scope="session")
def mcp_url() -> Iterator[str]:
    """A real MCP server (Streamable HTTP) with the suite's test tools (``add``, ``lookup``…)."""
    with serve_in_thread(build_server("docs").streamable_http_app()) as url:
        yield url + "/mcp"


@pytest.fixture
def codex(clients_cache: Path, tmp_path: Path, gw: RecordedGateway, mcp_url: str) -> Codex:
    """A fresh Codex home configured for the gateway (README config) and an empty work dir."""
    home, workdir = tmp_path / "codex-home", tmp_path / "work"
    home.mkdir()
    workdir.mkdir()
    runner = Codex(codex_binary(clients_cache), home, workdir)
    runner.configure(config_toml(gw.base_url, mcp_url))
    return runner

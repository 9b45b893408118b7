"""A real llama.cpp server (built once by ``ensure_llama_server.sh``) with SmolLM2-135M behind the
gateway, on SQLite and PostgreSQL. Model output is not scripted: tests use ``temperature: 0``
(greedy, so repeatable) and assert on structure and status."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from responses_gateway.app import create_app
from responses_gateway.store.migrations import migrate
from tests.backends.llama import LlamaInstall, LlamaServer, ensure_install
from tests.conftest import Gateway, gateway_settings, scratch_postgres
from tests.support.serving import serve_in_thread

MODEL = "smollm2-135m"


@pytest.fixture(scope="session")
def llama_install() -> LlamaInstall:
    return ensure_install()


def _log(factory: pytest.TempPathFactory, name: str) -> Path:
    return factory.mktemp("llama") / f"{name}.log"


@pytest.fixture(scope="session")
def llama(
    llama_install: LlamaInstall, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaServer]:
    """The model's own chat template, as a user would run it."""
    server = LlamaServer(llama_install, log=_log(tmp_path_factory, "llama-server"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def llama_tools(
    llama_install: LlamaInstall, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaServer]:
    """A chat template with tool calls (SmolLM2's own has none)."""
    server = LlamaServer(
        llama_install,
        "--chat-template-file",
        str(llama_install.tool_template),
        log=_log(tmp_path_factory, "llama-server-tools"),
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def backends_database_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of the real backends' own: their gateways live the whole session, and a
    gateway's background worker runs whatever job is queued in its database, other tests' too
    (a background test once got SmolLM2's answer instead of its scripted one)."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path_factory.mktemp('backends') / 'gateway.db'}"
        migrate(url)
        yield url
        return
    with scratch_postgres("gateway_backends") as url:
        migrate(url)
        yield url


@contextlib.contextmanager
def _gateway(database_url: str, upstream: LlamaServer, **settings: object) -> Iterator[Gateway]:
    config = gateway_settings(database_url, upstream.base_url, **settings)
    with serve_in_thread(create_app(config)) as url:
        yield Gateway(url, config)


@pytest.fixture(scope="session")
def llama_gateway(backends_database_url: str, llama: LlamaServer) -> Iterator[Gateway]:
    with _gateway(backends_database_url, llama) as gateway:
        yield gateway


@pytest.fixture(scope="session")
def llama_tools_gateway(backends_database_url: str, llama_tools: LlamaServer) -> Iterator[Gateway]:
    with _gateway(backends_database_url, llama_tools) as gateway:
        yield gateway


# Long enough for a token on a loaded 2-core machine, short enough to wait for once.
UPSTREAM_TIMEOUT = 10.0


@pytest.fixture
def doomed(
    llama_install: LlamaInstall, backends_database_url: str, tmp_path: Path
) -> Iterator[tuple[LlamaServer, Gateway]]:
    """A llama-server of its own (to be killed or frozen) and a gateway that waits
    ``UPSTREAM_TIMEOUT`` seconds for it."""
    server = LlamaServer(llama_install, log=tmp_path / "llama-server.log")
    try:
        with _gateway(backends_database_url, server, upstream_timeout=UPSTREAM_TIMEOUT) as gateway:
            yield server, gateway
    finally:
        server.stop()

"""Fixtures: a scripted upstream, MCP servers and gateways on real loopback sockets, on SQLite and
on PostgreSQL (when one answers at 127.0.0.1:5432; in CI it must)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openai
import pytest

from responses_gateway.app import create_app
from responses_gateway.config import Settings
from responses_gateway.http_server import uvicorn_options
from responses_gateway.store.migrations import migrate
from tests.support.serving import serve_in_thread
from tests.support.upstream import ScriptedUpstream, running_upstream

if TYPE_CHECKING:  # the MCP SDK loads when a test first asks for the servers
    from tests.support.mcp_servers import McpTestServers

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN_URL = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test"


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


POSTGRES = _postgres_reachable()
if not POSTGRES and os.environ.get("CI"):
    raise RuntimeError(
        f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}; CI must run the Postgres tests "
        "(.ci/run starts it)."
    )


def pytest_report_header() -> str:
    if POSTGRES:
        return f"PostgreSQL: found at {PG_HOST}:{PG_PORT}; tests run on SQLite and PostgreSQL"
    return (
        f"PostgreSQL: NOT found at {PG_HOST}:{PG_PORT}; the PostgreSQL variants are skipped and "
        "tests run on SQLite only"
    )


async def pg_admin(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextlib.contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database for the block, dropped after it (skips without PostgreSQL)."""
    if not POSTGRES:
        pytest.skip(f"PostgreSQL not found at {PG_HOST}:{PG_PORT}: running on SQLite only")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def fresh_database(kind: str, directory: Path, name: str) -> Iterator[str]:
    """A new, migrated database of ``kind`` ("sqlite": a file in ``directory``; "postgres": a
    scratch database, dropped after), for tests that must see no other test's rows."""
    if kind == "sqlite":
        url = f"sqlite:///{directory / f'{name}.db'}"
        migrate(url)
        yield url
        return
    with scratch_postgres(name) as url:
        migrate(url)
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with scratch_postgres("gateway_test") as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("db") / "gateway.db"
    return f"sqlite:///{path}"


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    migrate(url)
    return url


@pytest.fixture(scope="session")
def upstream_server() -> Iterator[ScriptedUpstream]:
    with running_upstream() as upstream:
        yield upstream


@pytest.fixture
def upstream(upstream_server: ScriptedUpstream) -> ScriptedUpstream:
    upstream_server.reset()
    return upstream_server


@dataclass
class Gateway:
    url: str
    settings: Settings

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def client(self, api_key: str = "unused", **options: Any) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key=api_key, max_retries=0, **options)


TEST_SEALING_KEY = "dGVzdC1zZWFsaW5nLWtleS0zMi1ieXRlcy1sb25nISE"


def gateway_settings(database_url: str, upstream_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "upstream_url": upstream_url,
        "upstream_api_key": "sk-upstream-secret",
        "database_url": database_url,
        "mcp_allow_private_networks": True,
        "sealing_keys": [TEST_SEALING_KEY],
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def gateway(database_url: str, upstream_server: ScriptedUpstream) -> Iterator[Gateway]:
    with custom_gateway(database_url, upstream_server.base_url) as running:
        yield running


@contextlib.contextmanager
def custom_gateway(database_url: str, upstream_url: str, **overrides: Any) -> Iterator[Gateway]:
    """A gateway of its own, with ``overrides`` on the test settings (limits, timeouts)."""
    settings = gateway_settings(database_url, upstream_url, **overrides)
    with serve_in_thread(create_app(settings), **uvicorn_options(settings, in_process=True)) as url:
        yield Gateway(url, settings)


@pytest.fixture
def client(gateway: Gateway, upstream: ScriptedUpstream) -> openai.OpenAI:
    return gateway.client()


MakeGateway = Callable[..., Gateway]


@pytest.fixture
def make_gateway(gateway: Gateway, upstream: ScriptedUpstream) -> Iterator[MakeGateway]:
    """Extra gateways on the same database and upstream, with other settings."""
    with contextlib.ExitStack() as stack:

        def make(**overrides: Any) -> Gateway:
            settings = gateway_settings(
                gateway.settings.database_url, upstream.base_url, **overrides
            )
            return Gateway(stack.enter_context(serve_in_thread(create_app(settings))), settings)

        yield make


@pytest.fixture(scope="session")
def mcp_servers() -> Iterator[McpTestServers]:
    from tests.support.mcp_servers import running_mcp_servers

    with running_mcp_servers() as servers:
        yield servers


@pytest.fixture
def mcp(mcp_servers: McpTestServers) -> McpTestServers:
    """The MCP test servers, with what they recorded for earlier tests forgotten."""
    mcp_servers.reset()
    return mcp_servers

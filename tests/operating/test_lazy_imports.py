"""What an ordinary request never needs stays out of the serving process (its RSS: bench/memory.py).

A fresh interpreter does what ``responses-gateway serve`` does: migrate a fresh database when it
is behind (Alembic runs in a child process), create the app, run its lifespan, then answer a
stored and a streamed response. The packages only MCP tools, migrations, sealed blobs, zstd
bodies, OpenTelemetry or the other database need must not have been imported by then. An import
list, not an RSS figure: it does not depend on the machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from responses_gateway.store.migrations import head_revision
from tests.conftest import TEST_SEALING_KEY, scratch_postgres
from tests.support.upstream import ScriptedUpstream

LAZY = (
    "mcp",  # the MCP SDK: the first request with an MCP tool (mcp.open_sessions)
    "mcp_types",
    "httpx2",  # the MCP egress guard's HTTP client, and the web search's
    "httpcore2",
    "alembic",  # migrations: in a child process, and only when the schema is behind
    "sqlalchemy",
    "cryptography",  # sealing: the first encrypted_content to make or open
    "zstandard",  # the first zstd request body
    "opentelemetry.sdk",  # only with OTEL_EXPORTER_OTLP_ENDPOINT
)

_SCRIPT = """
import asyncio, sys
import orjson
from responses_gateway.app import create_app
from responses_gateway.config import Settings
from responses_gateway.store.database import open_database
from responses_gateway.store.migrations import migrate_if_behind, schema_revision

settings = Settings()
migrate_if_behind(settings.database_url)

async def post(app, body):
    # By hand: an HTTP client library would import zstandard itself.
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/v1/responses", "raw_path": b"/v1/responses",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
        "server": ("gateway", 80), "headers": [(b"content-type", b"application/json")],
    }
    incoming = [{"type": "http.request", "body": orjson.dumps(body), "more_body": False}]
    sent = []

    async def receive():
        if incoming:
            return incoming.pop()
        await asyncio.Event().wait()  # the client stays connected

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    assert sent[0]["status"] == 200, sent

async def main():
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        for stream in (False, True):
            await post(app, {"model": "m", "input": "hello", "stream": stream})
        loaded = sorted(
            name for name in sys.modules
            if any(name == lazy or name.startswith(lazy + ".") for lazy in sys.argv[1:])
        )
        database = await open_database(settings.database_url, pool_size=1)
        revision = await schema_revision(database)
        await database.close()
    print(orjson.dumps({"loaded": loaded, "revision": revision}).decode())

asyncio.run(main())
"""


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A database never migrated, and the driver package the other database would need."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'gateway.db'}", "asyncpg"
        return
    with scratch_postgres("gateway_lazy") as url:
        yield url, "sqlite3"


def test_the_serving_process_imports_only_what_requests_need(
    fresh_database: tuple[str, str], upstream: ScriptedUpstream, tmp_path: Path
) -> None:
    url, other_driver = fresh_database
    env = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    env |= {
        "GATEWAY_DATABASE_URL": url,
        "GATEWAY_UPSTREAM_URL": upstream.base_url,
        "GATEWAY_SEALING_KEYS": TEST_SEALING_KEY,
        "GATEWAY_LOG_LEVEL": "warning",
    }
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, *LAZY, other_driver],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = orjson.loads(done.stdout.strip().splitlines()[-1])
    assert result["revision"] == head_revision()  # migrated, by the child process
    assert result["loaded"] == []
    assert len(upstream.requests) == 2

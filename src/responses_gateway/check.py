"""``responses-gateway check``: what works and what does not, for someone whose first request
failed. Reads the settings, opens the database, asks the upstream for its models."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

from responses_gateway.config import Settings
from responses_gateway.store.database import open_database
from responses_gateway.store.migrations import head_revision, schema_revision
from responses_gateway.store.urls import redacted
from responses_gateway.upstream_http import Timeouts, UpstreamHttp, untrusted_certificate

Report = Callable[[bool, str], None]


async def _database(settings: Settings, report: Report) -> bool:
    where = redacted(settings.database_url)
    try:
        database = await open_database(settings.database_url, pool_size=1)
    except Exception as exc:  # what went wrong is the report
        report(False, f"database {where}: cannot connect ({type(exc).__name__}: {exc})")
        return False
    try:
        current, head = await schema_revision(database), head_revision()
    finally:
        await database.close()
    if current != head:
        report(False, f"database {where}: schema at {current}, needs {head}: run migrate")
        return False
    report(True, f"database {where}: reachable, schema current ({head})")
    return True


async def _upstream(settings: Settings, report: Report) -> bool:
    """``GET /models`` through the gateway's own client, so TLS trust and the key are tested as
    requests will use them."""
    url = settings.upstream_url.rstrip("/") + "/models"
    headers = {}
    if settings.upstream_api_key:
        headers["authorization"] = f"Bearer {settings.upstream_api_key.get_secret_value()}"
    client = UpstreamHttp(settings.upstream_url, Timeouts(15.0, 15.0, 15.0, 15.0), 1, headers)
    try:
        answer, body = await client.fetch("GET", "models")
        status = answer.status
    except OSError as exc:  # a socket error, TLS refused, or a deadline
        report(False, f"upstream GET {url}: {_failure(exc)}")
        return False
    finally:
        await client.aclose()
    if status != 200:
        text = body.decode("utf-8", "replace")[:200]
        report(False, f"upstream GET {url}: HTTP {status}: {text}")
        return False
    report(True, f"upstream GET {url}: models {_model_names(body)}")
    return True


def _failure(exc: OSError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return untrusted_certificate(exc)
    if isinstance(exc, TimeoutError) and not str(exc):
        return f"{type(exc).__name__}: no answer within 15 s"
    return f"{type(exc).__name__}: {exc}"


def _model_names(body: bytes) -> str:
    import orjson

    try:
        data = orjson.loads(body).get("data") or []
        names = [str(model.get("id")) for model in data if isinstance(model, dict)]
    except (orjson.JSONDecodeError, AttributeError):
        return "(the answer is not a model list)"
    return ", ".join(names[:10]) + (" …" if len(names) > 10 else "") if names else "(none)"


def run_check(settings: Settings, report: Report) -> bool:
    async def both() -> bool:
        database, upstream = await asyncio.gather(
            _database(settings, report), _upstream(settings, report)
        )
        return database and upstream

    return asyncio.run(both())

"""``GATEWAY_DATABASE_URL`` → what each consumer needs: a SQLite file, an asyncpg DSN, Alembic's URL.

One URL names the database everywhere; the driver in it is only a hint. SQLite always runs through
the standard ``sqlite3`` module and PostgreSQL through asyncpg, so ``sqlite+aiosqlite://``,
``postgresql://``, ``postgres://`` and ``postgresql+asyncpg://`` are all accepted.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    except ArgumentError as exc:
        raise ValueError(f"GATEWAY_DATABASE_URL is not a database URL: {exc}") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(
            f"GATEWAY_DATABASE_URL names '{backend}': only sqlite:// and postgresql:// are supported"
        )
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise ValueError(
            "GATEWAY_DATABASE_URL: in-memory SQLite cannot be shared by the gateway's "
            "connections; name a file (sqlite:///./gateway.db)"
        )
    return parsed


def check_url(url: str) -> str:
    """``url`` unchanged if the gateway can use it; a ``ValueError`` saying why not otherwise."""
    _parse(url)
    return url


def is_sqlite(url: str) -> bool:
    return _parse(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path:
    database = _parse(url).database
    assert database is not None  # _parse refuses URLs without one
    return Path(database)


def postgres_dsn(url: str) -> str:
    """The URL as asyncpg's ``connect`` takes it (no SQLAlchemy driver suffix)."""
    return _parse(url).set(drivername="postgresql").render_as_string(hide_password=False)


def alembic_url(url: str) -> str:
    """The URL for Alembic's SQLAlchemy engine: stdlib ``sqlite3``, or asyncpg."""
    parsed = _parse(url)
    driver = "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql+asyncpg"
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def redacted(url: str) -> str:
    """The URL with its password hidden, for messages."""
    return _parse(url).render_as_string(hide_password=True)

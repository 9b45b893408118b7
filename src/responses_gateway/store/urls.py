"""``GATEWAY_DATABASE_URL`` → what each consumer needs: a SQLite file, an asyncpg DSN, Alembic's URL.

One URL names the database everywhere; the driver in it is only a hint. SQLite always runs through
the standard ``sqlite3`` module and PostgreSQL through asyncpg, so ``sqlite+aiosqlite://``,
``postgresql://``, ``postgres://`` and ``postgresql+asyncpg://`` are all accepted.

The URL is parsed and rendered here as SQLAlchemy's ``make_url`` and ``URL.render_as_string`` do
(the same grammar, quoting and query order), not by them: importing ``sqlalchemy.engine`` costs
the serving process 11 MB of RSS, and only migrations need SQLAlchemy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qsl, quote, quote_plus, unquote

# SQLAlchemy's URL grammar (sqlalchemy/engine/url.py, ``_parse_url``).
_URL = re.compile(
    r"""
        (?P<drivername>[\w\+]+)://
        (?:
            (?P<username>[^:/]*)
            (?::(?P<password>[^@]*))?
        @)?
        (?:
            (?:
                \[(?P<ipv6host>[^/\?]+)\] |
                (?P<ipv4host>[^/:\?]+)
            )?
            (?::(?P<port>[^/\?]*))?
        )?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
    """,
    re.X,
)


@dataclass(frozen=True)
class _Url:
    drivername: str
    username: str | None
    password: str | None
    host: str | None
    port: int | None
    database: str | None
    query: tuple[tuple[str, str], ...]

    @property
    def backend(self) -> str:
        return self.drivername.split("+")[0]

    def render(self, *, hide_password: bool) -> str:
        text = self.drivername + "://"
        if self.username is not None:
            text += quote(self.username, safe=" +")
            if self.password is not None:
                text += ":" + ("***" if hide_password else quote(self.password, safe=" +"))
            text += "@"
        if self.host is not None:
            text += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            text += f":{self.port}"
        if self.database is not None:
            text += "/" + quote(self.database, safe=" +/")
        if self.query:
            text += "?" + "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in self.query)
        return text


def _split(url: str) -> _Url:
    match = _URL.match(url)
    port = match["port"] if match else None
    if match is None or (port and not port.isdigit()):
        raise ValueError(
            "GATEWAY_DATABASE_URL is not a database URL: "
            "Could not parse SQLAlchemy URL from given URL string"
        )
    username, password, database = (
        None if match[part] is None else unquote(match[part])
        for part in ("username", "password", "database")
    )
    # Sorted by key, repeated keys in their order: as SQLAlchemy renders them.
    pairs = parse_qsl(match["query"]) if match["query"] is not None else []
    query = tuple(sorted(pairs, key=lambda pair: pair[0]))
    return _Url(
        drivername=match["drivername"],
        username=username,
        password=password,
        host=match["ipv4host"] or match["ipv6host"],
        port=int(port) if port else None,
        database=database,
        query=query,
    )


def _parse(url: str) -> _Url:
    parsed = _split(url.replace("postgres://", "postgresql://", 1))
    backend = parsed.backend
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
    return _parse(url).backend == "sqlite"


def sqlite_path(url: str) -> Path:
    database = _parse(url).database
    assert database is not None  # _parse refuses URLs without one
    return Path(database)


def postgres_dsn(url: str) -> str:
    """The URL as asyncpg's ``connect`` takes it (no SQLAlchemy driver suffix)."""
    return replace(_parse(url), drivername="postgresql").render(hide_password=False)


def alembic_url(url: str) -> str:
    """The URL for Alembic's SQLAlchemy engine: stdlib ``sqlite3``, or asyncpg."""
    parsed = _parse(url)
    driver = "sqlite" if parsed.backend == "sqlite" else "postgresql+asyncpg"
    return replace(parsed, drivername=driver).render(hide_password=False)


def redacted(url: str) -> str:
    """The URL with its password hidden, for messages."""
    return _parse(url).render(hide_password=True)

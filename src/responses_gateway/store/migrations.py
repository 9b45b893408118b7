"""Alembic, wherever the package is installed: ``migrate`` runs before serving (or on its own).

Alembic and SQLAlchemy cost a process 22 MB of RSS (measured: 11 MB each, imported after the
gateway's own modules) that it never gives back. ``serve`` therefore reads the schema's revision
with the gateway's own driver and compares it with the scripts' head, read from the script files;
only when they differ does it run ``responses-gateway migrate``, in a child process.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from responses_gateway.errors import StoreUnavailable
from responses_gateway.store.database import Database, Query, SqliteDatabase, open_database
from responses_gateway.store.urls import is_sqlite, sqlite_path

if TYPE_CHECKING:
    from alembic.config import Config

_REVISION_LINE = re.compile(r"^(down_revision|revision)\b[^=\n]*=(.*)$", re.M)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


def _alembic_paths() -> tuple[Path, Path]:
    """The packaged copies (wheel) first, else the checkout's (editable install, Docker)."""
    package = Path(__file__).resolve().parent.parent
    for root in (package, package.parent.parent):
        if (root / "migrations" / "env.py").exists():
            ini = root / "alembic.ini"
            return ini, root / "migrations"
    raise RuntimeError("migrations/ not found next to the package or in the checkout")


def alembic_config(url: str) -> Config:
    """Alembic's config for ``url``, with the scripts found wherever the package is installed."""
    from alembic.config import Config

    ini, scripts = _alembic_paths()
    config = Config(str(ini)) if ini.exists() else Config()
    config.set_main_option("script_location", str(scripts))
    config.attributes["database_url"] = url
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (blocking; run it before serving)."""
    from alembic import command

    if is_sqlite(url):
        sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def migrate_if_behind(url: str) -> None:
    """What ``migrate(url)`` does, but Alembic only runs (in a child process, so that this one
    never imports it) when the schema is not at the scripts' head: not migrated, older, or at a
    revision these scripts do not know (then Alembic's own error stops the start)."""
    if asyncio.run(_revision_of(url)) == head_revision():
        return
    child = [sys.executable, "-m", "responses_gateway", "migrate"]
    done = subprocess.run(child, env=dict(os.environ, GATEWAY_DATABASE_URL=url), check=False)
    if done.returncode != 0:
        raise SystemExit(f"responses-gateway migrate failed (exit status {done.returncode})")


async def _revision_of(url: str) -> str | None:
    if is_sqlite(url) and not sqlite_path(url).exists():
        return None
    database = await open_database(url, pool_size=1)
    try:
        return await schema_revision(database)
    finally:
        await database.close()


def head_revision() -> str | None:
    """The newest revision of the scripts: the one no other script names as its
    ``down_revision`` (read from the files: Alembic's ``ScriptDirectory`` would import Alembic).
    ``None`` if there are no scripts; an error for several heads, which Alembic refuses too."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (_alembic_paths()[1] / "versions").glob("*.py"):
        for name, value in _REVISION_LINE.findall(script.read_text(encoding="utf-8")):
            (revisions if name == "revision" else parents).update(_QUOTED.findall(value))
    heads = revisions - parents
    if len(heads) > 1:
        raise RuntimeError(f"the migration scripts have several heads: {sorted(heads)}")
    return next(iter(heads), None)


_REVISION = Query("SELECT version_num FROM alembic_version")
# Asked first, so that a database never migrated is an answer, not a logged database error.
_SQLITE_VERSIONED = Query("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'")
_POSTGRES_VERSIONED = Query("SELECT 1 WHERE to_regclass('alembic_version') IS NOT NULL")


async def schema_revision(database: Database) -> str | None:
    """The revision the database is at; ``None`` when it was never migrated."""
    versioned = _SQLITE_VERSIONED if isinstance(database, SqliteDatabase) else _POSTGRES_VERSIONED
    try:
        if not await database.fetch(versioned, {}):
            return None
        rows = await database.fetch(_REVISION, {})
    except StoreUnavailable:  # no alembic_version table yet
        return None
    return str(rows[0][0]) if rows else None

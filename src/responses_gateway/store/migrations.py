"""Alembic, wherever the package is installed: ``migrate`` runs before serving (or on its own)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from responses_gateway.errors import StoreUnavailable
from responses_gateway.store.database import Database, Query
from responses_gateway.store.urls import is_sqlite, sqlite_path


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
    ini, scripts = _alembic_paths()
    config = Config(str(ini)) if ini.exists() else Config()
    config.set_main_option("script_location", str(scripts))
    config.attributes["database_url"] = url
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (blocking; run it before serving)."""
    if is_sqlite(url):
        sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite:///unused.db")).get_current_head()


_REVISION = Query("SELECT version_num FROM alembic_version")


async def schema_revision(database: Database) -> str | None:
    """The revision the database is at; ``None`` when it was never migrated."""
    try:
        rows = await database.fetch(_REVISION, {})
    except StoreUnavailable:  # no alembic_version table yet
        return None
    return str(rows[0][0]) if rows else None

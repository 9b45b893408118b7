"""Settings: parsed from the environment, and every one of them documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from responses_gateway.config import Settings
from responses_gateway.store.urls import alembic_url, postgres_dsn, redacted, sqlite_path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_in_the_readme_table() -> None:
    text = README.read_text()
    missing = [
        f"GATEWAY_{name.upper()}"
        for name in Settings.model_fields
        if f"| `GATEWAY_{name.upper()}` |" not in text
    ]
    assert missing == []


def test_lists_and_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_API_KEYS", " a, b ,,c")
    monkeypatch.setenv("GATEWAY_MCP_ALLOWED_HOSTS", "mcp.example.com")
    monkeypatch.setenv("GATEWAY_UPSTREAM_API_KEY", "sk-secret")
    settings = Settings()
    assert settings.api_keys == ["a", "b", "c"]
    assert settings.mcp_allowed_hosts == ["mcp.example.com"]
    assert "sk-secret" not in repr(settings)
    assert settings.upstream_api_key is not None
    assert settings.upstream_api_key.get_secret_value() == "sk-secret"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://root@localhost/db", "only sqlite:// and postgresql://"),
        ("sqlite:///:memory:", "in-memory SQLite"),
        ("sqlite://", "in-memory SQLite"),
        ("not a url", "not a database URL"),
    ],
)
def test_unusable_database_urls_are_refused_at_startup(url: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        Settings(database_url=url)


def test_database_url_spellings() -> None:
    for url in ("postgres://u:p@db:5433/g", "postgresql://u:p@db:5433/g"):
        assert postgres_dsn(Settings(database_url=url).database_url) == "postgresql://u:p@db:5433/g"
    assert alembic_url("postgresql://u:p@db/g") == "postgresql+asyncpg://u:p@db/g"
    assert alembic_url("sqlite+aiosqlite:///./x.db") == "sqlite:///./x.db"
    assert str(sqlite_path("sqlite:////var/lib/gateway.db")) == "/var/lib/gateway.db"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:p@db:5433/g",
        "postgresql+asyncpg://user:p%40ss%2Fw@[::1]:5432/my%20db?sslmode=require&b=2&a=1&a=0",
        "postgresql://u@/g?host=/var/run/postgresql",
        "postgresql://db/g",
        "sqlite+aiosqlite:///./x.db?mode=rwc",
        "sqlite:////var/lib/gate way.db",
    ],
)
def test_urls_are_read_and_written_as_sqlalchemy_does(url: str) -> None:
    """``store/urls.py`` parses URLs itself (SQLAlchemy stays off the serving process)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    driver = "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql+asyncpg"
    assert alembic_url(url) == parsed.set(drivername=driver).render_as_string(hide_password=False)
    assert redacted(url) == parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite":
        assert sqlite_path(url) == Path(str(parsed.database))
    else:
        expected = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        assert postgres_dsn(url) == expected

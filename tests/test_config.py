"""Settings: parsed from the environment, and every one of them documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from responses_gateway.config import Settings

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

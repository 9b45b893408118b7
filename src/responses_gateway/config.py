"""Settings read from the environment (prefix ``GATEWAY_``); passed in, never a global."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from responses_gateway.store.urls import check_url


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every knob of the gateway; the README's configuration table lists them all."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    upstream_url: str = "http://127.0.0.1:8000/v1"
    upstream_api_key: SecretStr | None = None
    # LLM calls are slow: a read timeout of httpx's default 5 s would cut real generations off.
    upstream_timeout: float = 600.0
    upstream_max_connections: int = 256
    upstream_connect_timeout: float = Field(default=10.0, gt=0)
    # Waiting for a free pooled connection (all GATEWAY_UPSTREAM_MAX_CONNECTIONS busy): then 503.
    upstream_pool_timeout: float = Field(default=30.0, gt=0)
    # One upstream call from start to last byte, whatever the reads (a per-read timeout alone
    # lets a server that trickles bytes hold a request forever).
    upstream_total_timeout: float = Field(default=1800.0, gt=0)
    # OpenAI's reasoning models want max_completion_tokens; vLLM, llama.cpp and Ollama know max_tokens.
    upstream_max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    # Past reasoning goes back on assistant messages: llama.cpp reads reasoning_content, vLLM
    # (since 0.11) and Ollama read reasoning; both by default.
    upstream_reasoning_replay: Literal["both", "reasoning_content", "reasoning", "off"] = "both"
    # System/developer messages after the start: Qwen's and Gemma's templates reject them.
    upstream_late_system: Literal["user", "system"] = "user"
    database_url: str = "sqlite:///./gateway.db"
    # PostgreSQL connections per process; each replica (and each --workers process) has its own.
    database_pool_size: int = Field(default=20, ge=1)
    # Recent chains kept in memory per process, so a chained turn skips the history query.
    history_cache_mb: int = Field(default=64, ge=0)
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: str = "warning"
    log_format: Literal["text", "json"] = "text"
    # Seconds a SIGTERM leaves requests in flight to finish before they are cancelled.
    shutdown_grace: float = Field(default=25.0, ge=0)
    # Stored responses older than this are removed for good; 0 keeps them forever.
    retention_days: float = Field(default=0.0, ge=0)
    retention_interval: float = Field(default=3600.0, gt=0)
    # Traces carry message content only when asked (prompts and answers are user data).
    otel_capture_content: bool = False

    # Hostile-input limits (api/limits.py, http_server.py; the README's "Limits" table).
    max_request_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    max_input_items: int = Field(default=10_000, ge=1)
    body_timeout: float = Field(default=60.0, gt=0)
    header_timeout: float = Field(default=10.0, gt=0)
    keep_alive_timeout: float = Field(default=5.0, gt=0)

    mcp_default_approval: Literal["always", "never"] = "never"
    max_tool_rounds: int = Field(default=16, ge=1)
    mcp_call_timeout: float = Field(default=60.0, gt=0)
    mcp_connect_timeout: float = Field(default=10.0, gt=0)
    mcp_list_timeout: float = Field(default=30.0, gt=0)
    mcp_max_output_bytes: int = Field(default=1024 * 1024, ge=1024)
    mcp_allow_private_networks: bool = False
    mcp_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Hosted tools (web_search, file_search, …) the gateway cannot run: left out or refused.
    # "omit" lets Codex's default config (which sends web_search) work.
    hosted_tools: Literal["omit", "reject"] = "omit"
    # A SearXNG-compatible JSON endpoint: web_search tools are then run by the gateway.
    web_search_url: str | None = None
    # Keys for sealed blobs (encrypted reasoning, compaction items); the first seals, all open.
    sealing_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    sealing_key_file: str = "./gateway.key"

    # WebSocket mode (GET /v1/responses upgraded): per-connection bounds.
    ws_max_lanes: int = Field(default=8, ge=1)
    ws_max_connection_seconds: float = Field(default=3600.0, gt=0)
    ws_send_buffer_kb: int = Field(default=4096, ge=16)

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        return check_url(value)

    @field_validator("api_keys", "mcp_allowed_hosts", "sealing_keys", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

"""One structured line per request from a real ``responses-gateway serve``; never a secret or
a message; and ``responses-gateway check`` for a first request that failed."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import orjson

from tests.conftest import TEST_SEALING_KEY
from tests.support.process import cli, gateway_process
from tests.support.upstream import Reply, ScriptedUpstream

SECRET = "sk-upstream-must-not-leak"


def _env(database_url: str, upstream: ScriptedUpstream, **extra: str) -> dict[str, str]:
    return {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_UPSTREAM_URL": upstream.base_url,
        "GATEWAY_UPSTREAM_API_KEY": SECRET,
        "GATEWAY_SEALING_KEYS": TEST_SEALING_KEY,
        **extra,
    }


def test_json_request_lines(database_url: str, upstream: ScriptedUpstream, tmp_path: Path) -> None:
    env = _env(database_url, upstream, GATEWAY_LOG_LEVEL="info", GATEWAY_LOG_FORMAT="json")
    with gateway_process(env, tmp_path / "log", "--no-migrate") as gateway:
        upstream.push(
            Reply(content="the secret answer", usage={"prompt_tokens": 9, "completion_tokens": 3})
        )
        client = openai.OpenAI(base_url=gateway.base_url, api_key="client-key", max_retries=0)
        created = client.responses.with_raw_response.create(
            model="log-model", input="a private question", extra_headers={"x-request-id": "trace-1"}
        )
        assert created.headers["x-request-id"] == "trace-1"
        response = created.parse()
        assert httpx.get(gateway.base_url + "/responses/nope").status_code == 404
        gateway.terminate()
        gateway.process.wait(timeout=30)
        log = gateway.log()
    lines = [orjson.loads(line) for line in log.splitlines() if line.startswith("{")]
    requests = [
        line
        for line in lines
        if line["logger"] == "responses_gateway.access" and line["route"] != "/healthz"
    ]
    assert len(requests) == 2
    first, second = requests
    assert first["request_id"] == "trace-1"
    assert first["route"] == "/v1/responses" and first["status"] == 200
    assert first["model"] == "log-model" and first["response_id"] == response.id
    assert (first["input_tokens"], first["output_tokens"]) == (9, 3)
    assert first["duration_ms"] > 0 and first["upstream_ms"] > 0
    assert second["status"] == 404 and second["route"] == "/v1/responses/{response_id}"
    assert second["request_id"].startswith("req_")
    for leaked in (
        SECRET,
        "client-key",
        "a private question",
        "the secret answer",
        TEST_SEALING_KEY,
    ):
        assert leaked not in log


def test_check_reports_what_works(database_url: str, upstream: ScriptedUpstream) -> None:
    good = cli("check", env=_env(database_url, upstream))
    assert good.returncode == 0, good.stdout + good.stderr
    assert "ok    database" in good.stdout and "ok    upstream GET" in good.stdout
    assert "scripted" in good.stdout  # the model list
    bad = cli(
        "check", env=_env(database_url, upstream, GATEWAY_UPSTREAM_URL="http://127.0.0.1:9/v1")
    )
    assert bad.returncode == 1
    assert "FAIL  upstream GET http://127.0.0.1:9/v1/models" in bad.stdout
    assert SECRET not in bad.stdout + bad.stderr


def test_check_says_the_schema_needs_migrating(upstream: ScriptedUpstream, tmp_path: Path) -> None:
    env = _env(f"sqlite:///{tmp_path}/fresh.db", upstream)
    result = cli("check", env=env)
    assert result.returncode == 1
    assert "run migrate" in result.stdout

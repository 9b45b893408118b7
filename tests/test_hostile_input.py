"""Hostile and lax request bodies (issue 8's D1, D2, D4, D5, D18; issue 7's leniency), on SQLite and
PostgreSQL alike: a 400 naming the param before the model is called, never a 5xx, and explicit
``null`` meaning the default."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Gateway
from tests.support.checks import read_sse
from tests.support.database import read_database
from tests.support.upstream import ScriptedUpstream

MCP = {"type": "mcp", "server_label": "s", "server_url": "http://127.0.0.1:9/mcp"}


def _post(gateway: Gateway, body: Any) -> httpx.Response:
    return httpx.post(gateway.base_url + "/responses", json=body, timeout=30)


def _refused(gateway: Gateway, body: Any, param: str) -> dict[str, Any]:
    answer = _post(gateway, body)
    assert answer.status_code == 400, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param, error
    return error


BASE = {"model": "m", "input": "hi"}
NUL = "a\x00b"


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"model": NUL}, "model"),
        ({"previous_response_id": "resp_" + NUL}, "previous_response_id"),
        ({"input": [{"role": "user", "content": "x", "id": NUL}]}, "input[0].id"),
        ({"input": [{"type": "item_reference", "id": NUL}]}, "input[0].id"),
        (
            {
                "input": [
                    {
                        "type": "function_call",
                        "id": NUL,
                        "call_id": "c",
                        "name": "f",
                        "arguments": "{}",
                    }
                ]
            },
            "input[0].id",
        ),
    ],
)
def test_nul_in_a_stored_key_is_a_400_before_the_model(
    gateway: Gateway, upstream: ScriptedUpstream, extra: dict[str, Any], param: str
) -> None:
    """D1: PostgreSQL cannot store NUL in a column; both databases refuse it the same way."""
    error = _refused(gateway, BASE | extra, param)
    assert "NUL" in error["message"]
    assert upstream.requests == []


def test_nul_in_text_is_stored_faithfully(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    """D1: free text is stored JSON-escaped, so NUL in it round-trips on both databases."""
    body = BASE | {"input": "before\x00after", "metadata": {"k": "v\x00w"}, "instructions": NUL}
    created = _post(gateway, body)
    assert created.status_code == 200, created.text
    response_id = created.json()["id"]
    stored = httpx.get(f"{gateway.base_url}/responses/{response_id}").json()
    assert stored["metadata"] == {"k": "v\x00w"} and stored["instructions"] == NUL
    items = httpx.get(f"{gateway.base_url}/responses/{response_id}/input_items").json()
    assert items["data"][0]["content"][0]["text"] == "before\x00after"
    assert upstream.last["messages"][-1]["content"] == "before\x00after"


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"model": "m" * 257}, "model"),
        ({"model": ""}, "model"),
        ({"previous_response_id": "resp_" + "x" * 60}, "previous_response_id"),
        ({"input": [{"role": "user", "content": "x", "id": "msg_" + "x" * 61}]}, "input[0].id"),
        ({"input": [{"type": "item_reference", "id": "x" * 65}]}, "input[0].id"),
    ],
)
def test_strings_longer_than_their_column_are_a_400(
    gateway: Gateway, upstream: ScriptedUpstream, extra: dict[str, Any], param: str
) -> None:
    """D2: before the model runs, and never echoed back whole."""
    error = _refused(gateway, BASE | extra, param)
    assert len(error["message"]) < 200
    assert upstream.requests == []


def test_longest_accepted_strings_are_stored(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    item_id = "msg_" + "x" * 60
    body = {"model": "m" * 256, "input": [{"role": "user", "content": "x", "id": item_id}]}
    created = _post(gateway, body)
    assert created.status_code == 200, created.text
    rows = read_database(
        gateway.settings.database_url,
        "SELECT model FROM responses WHERE id = :id",
        id=created.json()["id"],
    )
    assert rows == [("m" * 256,)]


def test_unknown_previous_response_id_is_not_echoed_whole(gateway: Gateway) -> None:
    error = _refused(
        gateway, BASE | {"previous_response_id": "resp_" + "y" * 1_000_000}, "previous_response_id"
    )
    assert len(error["message"]) < 200


@pytest.mark.parametrize(
    ("fragment", "param"),
    [
        (f'"max_output_tokens": {2**64}', "max_output_tokens"),
        (f'"max_output_tokens": {10**40}', "max_output_tokens"),
        ('"max_output_tokens": 0', "max_output_tokens"),
        (f'"max_tool_calls": {2**63}', "max_tool_calls"),
        ('"top_logprobs": 21', "top_logprobs"),
        ('"temperature": 1e400', "temperature"),
        ('"top_p": -0.1', "top_p"),
        (
            f'"tools": [{{"type": "function", "name": "f", "parameters": {{"maximum": {2**70}}}}}]',
            "tools[0].parameters",
        ),
        (
            f'"text": {{"format": {{"type": "json_schema", "name": "n", "schema": {{"x": -{2**65}}}}}}}',
            "text.format.schema",
        ),
    ],
)
def test_numbers_are_bounded(
    gateway: Gateway, upstream: ScriptedUpstream, fragment: str, param: str
) -> None:
    """D4: integers beyond 64 bits and out-of-range numbers, streamed or not: a JSON 400."""
    for stream in ("false", "true"):
        raw = f'{{"model": "m", "input": "hi", "stream": {stream}, {fragment}}}'
        answer = httpx.post(
            gateway.base_url + "/responses",
            content=raw.encode(),
            headers={"content-type": "application/json"},
        )
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.json()["error"]["param"] == param
    assert upstream.requests == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stream", "yes"),
        ("store", "no"),
        ("store", 0),
        ("parallel_tool_calls", "false"),
        ("max_output_tokens", "5"),
        ("max_output_tokens", 5.5),
        ("temperature", "0.5"),
        ("model", 5),
    ],
)
def test_types_are_strict(
    gateway: Gateway, upstream: ScriptedUpstream, field: str, value: Any
) -> None:
    """D18: booleans are booleans; no quiet coercion that changes meaning."""
    _refused(gateway, BASE | {field: value}, field)
    assert upstream.requests == []


def test_explicit_null_means_the_default(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    """Issue 7: LlamaIndex sends every optional field, unset ones as null."""
    nulls = {
        name: None
        for name in (
            "include", "tools", "store", "stream", "parallel_tool_calls", "tool_choice",
            "previous_response_id", "instructions", "max_output_tokens", "temperature", "top_p",
            "metadata", "text", "reasoning", "truncation", "user", "background", "max_tool_calls",
            "top_logprobs", "service_tier", "prompt_cache_key", "safety_identifier",
        )
    }  # fmt: skip
    answer = _post(gateway, BASE | nulls)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["store"] is True and body["parallel_tool_calls"] is True
    assert body["tools"] == [] and body["tool_choice"] == "auto"
    assert httpx.get(f"{gateway.base_url}/responses/{body['id']}").status_code == 200
    nested = {
        "model": "m",
        "text": {"format": None},
        "input": [
            {
                "type": None,
                "role": "user",
                "content": [
                    {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": None}
                ],
            },
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "t", "annotations": None}],
            },
            {"type": "reasoning", "summary": None},
            {"role": "user", "content": "go"},
        ],
    }
    assert _post(gateway, nested).status_code == 200


@pytest.mark.parametrize(
    ("item", "param", "named"),
    [
        ({"type": "local_shell_call", "action": {}}, "input[0].type", "'local_shell_call'"),
        ({"type": "computer_call_output"}, "input[0].type", "'computer_call_output'"),
        ({"foo": 1}, "input[0].type", None),
        (
            {"role": "user", "content": [{"type": "input_audio", "data": "x"}]},
            "input[0].content[0].type",
            "'input_audio'",
        ),
    ],
)
def test_unknown_item_and_content_types_are_named(
    gateway: Gateway, item: dict[str, Any], param: str, named: str | None
) -> None:
    error = _refused(gateway, BASE | {"input": [item]}, param)
    if named is None:
        assert error["code"] == "missing_required_parameter"
    else:
        assert named in error["message"]


@pytest.mark.parametrize(
    ("error_value", "accepted"),
    [
        (5, False),
        ([1, 2], False),
        ({"type": "mcp_tool_execution_error", "content": [{"type": "text", "text": 7}]}, False),
        ({"type": "mcp_tool_execution_error", "content": [{"type": "text", "text": "boom"}]}, True),
        ({"type": "http_error", "code": 500, "message": "down"}, True),
        ("plain", True),
    ],
)
def test_mcp_call_error_is_typed(
    gateway: Gateway, upstream: ScriptedUpstream, error_value: Any, accepted: bool
) -> None:
    """D5: an ``mcp_call`` item passed back with an unexpected ``error`` is a 400, not a 500."""
    call = {
        "type": "mcp_call", "id": "mcp_1", "server_label": "s", "name": "t", "arguments": "{}",
        "output": None, "error": error_value,
    }  # fmt: skip
    answer = _post(gateway, BASE | {"input": [call, {"role": "user", "content": "next"}]})
    if accepted:
        assert answer.status_code == 200, answer.text
    else:
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["param"].startswith("input[0].error")


@pytest.mark.parametrize(
    ("tool", "param"),
    [
        (MCP | {"headers": {"X-Key": 1}}, "tools[0].headers.X-Key"),
        (MCP | {"server_label": 5}, "tools[0].server_label"),
        ({"type": "function", "name": "f", "strict": "yes"}, "tools[0].strict"),
        ({"type": "function"}, "tools[0].name"),
    ],
)
def test_a_bad_field_of_a_known_tool_is_named(
    gateway: Gateway, tool: dict[str, Any], param: str
) -> None:
    """Not the misleading "tools of type mcp are not supported" of a fallback branch."""
    error = _refused(gateway, BASE | {"tools": [tool]}, param)
    assert "not supported" not in error["message"]


@pytest.mark.parametrize("bad", ["resp_" + "z" * 100, "resp_%00x"])
def test_ids_in_paths_that_cannot_exist_are_404(gateway: Gateway, bad: str) -> None:
    for method, suffix in (
        ("GET", ""),
        ("DELETE", ""),
        ("GET", "/input_items"),
        ("POST", "/cancel"),
    ):
        answer = httpx.request(method, f"{gateway.base_url}/responses/{bad}{suffix}")
        assert answer.status_code == 404, (method, suffix, answer.text)
        assert len(answer.json()["error"]["message"]) < 200


def test_after_that_cannot_exist_is_a_400(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    response_id = _post(gateway, BASE).json()["id"]
    answer = httpx.get(
        f"{gateway.base_url}/responses/{response_id}/input_items", params={"after": "msg\x00"}
    )
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "after"


def test_a_refused_stream_never_starts(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    """D4: a stream always begins with response.created, or is refused as JSON first."""
    answer = _post(gateway, BASE | {"stream": True, "max_output_tokens": 2**64})
    assert answer.status_code == 400 and answer.headers["content-type"] == "application/json"
    with httpx.stream("POST", gateway.base_url + "/responses", json=BASE | {"stream": True}) as ok:
        events = read_sse(ok)
    assert events[0]["type"] == "response.created"
    assert events[-1]["type"] == "response.completed"


def test_an_item_id_left_empty_is_given_one(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    """Found by Schemathesis: a ``web_search_call`` passed back with ``"id": ""`` was a 500."""
    call = {"type": "web_search_call", "id": "", "status": "completed", "action": {}}
    answer = _post(gateway, BASE | {"input": [call, {"role": "user", "content": "next"}]})
    assert answer.status_code == 200, answer.text

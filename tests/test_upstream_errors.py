"""Upstream errors in each backend's dialect → OpenAI's envelope: context-length errors as
``context_length_exceeded``, numeric codes dropped, empty messages said plainly, rate-limit headers
passed on (to /v1/responses and the /v1/chat/completions pass-through)."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.conftest import Gateway
from tests.support.quirks import (
    EMPTY_MESSAGE,
    LLAMA_CPP_PYTHON_CONTEXT,
    LLAMA_SERVER_BAD_REQUEST,
    LLAMA_SERVER_CONTEXT,
    OPENAI_CONTEXT,
    RATE_LIMIT_HEADERS,
    RATE_LIMITED,
    VLLM_CONTEXT,
)
from tests.support.upstream import Reply, ScriptedUpstream
from tests.test_api_stream import START, stream_events

CONTEXT_ERRORS: dict[str, dict[str, Any]] = {
    "llama-server": LLAMA_SERVER_CONTEXT,
    "vllm": VLLM_CONTEXT,
    "openai": OPENAI_CONTEXT,
    "llama-cpp-python": LLAMA_CPP_PYTHON_CONTEXT,
}


def _message(body: dict[str, Any]) -> str:
    message: str = body.get("error", body)["message"]
    return message


@pytest.mark.parametrize("backend", CONTEXT_ERRORS)
def test_context_too_long_is_context_length_exceeded(
    gateway: Gateway, upstream: ScriptedUpstream, backend: str
) -> None:
    body = CONTEXT_ERRORS[backend]
    upstream.push(Reply(status=400, error=body))
    answer = httpx.post(gateway.base_url + "/responses", json={"model": "m", "input": "long"})
    assert answer.status_code == 400
    assert answer.json() == {
        "error": {
            "message": _message(body),
            "type": "invalid_request_error",
            "param": "input",
            "code": "context_length_exceeded",
        }
    }


def test_streamed_context_too_long_fails_with_context_length_exceeded(
    gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(status=400, error=LLAMA_SERVER_CONTEXT))
    events = stream_events(gateway, input="long")
    assert [event["type"] for event in events] == [*START, "response.failed"]
    assert events[-1]["response"]["error"] == {
        "code": "context_length_exceeded",
        "message": _message(LLAMA_SERVER_CONTEXT),
    }


def test_numeric_code_is_not_passed_as_a_string(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(status=400, error=LLAMA_SERVER_BAD_REQUEST))
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="m", input="hi")
    assert caught.value.body == {
        "message": "Invalid tool_choice: sometimes",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, EMPTY_MESSAGE), (500, {"error": {}}), (503, {"error": ""}), (502, {"detail": None})],
)
def test_empty_upstream_message_is_said_plainly(
    client: openai.OpenAI, upstream: ScriptedUpstream, status: int, body: dict[str, Any]
) -> None:
    upstream.push(Reply(status=status, error=body))
    with pytest.raises(openai.APIStatusError) as caught:
        client.responses.create(model="m", input="hi")
    assert caught.value.status_code == 502
    assert caught.value.body == {
        "message": f"The upstream model server answered HTTP {status} without an error message.",
        "type": "upstream_error",
        "param": None,
        "code": None,
    }


def test_fastapi_detail_list_is_json_not_a_python_repr(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    detail = [{"loc": ["body", "messages"], "msg": "Field required", "type": "missing"}]
    upstream.push(Reply(status=422, error={"detail": detail}))
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        client.responses.create(model="m", input="hi")
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["message"].startswith('[{"loc":["body","messages"]')


def test_rate_limit_headers_are_passed_on(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    upstream.push(RATE_LIMITED)
    answer = httpx.post(gateway.base_url + "/responses", json={"model": "m", "input": "hi"})
    assert answer.status_code == 429
    assert answer.json()["error"]["code"] == "rate_limit"
    for name, value in RATE_LIMIT_HEADERS.items():
        assert answer.headers[name] == value


def test_rate_limit_headers_are_passed_on_by_the_chat_pass_through(
    gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    upstream.push(RATE_LIMITED)
    answer = httpx.post(
        gateway.base_url + "/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert answer.status_code == 429
    for name, value in RATE_LIMIT_HEADERS.items():
        assert answer.headers[name] == value
    assert "sk-upstream-secret" not in str(answer.headers)

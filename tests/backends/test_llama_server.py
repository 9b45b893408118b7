"""The gateway in front of a real llama-server: create, chains, streams, ``max_output_tokens``,
``json_object``, a prompt longer than the context (JSON and streamed)."""

from __future__ import annotations

from typing import Any, TypedDict

import httpx
import openai
import orjson
import pytest
from openai.types.responses import Response

from tests.backends.conftest import MODEL
from tests.conftest import Gateway
from tests.support.checks import check_response, read_sse


class Greedy(TypedDict):
    """Typed so that ``**GREEDY`` is checked against the SDK's keyword arguments."""

    model: str
    temperature: float


class Capped(Greedy):
    """A greedy request with a prompt and an output cap."""

    input: str
    max_output_tokens: int


GREEDY: Greedy = {"model": MODEL, "temperature": 0}
TOO_LONG = "apple " * 5000  # ~5,000 tokens against a 4,096-token context


def test_create_is_completed_with_measured_usage(llama_gateway: Gateway) -> None:
    client = llama_gateway.client()
    response = client.responses.create(input="Say hello.", max_output_tokens=48, **GREEDY)
    assert response.status == "completed"
    assert response.output_text.strip()
    assert response.usage is not None
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    stored = client.responses.retrieve(response.id)
    assert stored.output_text == response.output_text and stored.usage == response.usage


def test_chain_sends_the_history(llama_gateway: Gateway) -> None:
    client = llama_gateway.client()
    first = client.responses.create(input="My name is Ada.", max_output_tokens=24, **GREEDY)
    second = client.responses.create(
        input="What is my name?",
        previous_response_id=first.id,
        max_output_tokens=24,
        **GREEDY,
    )
    assert second.status in ("completed", "incomplete") and second.output_text
    assert first.usage is not None and second.usage is not None
    # The second prompt holds the first turn (its question and answer) before its own.
    assert second.usage.input_tokens > first.usage.input_tokens + first.usage.output_tokens
    items = client.responses.input_items.list(second.id)
    assert [item.type for item in items.data] == ["message"]


def streamed(client: openai.OpenAI, **body: Any) -> tuple[list[str], Response]:
    """The text deltas and the terminal event's response (the SDK's helper wants completed)."""
    with client.responses.stream(**body) as stream:
        events = list(stream)
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    terminal = events[-1]
    assert terminal.type in ("response.completed", "response.incomplete")
    return deltas, terminal.response


def test_stream_matches_what_is_stored(llama_gateway: Gateway) -> None:
    client = llama_gateway.client()
    deltas, final = streamed(client, input="Count to three.", max_output_tokens=32, **GREEDY)
    assert final.status in ("completed", "incomplete")
    assert deltas and "".join(deltas) == final.output_text
    assert final.usage is not None and final.usage.output_tokens > 0  # llama-server reports it
    assert client.responses.retrieve(final.id).output_text == final.output_text


@pytest.mark.parametrize("stream", [False, True])
def test_max_output_tokens_ends_incomplete(llama_gateway: Gateway, stream: bool) -> None:
    client = llama_gateway.client()
    body: Capped = {"input": "Write a long story about a dragon.", "max_output_tokens": 5, **GREEDY}
    if stream:
        _, response = streamed(client, **body)
    else:
        response = client.responses.create(**body)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.usage is not None and response.usage.output_tokens == 5
    assert response.output[0].type == "message" and response.output[0].status == "incomplete"


def test_json_object_answers_json(llama_gateway: Gateway) -> None:
    client = llama_gateway.client()
    response = client.responses.create(
        input='Reply with a JSON object like {"city": "Paris"}.',
        text={"format": {"type": "json_object"}},
        max_output_tokens=64,
        **GREEDY,
    )
    assert response.status == "completed"
    assert isinstance(orjson.loads(response.output_text), dict)


def test_context_too_long_is_context_length_exceeded(llama_gateway: Gateway) -> None:
    answer = httpx.post(
        llama_gateway.base_url + "/responses", json={"input": TOO_LONG, **GREEDY}, timeout=120
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "context_length_exceeded" and error["param"] == "input"
    assert error["type"] == "invalid_request_error" and "context" in error["message"]


def test_streamed_context_too_long_fails_with_context_length_exceeded(
    llama_gateway: Gateway,
) -> None:
    with httpx.stream(
        "POST",
        llama_gateway.base_url + "/responses",
        json={"input": TOO_LONG, "stream": True, **GREEDY},
        timeout=120,
    ) as answer:
        events = read_sse(answer)
    failed = events[-1]["response"]
    assert events[-1]["type"] == "response.failed"
    assert failed["error"]["code"] == "context_length_exceeded"
    check_response(failed)

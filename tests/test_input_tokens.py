"""``POST /v1/responses/input_tokens`` through the official SDK: the count is the backend's, for
exactly the chat request a create would send (chain, conversation, instructions, tools), with
vLLM's and llama.cpp's tokenizers, and with a one-token completion elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from responses_gateway.app import create_app
from tests.conftest import Gateway, gateway_settings
from tests.support.serving import serve_in_thread
from tests.support.upstream import (
    Reply,
    ScriptedUpstream,
    render_template,
    scripted_token_count,
)

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture(params=["vllm", "llamacpp", "completion"])
def counting(
    request: pytest.FixtureRequest, database_url: str, upstream: ScriptedUpstream
) -> Iterator[tuple[str, openai.OpenAI]]:
    """A gateway of its own per backend kind (each process remembers how it counts)."""
    upstream.tokenizer = None if request.param == "completion" else request.param
    settings = gateway_settings(database_url, upstream.base_url)
    with serve_in_thread(create_app(settings)) as url:
        yield request.param, Gateway(url, settings).client()


def _expected(chat: dict[str, Any]) -> int:
    return scripted_token_count(render_template(chat["messages"], chat.get("tools")))


def test_the_count_is_of_what_a_create_sends(
    counting: tuple[str, openai.OpenAI], upstream: ScriptedUpstream
) -> None:
    kind, client = counting
    first = client.responses.create(model="m", input="My name is Ada.", instructions="Hi.")
    conversation = client.conversations.create(items=[{"role": "user", "content": "one two"}])
    for extra in (
        {"previous_response_id": first.id},
        {"conversation": conversation.id},
    ):
        arguments: dict[str, Any] = {
            "model": "m",
            "input": "What is my name?",
            "instructions": "Be brief.",
            "tools": [WEATHER],
            **extra,
        }
        upstream.push(Reply(content="x", usage={"prompt_tokens": 123, "completion_tokens": 1}))
        counted = client.responses.input_tokens.count(**arguments)
        if kind != "completion":
            assert len(upstream.tokenized) >= 1
        upstream.push(Reply(content="x"))
        client.responses.create(**arguments)
        sent = upstream.last
        assert counted.object == "response.input_tokens"
        if kind == "completion":
            assert counted.input_tokens == 123
            assert upstream.requests[-2]["max_tokens"] == 1
            assert upstream.requests[-2]["messages"] == sent["messages"]
        else:
            assert counted.input_tokens == _expected(sent)
            assert upstream.tokenized[-1][0] == "/tokenize"


def test_input_tokens_checks_like_create(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.input_tokens.count(model="m", input="x", previous_response_id="resp_x")
    assert caught.value.code == "previous_response_not_found"
    with pytest.raises(openai.NotFoundError):
        client.responses.input_tokens.count(model="m", input="x", conversation="conv_unknown")

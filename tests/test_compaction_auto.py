"""``context_management`` compaction and ``truncation: "auto"``, decided on the backend's own
token count (the scripted upstream's vLLM- and llama.cpp-style tokenizers)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from responses_gateway.app import create_app
from responses_gateway.chat.messages import COMPACTION_PREFIX
from responses_gateway.orchestrator.compaction_step import SUMMARY_PROMPT
from tests.conftest import Gateway, gateway_settings
from tests.support.serving import serve_in_thread
from tests.support.upstream import Reply, ScriptedUpstream

LONG = " ".join(["word"] * 450)
MORE = "And now? " + " ".join(["more"] * 200)
MANAGED = [{"type": "compaction", "compact_threshold": 1000}]


def _sent(upstream: ScriptedUpstream) -> list[tuple[str, object]]:
    return [(m["role"], m["content"]) for m in upstream.last["messages"]]


@pytest.fixture
def fresh(database_url: str, upstream: ScriptedUpstream) -> Iterator[openai.OpenAI]:
    """A gateway of its own: a process remembers how its backend counts."""
    settings = gateway_settings(database_url, upstream.base_url)
    with serve_in_thread(create_app(settings)) as url:
        yield Gateway(url, settings).client()


def test_over_the_threshold_the_response_compacts_first(
    fresh: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    client = fresh
    upstream.tokenizer = "vllm"
    upstream.push(Reply(content="ok"), Reply(content="ok"))
    first = client.responses.create(model="m", input=LONG, context_management=MANAGED)  # type: ignore[arg-type]
    assert [item.type for item in first.output] == ["message"]  # ~450 tokens: under 1000
    second = client.responses.create(
        model="m",
        input=LONG,
        previous_response_id=first.id,
        context_management=MANAGED,  # type: ignore[arg-type]
    )
    assert [item.type for item in second.output] == ["message"]  # ~905: still under
    upstream.push(Reply(content="All about words."), Reply(content="Words, indeed."))
    with client.responses.stream(
        model="m",
        input=MORE,
        previous_response_id=second.id,
        context_management=MANAGED,  # type: ignore[arg-type]
    ) as stream:
        kinds = [event.type for event in stream]
        third = stream.get_final_response()
    assert kinds[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.compaction.compacting",
        "response.output_item.done",
    ]
    assert [item.type for item in third.output] == ["compaction", "message"]
    assert upstream.requests[-2]["messages"][-1]["content"] == SUMMARY_PROMPT
    summary = ("user", COMPACTION_PREFIX + "All about words.")
    assert _sent(upstream) == [summary, ("user", MORE)]
    assert third.usage is not None and third.usage.input_tokens == 22  # both calls' usage
    client.responses.create(model="m", input="Last one.", previous_response_id=third.id)
    assert _sent(upstream) == [summary, ("assistant", "Words, indeed."), ("user", "Last one.")]


def test_context_management_is_checked(gateway: Gateway) -> None:
    for value, param in [
        ([{"type": "other"}], "context_management[0].type"),
        ([{"type": "compaction"}], "context_management[0].compact_threshold"),
        (
            [{"type": "compaction", "compact_threshold": 10}],
            "context_management[0].compact_threshold",
        ),
        ({"type": "compaction"}, "context_management"),
    ]:
        answer = httpx.post(
            f"{gateway.base_url}/responses",
            json={"model": "m", "input": "x", "context_management": value},
        )
        assert answer.status_code == 400, value
        assert answer.json()["error"]["param"] == param


@pytest.fixture(params=["setting", "llama.cpp /v1/models", "vLLM /v1/models"])
def small_window(
    request: pytest.FixtureRequest, database_url: str, upstream: ScriptedUpstream
) -> Iterator[openai.OpenAI]:
    """A 1000-token window, from the setting or from the backend's model list."""
    upstream.tokenizer = "llamacpp"  # its /tokenize reports no window
    overrides = {}
    if request.param == "setting":
        overrides["context_window"] = 1000
    elif request.param.startswith("llama.cpp"):
        upstream.models = [{"id": "m", "object": "model", "meta": {"n_ctx_train": 1000}}]
    else:
        upstream.models = [{"id": "m", "object": "model", "max_model_len": 1000}]
    settings = gateway_settings(database_url, upstream.base_url, **overrides)
    with serve_in_thread(create_app(settings)) as url:
        yield Gateway(url, settings).client()


def test_truncation_auto_drops_the_oldest_turns(
    small_window: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    client = small_window
    previous = None
    for n in range(4):  # four turns of ~300 tokens each
        previous = client.responses.create(
            model="m", input=f"turn{n} " + " ".join(["w"] * 300), previous_response_id=previous
        ).id
    client.responses.create(
        model="m", input="last", previous_response_id=previous, truncation="auto"
    )
    users = [m["content"].split()[0] for m in upstream.last["messages"] if m["role"] == "user"]
    assert users == ["turn1", "turn2", "turn3", "last"][-len(users) :]
    assert "turn0" not in users and len(users) >= 2
    counted = client.responses.input_tokens.count(
        model="m", input="last", previous_response_id=previous, truncation="auto"
    )
    assert counted.input_tokens <= 1000
    # Nothing stored was dropped: without truncation the whole chain is sent.
    client.responses.create(model="m", input="again", previous_response_id=previous)
    firsts = [m["content"].split()[0] for m in upstream.last["messages"] if m["role"] == "user"]
    assert firsts[0] == "turn0"


def test_truncation_auto_without_a_window_is_a_400(
    database_url: str, upstream: ScriptedUpstream
) -> None:
    """A fresh process, a backend that reports no window (no tokenizer either) and no setting."""
    settings = gateway_settings(database_url, upstream.base_url)
    with serve_in_thread(create_app(settings)) as url:
        client = Gateway(url, settings).client()
        with pytest.raises(openai.BadRequestError) as caught:
            client.responses.create(model="m", input="x", truncation="auto")
    assert caught.value.body["param"] == "truncation"  # type: ignore[index]

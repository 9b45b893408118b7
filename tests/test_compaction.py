"""``POST /v1/responses/compact`` through the official SDK, and compaction items on input: the
model sees the summary in place of everything before the item, in a chain too."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai.types.responses import (
    ResponseCompactionItem,
    ResponseInputParam,
    ResponseOutputMessage,
    ResponseOutputText,
)

from responses_gateway.app import create_app
from responses_gateway.chat.messages import COMPACTION_PREFIX
from responses_gateway.orchestrator.compaction_step import SUMMARY_PROMPT
from responses_gateway.sealing import Sealer
from responses_gateway.store.database import Database
from responses_gateway.store.responses import ResponseStore
from tests.conftest import TEST_SEALING_KEY, Gateway, gateway_settings
from tests.support.database import with_database
from tests.support.sdk_streams import error_param, narrowed
from tests.support.serving import serve_in_thread
from tests.support.upstream import Reply, ScriptedUpstream

CONVERSATION: ResponseInputParam = [
    {"role": "user", "content": "We launch on Tuesday."},
    {"role": "assistant", "content": "Noted: Tuesday."},
    {"role": "user", "content": "Tell support first."},
]


def _sent(upstream: ScriptedUpstream) -> list[tuple[str, object]]:
    return [(m["role"], m["content"]) for m in upstream.last["messages"]]


def _text(message: ResponseOutputMessage) -> str:
    part = message.content[0]
    assert isinstance(part, ResponseOutputText), part  # how the SDK reads a user's text part too
    return part.text


def test_compact_summarizes_with_one_call(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="<think>hm</think>Launch Tuesday; tell support first."))
    compacted = client.responses.compact(
        model="m", input=CONVERSATION, instructions="Be brief.", prompt_cache_key="k"
    )
    assert len(upstream.requests) == 1
    assert _sent(upstream) == [
        ("system", "Be brief."),
        ("user", "We launch on Tuesday."),
        ("assistant", "Noted: Tuesday."),
        ("user", "Tell support first."),
        ("user", SUMMARY_PROMPT),
    ]
    assert compacted.object == "response.compaction"
    assert [item.type for item in compacted.output] == ["message", "message", "compaction"]
    # The SDK has one model for an output message, whose role it types as "assistant"; the
    # compacted output's messages are the user's.
    assert [narrowed(item, ResponseOutputMessage).role for item in compacted.output[:2]] == [
        "user",
        "user",
    ]
    compaction = narrowed(compacted.output[-1], ResponseCompactionItem)
    assert compaction.id.startswith("cmp_")
    blob = compaction.encrypted_content
    assert "Tuesday" not in blob
    payload = Sealer.from_texts([TEST_SEALING_KEY]).open("compaction", blob)
    assert payload is not None and payload["summary"] == "Launch Tuesday; tell support first."
    assert compacted.usage.input_tokens == 11 and compacted.usage.total_tokens == 18

    # Passed back: the model sees the summary and what follows, nothing before it.
    client.responses.create(
        model="m",
        # The output items go back as the SDK returned them, its models: the SDK's input type
        # lists only its TypedDicts, though it sends its models just as well.
        input=[*compacted.output, {"role": "user", "content": "When do we launch?"}],  # type: ignore[list-item]
    )
    assert _sent(upstream) == [
        ("user", COMPACTION_PREFIX + "Launch Tuesday; tell support first."),
        ("user", "When do we launch?"),
    ]


def test_compact_a_stored_chain(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(content="one"), Reply(content="two"), Reply(content="The summary."))
    first = client.responses.create(model="m", input="first")
    second = client.responses.create(model="m", input="second", previous_response_id=first.id)
    compacted = client.responses.compact(model="m", previous_response_id=second.id, input="third")
    assert [m for m in _sent(upstream)][:-1] == [
        ("user", "first"),
        ("assistant", "one"),
        ("user", "second"),
        ("assistant", "two"),
        ("user", "third"),
    ]
    texts = [_text(narrowed(item, ResponseOutputMessage)) for item in compacted.output[:-1]]
    assert texts == ["first", "second", "third"]
    # A chain continues from a compaction it was given: later turns start at the summary.
    # The compaction goes back as the SDK's model of it, which its input type does not list.
    summary = narrowed(compacted.output[-1], ResponseCompactionItem)
    after = client.responses.create(model="m", input=[summary])  # type: ignore[list-item]
    client.responses.create(model="m", input="next", previous_response_id=after.id)
    assert _sent(upstream)[0] == ("user", COMPACTION_PREFIX + "The summary.")
    assert [role for role, _ in _sent(upstream)] == ["user", "assistant", "user"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.compact(model="m", previous_response_id="resp_unknown")
    assert caught.value.code == "previous_response_not_found"


def test_compact_needs_a_model(gateway: Gateway) -> None:
    answer = httpx.post(
        f"{gateway.base_url}/responses/compact",
        json={"input": [{"type": "message", "role": "user", "content": "Compact this."}]},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "model"


def test_a_foreign_blob_is_refused_by_name(client: openai.OpenAI, gateway: Gateway) -> None:
    foreign = {"type": "compaction", "id": "cmp_1", "encrypted_content": "gAAAAABo-openai-blob"}
    for path in ("/responses", "/responses/compact"):
        answer = httpx.post(f"{gateway.base_url}{path}", json={"model": "m", "input": [foreign]})
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["param"] == "input[0].encrypted_content"
        assert "not created by this gateway" in error["message"]


def test_compaction_trigger_compacts_as_the_response(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="one"), Reply(content="two"), Reply(content="Short summary."))
    first = client.responses.create(model="m", input="first")
    second = client.responses.create(model="m", input="second", previous_response_id=first.id)
    with client.responses.stream(
        model="m",
        previous_response_id=second.id,
        input=[{"type": "compaction_trigger"}],
    ) as stream:
        kinds = [event.type for event in stream]
        compacted = stream.get_final_response()
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.compaction.compacting",
        "response.output_item.done",
        "response.completed",
    ]
    assert [item.type for item in compacted.output] == ["compaction"]
    assert "summary" not in compacted.output[0].model_dump()
    assert _sent(upstream)[-1] == ("user", SUMMARY_PROMPT)
    assert [role for role, _ in _sent(upstream)[:-1]] == ["user", "assistant"] * 2
    # The chain continues from the compaction, from memory and from the database alike.
    stored = client.responses.retrieve(compacted.id)
    assert stored.output[0].model_dump() == compacted.output[0].model_dump()
    third = client.responses.create(model="m", input="third", previous_response_id=compacted.id)
    assert _sent(upstream) == [
        ("user", COMPACTION_PREFIX + "Short summary."),
        ("user", "third"),
    ]
    client.responses.create(model="m", input="fourth", previous_response_id=third.id)
    assert [content for _, content in _sent(upstream)][0] == COMPACTION_PREFIX + "Short summary."
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            model="m",
            input=[{"type": "compaction_trigger"}, {"role": "user", "content": "x"}],
        )
    assert error_param(caught.value) == "input[0]"


def test_the_history_query_stops_at_the_compaction(
    upstream: ScriptedUpstream, database_url: str
) -> None:
    """Uncached (every turn reads its history from the database): the turns before a
    compaction are neither read nor sent, and the stored compaction is opened again."""
    settings = gateway_settings(database_url, upstream.base_url, history_cache_mb=0)
    with serve_in_thread(create_app(settings)) as url:
        _compacted_chain(Gateway(url, settings).client(), upstream, database_url)


def _compacted_chain(client: openai.OpenAI, upstream: ScriptedUpstream, database_url: str) -> None:
    previous = None
    for text in ("a", "b", "c"):
        previous = client.responses.create(model="m", input=text, previous_response_id=previous).id
    upstream.push(Reply(content="Summary of a, b, c."))
    compacted = client.responses.create(
        model="m",
        previous_response_id=previous,
        input=[{"type": "compaction_trigger"}],
    )
    after = client.responses.create(model="m", input="d", previous_response_id=compacted.id)
    assert _sent(upstream) == [("user", COMPACTION_PREFIX + "Summary of a, b, c."), ("user", "d")]

    async def read(database: Database) -> list[int]:
        found = await ResponseStore(database).history("", after.id)
        assert found is not None
        return [len(turn) for turn in found[0]]

    assert with_database(database_url, read) == [2, 2]  # the compacting turn, then "d"

"""``POST /v1/responses/compact`` through the official SDK, and compaction items on input: the
model sees the summary in place of everything before the item, in a chain too."""

from __future__ import annotations

import httpx
import openai
import pytest

from responses_gateway.chat.messages import COMPACTION_PREFIX
from responses_gateway.sealing import Sealer
from responses_gateway.service.compaction import SUMMARY_PROMPT
from tests.conftest import TEST_SEALING_KEY, Gateway
from tests.support.upstream import Reply, ScriptedUpstream

CONVERSATION = [
    {"role": "user", "content": "We launch on Tuesday."},
    {"role": "assistant", "content": "Noted: Tuesday."},
    {"role": "user", "content": "Tell support first."},
]


def _sent(upstream: ScriptedUpstream) -> list[tuple[str, object]]:
    return [(m["role"], m["content"]) for m in upstream.last["messages"]]


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
    assert [item.role for item in compacted.output[:2]] == ["user", "user"]  # type: ignore[union-attr]
    compaction = compacted.output[-1]
    assert compaction.id.startswith("cmp_")  # type: ignore[union-attr]
    blob = compaction.encrypted_content  # type: ignore[union-attr]
    assert "Tuesday" not in blob
    payload = Sealer.from_texts([TEST_SEALING_KEY]).open("compaction", blob)
    assert payload is not None and payload["summary"] == "Launch Tuesday; tell support first."
    assert compacted.usage.input_tokens == 11 and compacted.usage.total_tokens == 18

    # Passed back: the model sees the summary and what follows, nothing before it.
    client.responses.create(
        model="m",
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
    texts = [item.content[0].text for item in compacted.output[:-1]]  # type: ignore[union-attr]
    assert texts == ["first", "second", "third"]
    # A chain continues from a compaction it was given: later turns start at the summary.
    after = client.responses.create(model="m", input=[compacted.output[-1]])  # type: ignore[list-item]
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

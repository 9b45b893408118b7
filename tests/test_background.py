"""``background: true`` on one gateway, SQLite and PostgreSQL: queued at once, run to the end,
retrieved while running, resumed as a stream, cancelled, chained, with MCP tools."""

from __future__ import annotations

from typing import TypedDict

import httpx
import openai
import orjson
import pytest
from openai.types.responses import (
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseInputMessageItem,
    ResponseInputText,
)
from openai.types.responses.response_output_item import McpCall
from openai.types.responses.tool_param import Mcp

from tests.conftest import Gateway
from tests.support.background import TERMINAL, eventually, resumed_events, settled
from tests.support.checks import check_response
from tests.support.mcp_servers import McpTestServers
from tests.support.sdk_streams import error_param, output_item
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall


class Pace(TypedDict):
    """Typed so that ``**SLOW`` is checked against ``Reply``'s fields."""

    chunk_size: int
    chunk_delay: float


SLOW: Pace = {"chunk_size": 4, "chunk_delay": 0.02}  # ~200 chunks: a run that lasts a few seconds


def test_background_needs_store(gateway: Gateway) -> None:
    answer = httpx.post(
        gateway.base_url + "/responses",
        json={"model": "m", "input": "x", "background": True, "store": False},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "background"


def test_create_answers_queued_and_the_run_completes(
    client: openai.OpenAI, gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="Done in the background."))
    raw = httpx.post(
        gateway.base_url + "/responses", json={"model": "m", "input": "go", "background": True}
    )
    assert raw.status_code == 200
    queued = raw.json()
    check_response(queued)
    assert queued["status"] == "queued" and queued["background"] is True
    assert queued["output"] == [] and queued["usage"] is None
    final = settled(client, queued["id"])
    assert final.status == "completed" and final.background is True
    assert final.output_text == "Done in the background."
    assert final.usage is not None and final.usage.total_tokens == 18
    check_response(httpx.get(f"{gateway.base_url}/responses/{final.id}").json())
    (item,) = client.responses.input_items.list(final.id).data
    assert isinstance(item, ResponseInputMessageItem)
    part = item.content[0]
    assert isinstance(part, ResponseInputText) and part.text == "go"


def test_streamed_create_starts_with_created_and_queued(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="Streaming from a background run."))
    events = list(client.responses.create(model="m", input="go", background=True, stream=True))
    types = [event.type for event in events]
    assert types[:3] == ["response.created", "response.queued", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    created, completed = events[0], events[-1]
    assert isinstance(created, ResponseCreatedEvent) and created.response.status == "queued"
    assert isinstance(completed, ResponseCompletedEvent)
    assert completed.response.output_text == "Streaming from a background run."


def test_the_sdk_stream_helper_reads_a_background_run(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="Helper-friendly."))
    with client.responses.stream(model="m", input="go", background=True) as stream:
        final = stream.get_final_response()
    assert final.output_text == "Helper-friendly." and final.status == "completed"
    upstream.push(Reply(content="Resumed by the helper.", **SLOW))
    queued = client.responses.create(model="m", input="again", background=True)
    with client.responses.stream(response_id=queued.id, starting_after=2) as resumed:
        seen = [event.sequence_number for event in resumed]
        final = resumed.get_final_response()
    assert seen[0] == 3 and final.output_text == "Resumed by the helper."


def test_resume_replays_after_n_and_follows_the_live_run(
    client: openai.OpenAI, gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="one two three four five six seven eight " * 5, **SLOW))
    queued = client.responses.create(model="m", input="go", background=True)
    whole = resumed_events(gateway.base_url, queued.id)
    assert whole[-1]["type"] == "response.completed"
    later = resumed_events(gateway.base_url, queued.id, after=5)
    assert later == whole[6:]
    final = client.responses.retrieve(queued.id)
    assert whole[-1]["response"]["output"][0]["id"] == final.output[0].id


def test_leaving_the_stream_does_not_stop_the_run(
    client: openai.OpenAI, gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="keeps going " * 30, **SLOW))
    body = {"model": "m", "input": "go", "background": True, "stream": True}
    response_id = None
    with httpx.stream("POST", gateway.base_url + "/responses", json=body) as answer:
        for line in answer.iter_lines():
            if line.startswith("data: {") and response_id is None:
                response_id = orjson.loads(line[6:])["response"]["id"]
            if "output_text.delta" in line:
                break
    assert response_id is not None
    final = settled(client, response_id)
    assert final.status == "completed" and not upstream.cancelled.is_set()
    assert final.output_text == "keeps going " * 30


def test_retrieve_shows_progress_while_running(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(reasoning="Thinking first.", content="slow answer " * 40, **SLOW))
    queued = client.responses.create(model="m", input="go", background=True)

    def reasoning_done() -> openai.types.responses.Response | None:
        response = client.responses.retrieve(queued.id)
        return response if response.output else None

    running = eventually(reasoning_done, "the reasoning item to finish")
    assert running.status == "in_progress"
    assert [item.type for item in running.output] == ["reasoning"]  # the message is not done
    final = settled(client, queued.id)
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.output[0].id == running.output[0].id


def test_cancel_stops_the_upstream_and_keeps_finished_items(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(reasoning="Plan.", content="never finished " * 200, **SLOW))
    queued = client.responses.create(model="m", input="go", background=True)
    eventually(lambda: client.responses.retrieve(queued.id).output or None, "a finished item")
    cancelled = client.responses.cancel(queued.id)
    assert cancelled.status == "cancelled" and cancelled.background is True
    assert [item.type for item in cancelled.output] == ["reasoning"]
    assert upstream.cancelled.wait(5), "the upstream call went on after the cancel"
    again = client.responses.cancel(queued.id)
    assert again.model_dump() == cancelled.model_dump()
    assert client.responses.retrieve(queued.id).model_dump() == cancelled.model_dump()
    assert resumed_events_end(client, queued.id) == "response.failed"


def resumed_events_end(client: openai.OpenAI, response_id: str) -> str:
    events = resumed_events(str(client.base_url).rstrip("/"), response_id)
    assert events[-1]["response"]["status"] == "cancelled"
    return str(events[-1]["type"])


def test_cancel_right_after_create(
    client: openai.OpenAI, gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    # The cancel may find it queued or running (waiting for the upstream's first byte); either
    # way it ends cancelled with no output. (A job surely queued: test_background_leases.py.)
    upstream.push(Reply(content="x " * 200, delay=2))
    queued = client.responses.create(model="m", input="go", background=True)
    cancelled = client.responses.cancel(queued.id)
    assert cancelled.status == "cancelled" and cancelled.output == []
    assert client.responses.retrieve(queued.id).status == "cancelled"


def test_finished_foreground_responses_stay_not_cancellable(client: openai.OpenAI) -> None:
    created = client.responses.create(model="m", input="x")
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.cancel(created.id)
    assert caught.value.code == "response_not_cancellable"


def test_background_runs_chain_both_ways(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    first = client.responses.create(model="m", input="My name is Ada.")
    upstream.push(Reply(content="Hello Ada."))
    second = settled(
        client,
        client.responses.create(
            model="m", input="Who am I?", previous_response_id=first.id, background=True
        ).id,
    )
    assert second.output_text == "Hello Ada."
    sent = [message["content"] for message in upstream.last["messages"]]
    assert sent[0] == "My name is Ada." and sent[-1] == "Who am I?"
    third = client.responses.create(model="m", input="Again?", previous_response_id=second.id)
    assert third.status == "completed"
    assert "Hello Ada." in [message["content"] for message in upstream.last["messages"]]


def test_unknown_response_is_404_for_stream_and_cancel(gateway: Gateway) -> None:
    assert httpx.get(f"{gateway.base_url}/responses/resp_nope?stream=true").status_code == 404
    assert httpx.post(f"{gateway.base_url}/responses/resp_nope/cancel").status_code == 404


def test_background_runs_use_mcp_tools(
    client: openai.OpenAI, upstream: ScriptedUpstream, mcp: McpTestServers
) -> None:
    upstream.push(
        Reply(tool_calls=[ToolCall("add", '{"a": 2, "b": 3}')]),
        Reply(content="2 + 3 = 5"),
    )
    tool: Mcp = {"type": "mcp", "server_label": "calc", "server_url": mcp.streamable_url}
    queued = client.responses.create(model="m", input="add", tools=[tool], background=True)
    final = settled(client, queued.id)
    assert [item.type for item in final.output] == ["mcp_list_tools", "mcp_call", "message"]
    call = output_item(final, 1, McpCall)
    assert call.output == "5"
    assert final.status in TERMINAL and final.output_text == "2 + 3 = 5"


def test_background_with_a_conversation_is_refused(client: openai.OpenAI) -> None:
    conversation = client.conversations.create()
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="m", input="x", background=True, conversation=conversation.id)
    assert error_param(caught.value) == "conversation"

"""What real backends do to a reply (tests/support/quirks.py), answered the same on both databases:
null content refused, streams that stop early, no choices, no usage, a connection cut mid-stream."""

from __future__ import annotations

from typing import cast

import openai
import pytest
from openai.types.responses import FunctionToolParam, Response
from openai.types.responses.response_input_param import FunctionCallOutput

from tests.conftest import Gateway
from tests.support.checks import create_checked
from tests.support.quirks import refusing_null_content
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall
from tests.test_api_stream import START, stream_events

# No ``strict``, which the SDK's type requires and clients leave out.
WEATHER = cast(
    FunctionToolParam,
    {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
)


@pytest.mark.parametrize("stream", [False, True])
def test_tool_call_continuation_works_where_null_content_is_refused(
    client: openai.OpenAI, upstream: ScriptedUpstream, stream: bool
) -> None:
    upstream.push(
        Reply(tool_calls=[ToolCall("get_weather", '{"city": "Paris"}', id="call_1")]),
        refusing_null_content(Reply(content="Sunny.")),
    )
    first = client.responses.create(model="m", input="Weather?", tools=[WEATHER])
    call = next(item for item in first.output if item.type == "function_call")
    output: FunctionCallOutput = {
        "type": "function_call_output",
        "call_id": call.call_id,
        "output": "21°C",
    }
    if stream:
        with client.responses.stream(
            model="m",
            previous_response_id=first.id,
            input=[output],
            tools=[WEATHER],
        ) as events:
            second: Response = events.get_final_response()
    else:
        second = client.responses.create(
            model="m",
            previous_response_id=first.id,
            input=[output],
            tools=[WEATHER],
        )
    assert second.status == "completed" and second.output_text == "Sunny."
    assistant = upstream.last["messages"][-2]
    assert assistant["role"] == "assistant" and assistant["tool_calls"]
    assert assistant["content"] == ""


def test_stream_closed_without_finish_reason_or_done_fails(
    gateway: Gateway, client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="The answer is cut", sends_finish=False, sends_done=False))
    events = stream_events(gateway, input="hi")
    failed = events[-1]
    assert failed["type"] == "response.failed"
    assert "before finishing its answer" in failed["response"]["error"]["message"]
    message = failed["response"]["output"][0]
    assert message["status"] == "incomplete"
    assert message["content"][0]["text"] == "The answer is cut"
    with pytest.raises(openai.NotFoundError):  # failed responses are not stored
        client.responses.retrieve(failed["response"]["id"])


@pytest.mark.parametrize(
    "reply",
    [
        Reply(content="Whole.", sends_done=False),  # said finish_reason, then closed
        Reply(content="Whole.", sends_finish=False),  # said [DONE]
    ],
    ids=["finish_reason-only", "done-only"],
)
def test_stream_that_said_it_finished_completes(
    gateway: Gateway, upstream: ScriptedUpstream, reply: Reply
) -> None:
    upstream.push(reply)
    events = stream_events(gateway, input="hi")
    completed = events[-1]["response"]
    assert completed["status"] == "completed"
    assert completed["output"][0]["content"][0]["text"] == "Whole."


def test_json_without_choices_is_a_bad_gateway(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="lost", has_choices=False))
    with pytest.raises(openai.APIStatusError) as caught:
        client.responses.create(model="m", input="hi")
    assert caught.value.status_code == 502
    assert "without any choices" in caught.value.message


def test_stream_without_choices_fails(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    upstream.push(Reply(content="lost", has_choices=False))
    events = stream_events(gateway, input="hi")
    assert [event["type"] for event in events] == [*START, "response.failed"]
    assert "without any choices" in events[-1]["response"]["error"]["message"]


@pytest.mark.parametrize("stream", [False, True])
def test_unreported_usage_is_null_not_zero(
    client: openai.OpenAI, upstream: ScriptedUpstream, stream: bool
) -> None:
    upstream.push(Reply(content="No usage here.", reports_usage=False))
    if stream:
        with client.responses.stream(model="m", input="hi") as events:
            response = events.get_final_response()
    else:
        response = create_checked(client, model="m", input="hi")  # Open Responses allows null
    assert response.status == "completed" and response.usage is None
    assert client.responses.retrieve(response.id).usage is None  # stored the same


def test_usage_of_a_multi_round_response_is_null_when_one_round_did_not_report(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.push(Reply(content="Fine.", reports_usage=False))
    response = client.responses.create(model="m", input="hi")
    assert response.usage is None
    upstream.push(Reply(content="Counted."))
    counted = client.responses.create(model="m", input="again", previous_response_id=response.id)
    assert counted.usage is not None and counted.usage.total_tokens == 18


def test_stream_cut_mid_way_fails_and_keeps_the_text(
    gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    # Chunks: the role, then four-character pieces of content; the cut comes after five.
    upstream.push(Reply(content="0123456789abcdefghijklmnop", cut_after=5))
    events = stream_events(gateway, input="hi")
    failed = events[-1]["response"]
    assert failed["status"] == "failed"
    assert "broke mid-stream" in failed["error"]["message"]
    assert "could not be reached" not in failed["error"]["message"]
    message = failed["output"][0]
    assert message["status"] == "incomplete"
    assert message["content"][0]["text"] == "0123456789abcdef"
    done = [event for event in events if event["type"] == "response.output_item.done"]
    assert done and done[-1]["item"]["status"] == "incomplete"


def test_stream_cut_mid_way_keeps_partial_function_call_arguments(
    gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    # Chunks: the role, the call's first half; then the stream breaks.
    upstream.push(Reply(tool_calls=[ToolCall("get_weather", '{"city": "Paris"}')], cut_after=2))
    events = stream_events(gateway, input="hi", tools=[WEATHER])
    failed = events[-1]["response"]
    assert failed["status"] == "failed"
    call = failed["output"][0]
    assert call["type"] == "function_call" and call["status"] == "incomplete"
    assert call["arguments"] == '{"city":'


def test_error_chunk_mid_stream_fails_with_its_message(
    gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    error = {"error": {"code": 500, "message": "slot crashed", "type": "server_error"}}
    upstream.push(Reply(content="partial answer here", cut_after=3, cut_error=error))
    events = stream_events(gateway, input="hi")
    failed = events[-1]["response"]
    assert failed["error"] == {"code": "upstream_error", "message": "slot crashed"}
    assert failed["output"][0]["content"][0]["text"] == "partial "

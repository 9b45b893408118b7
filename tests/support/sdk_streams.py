"""Responses through the official ``openai`` SDK, streamed or not, and the invariants every
stream the SDK reads must keep (the API tests of tools share them)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import openai
from openai.lib.streaming.responses import ResponseStreamEvent as ParsedStreamEvent
from openai.types.responses import ParsedResponse, Response, ResponseStreamEvent

MODEL = "scripted"
T = TypeVar("T")


def run_stream(
    client: openai.OpenAI, **params: Any
) -> tuple[list[ParsedStreamEvent[Any]], ParsedResponse[Any]]:
    """Stream through the SDK's ``responses.stream()`` helper: (events, final response)."""
    with client.responses.stream(model=MODEL, **params) as stream:
        events = list(stream)
        final = stream.get_final_response()
    return events, final


def raw_stream(client: openai.OpenAI, **params: Any) -> list[ResponseStreamEvent]:
    return list(client.responses.create(model=MODEL, stream=True, **params))


def narrowed(value: object, kind: type[T]) -> T:
    """``value``, checked to be a ``kind`` (one of the SDK's item or event classes)."""
    assert isinstance(value, kind), value
    return value


def output_item(response: Response, index: int, kind: type[T]) -> T:
    """``response.output[index]``, checked to be a ``kind``."""
    return narrowed(response.output[index], kind)


def event_at(events: Sequence[object], index: int, kind: type[T]) -> T:
    """``events[index]``, checked to be a ``kind``."""
    return narrowed(events[index], kind)


def events_of(events: Iterable[object], kind: type[T]) -> list[T]:
    """The events of one class, in order."""
    return [event for event in events if isinstance(event, kind)]


def error_param(error: openai.APIStatusError) -> object:
    """The ``param`` of an error answer's envelope (the SDK types its body as ``object``)."""
    assert isinstance(error.body, dict), error.body
    return error.body["param"]


def types_of(response: Response) -> list[str]:
    return [item.type for item in response.output]


def squash(kinds: list[str]) -> list[str]:
    """Collapse runs of the same delta event (their count depends on chunking), so orders read
    like the reference."""
    out: list[str] = []
    for kind in kinds:
        if not (kind.endswith(".delta") and out and out[-1] == kind):
            out.append(kind)
    return out


def check_stream_invariants(events: list[Any], final: Any | None = None) -> None:
    """One response.created first, one terminal event last, gap-free sequence numbers, and items
    whose id and output_index agree between added, done and the terminal response."""
    kinds = [event.type for event in events]
    assert kinds[0] == "response.created"
    assert kinds.count("response.created") == 1
    terminal = {"response.completed", "response.incomplete", "response.failed"}
    assert kinds[-1] in terminal
    assert sum(kind in terminal for kind in kinds) == 1
    assert [event.sequence_number for event in events] == list(range(len(events)))
    added = {e.output_index: e.item.id for e in events if e.type == "response.output_item.added"}
    done = {e.output_index: e.item.id for e in events if e.type == "response.output_item.done"}
    assert added == done
    assert sorted(added) == list(range(len(added)))
    for event in events:
        if hasattr(event, "item_id") and hasattr(event, "output_index"):
            assert added[event.output_index] == event.item_id, event.type
    last = events[-1].response
    assert [item.id for item in last.output] == [added[i] for i in range(len(added))]
    assert {
        e.response.id for e in events if e.type.startswith("response.") and hasattr(e, "response")
    } == {last.id}
    if final is not None:
        assert [item.id for item in final.output] == [added[i] for i in range(len(added))]

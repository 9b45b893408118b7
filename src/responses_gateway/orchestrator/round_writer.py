"""One model round's deltas → output items (message, reasoning, function_call) and their events.

Text and reasoning stream live. Reasoning is raw ``content`` (``reasoning_text``) as the backend
gave it; when the request asks for a summary, the same text also fills ``summary`` (a chat backend
has no summarizer) with the ``reasoning_summary_*`` events, which are what Codex and the Vercel AI
SDK show; with ``include: reasoning.encrypted_content`` the finished item carries it sealed.

Function calls stream live too (``function_call_arguments.delta``); calls to MCP tools are only
collected here: the orchestrator emits their ``mcp_call`` items while it runs them (the
reference's order C puts the argument events right before execution).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from responses_gateway import events
from responses_gateway.chat.reasoning import ReasoningReplay
from responses_gateway.chat.reply import Delta, TextDelta, ToolCallDelta
from responses_gateway.chat.tool_items import CustomInputStream, custom_input, json_object
from responses_gateway.events import Event
from responses_gateway.ids import new_id
from responses_gateway.orchestrator.client_tools import ClientTool
from responses_gateway.orchestrator.state import ResponseState
from responses_gateway.schemas.request import CreateResponseRequest

ENCRYPTED_REASONING = "reasoning.encrypted_content"

_PART_FIELD = {"output_text": "text", "refusal": "refusal", "reasoning_text": "text"}
_PART_OF_DELTA = {"text": "output_text", "refusal": "refusal", "reasoning": "reasoning_text"}


class _OpenTextItem:
    """A message or reasoning item whose content parts are being streamed."""

    def __init__(self, state: ResponseState, item: dict[str, Any]) -> None:
        self.state = state
        self.item = item
        self.index = state.add_item(item)
        self.part_type: str | None = None
        self.chunks: list[str] = []

    def open_events(self) -> list[Event]:
        # A copy: events of a chunk are emitted after the whole chunk is applied to the item.
        return [events.item_added(self.index, {**self.item, "content": []})]

    def delta(self, part_type: str, text: str) -> list[Event]:
        if part_type != self.part_type:
            out = self.close_part()
            self.part_type = part_type
            part: dict[str, Any] = {"type": part_type, _PART_FIELD[part_type]: ""}
            if part_type == "output_text":
                part.update(annotations=[], logprobs=[])
            self.item["content"].append(part)
            out.append(
                events.content_part("added", self.item["id"], self.index, self.ci, dict(part))
            )
        else:
            out = []  # the common case: one more delta of the open part
        self.chunks.append(text)
        out.append(events.text_delta(part_type, self.item["id"], self.index, self.ci, text))
        return out

    @property
    def ci(self) -> int:
        return len(self.item["content"]) - (1 if self.part_type else 0)

    def close_part(self, status: str = "completed") -> list[Event]:
        if self.part_type is None:
            return []
        part = self.item["content"][-1]
        text = "".join(self.chunks)
        part[_PART_FIELD[self.part_type]] = text
        ci, item_id = len(self.item["content"]) - 1, self.item["id"]
        out = [
            events.text_done(self.part_type, item_id, self.index, ci, text),
            events.content_part("done", item_id, self.index, ci, part),
        ]
        self.part_type, self.chunks = None, []
        return out

    def close(self, status: str) -> list[Event]:
        out = self.close_part(status)
        self.item["status"] = status
        out.append(self.state.item_done(self.index))
        return out


@dataclass(frozen=True, slots=True)
class ReasoningOutput:
    """What a reasoning item carries besides its raw ``content``."""

    summary: bool = False  # ``reasoning.summary`` was asked for
    seal: Callable[[str], str] | None = None  # ``include`` asked for ``encrypted_content``


def reasoning_output(request: CreateResponseRequest, replay: ReasoningReplay) -> ReasoningOutput:
    summary = request.reasoning is not None and request.reasoning.summary is not None
    seal = replay.seal if ENCRYPTED_REASONING in request.include else None
    if not summary and seal is None:
        return _PLAIN_REASONING  # with ToolCatalog.build's early return: 8,000 instructions less
    return ReasoningOutput(summary, seal)


_PLAIN_REASONING = ReasoningOutput()


class _OpenReasoning(_OpenTextItem):
    """A reasoning item: its one ``reasoning_text`` part, mirrored as summary part 0 when asked."""

    def __init__(self, state: ResponseState, item: dict[str, Any], output: ReasoningOutput):
        super().__init__(state, item)
        self.output = output

    def open_events(self) -> list[Event]:
        return [events.item_added(self.index, {**self.item, "summary": [], "content": []})]

    def delta(self, part_type: str, text: str) -> list[Event]:
        if not self.output.summary:
            return super().delta(part_type, text)
        item_id, index = self.item["id"], self.index
        out: list[Event] = []
        if self.part_type is None:
            self.item["summary"].append({"type": "summary_text", "text": ""})
            out.append(events.summary("part", "added", item_id, index, ""))
        out.append(events.summary("text", "delta", item_id, index, text))
        return out + super().delta(part_type, text)

    def close_part(self, status: str = "completed") -> list[Event]:
        if self.part_type is None or not self.output.summary:
            return super().close_part(status)
        item_id, index, text = self.item["id"], self.index, "".join(self.chunks)
        self.item["summary"][0]["text"] = text
        done = events.summary("part", "done", item_id, index, text)
        if status == "incomplete":
            done["status"] = "incomplete"
        out = [events.summary("text", "done", item_id, index, text), done]
        return out + super().close_part(status)

    def close(self, status: str) -> list[Event]:
        out = self.close_part(status)
        if self.output.seal is not None:
            text = "".join(part["text"] for part in self.item["content"])
            self.item["encrypted_content"] = self.output.seal(text)
        return out + super().close(status)


@dataclass
class CollectedCall:
    """A tool call of this round: its chat id, the name the model used, and its arguments."""

    call_id: str
    name: str | None
    chunks: list[str] = field(default_factory=list)
    item: dict[str, Any] | None = None  # set for function calls, which stream live
    index: int = -1
    input_stream: CustomInputStream | None = None  # for custom tools' calls

    @property
    def arguments(self) -> str:
        return "".join(self.chunks)


@dataclass
class RoundWriter:
    """Feeds on deltas; ``is_server_tool(name)`` says which calls the gateway runs itself,
    ``client_tool(name)`` what item a client tool's call becomes (a plain ``function_call`` when
    unknown)."""

    state: ResponseState
    is_server_tool: Callable[[str], bool]
    reasoning: ReasoningOutput = ReasoningOutput()
    client_tool: Callable[[str], ClientTool | None] = lambda _name: None
    calls: dict[int, CollectedCall] = field(default_factory=dict)
    _open: _OpenTextItem | None = None
    _open_kind: str | None = None

    def feed(self, deltas: list[Delta]) -> list[Event]:
        out: list[Event] = []
        for delta in deltas:
            if isinstance(delta, TextDelta):
                out += self._text(delta)
            else:
                out += self._tool_call(delta)
        return out

    def _text(self, delta: TextDelta) -> list[Event]:
        kind = "reasoning" if delta.kind == "reasoning" else "message"
        if self._open is not None and self._open_kind == kind:
            return self._open.delta(_PART_OF_DELTA[delta.kind], delta.text)  # the common case
        out = self._close_text("completed")
        if kind == "reasoning":
            item = {"id": new_id("rs"), "type": "reasoning", "summary": [], "content": []}
            self._open = _OpenReasoning(self.state, item, self.reasoning)
        else:
            item = {
                "id": new_id("msg"),
                "type": "message",
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            }
            self._open = _OpenTextItem(self.state, item)
        self._open_kind = kind
        out += self._open.open_events()
        out += self._open.delta(_PART_OF_DELTA[delta.kind], delta.text)
        return out

    def _close_text(self, status: str) -> list[Event]:
        if self._open is None:
            return []
        out = self._open.close(status)
        self._open = self._open_kind = None
        return out

    def _tool_call(self, delta: ToolCallDelta) -> list[Event]:
        out = self._close_text("completed")
        call = self.calls.get(delta.index)
        if call is None:
            call = CollectedCall(call_id=delta.call_id or new_id("call"), name=delta.name)
            self.calls[delta.index] = call
        elif delta.name and not call.name:
            call.name = delta.name
        if delta.arguments:
            call.chunks.append(delta.arguments)
        if call.item is None and call.name and not self.is_server_tool(call.name):
            out += self._open_function_call(call)
        elif call.item is not None and delta.arguments:
            out += self._args_delta(call, delta.arguments)
        return out

    def _open_function_call(self, call: CollectedCall) -> list[Event]:
        tool = self.client_tool(call.name or "")
        if tool is not None:
            call.item = tool.call_item(call.call_id)
        else:
            call.item = {
                "id": new_id("fc"),
                "type": "function_call",
                "status": "in_progress",
                "call_id": call.call_id,
                "name": call.name or "",
                "arguments": "",
            }
        call.index = self.state.add_item(call.item)
        if call.item["type"] == "custom_tool_call":
            call.input_stream = CustomInputStream()
        out = [events.item_added(call.index, dict(call.item))]
        if call.chunks:
            out += self._args_delta(call, call.arguments)
        return out

    @staticmethod
    def _args_delta(call: CollectedCall, text: str) -> list[Event]:
        assert call.item is not None
        if call.item["type"] == "function_call":
            return [events.arguments_delta("function_call", call.item["id"], call.index, text)]
        if call.input_stream is None:
            return []  # a tool_search_call: its arguments are an object, set once complete
        decoded = call.input_stream.feed(text)  # a custom call: its input, as it is decoded
        return (
            [events.custom_input("delta", call.item["id"], call.index, decoded)] if decoded else []
        )

    @staticmethod
    def _close_call(call: CollectedCall) -> list[Event]:
        item = call.item
        assert item is not None
        item["status"] = "completed"
        if call.input_stream is not None:
            item["input"] = custom_input(call.arguments)
            rest = call.input_stream.rest(item["input"])
            head = [events.custom_input("delta", item["id"], call.index, rest)] if rest else []
            return [*head, events.custom_input("done", item["id"], call.index, item["input"])]
        if item["type"] == "tool_search_call":
            item["arguments"] = json_object(call.arguments)
            return []
        item["arguments"] = call.arguments
        return [events.arguments_done("function_call", item["id"], call.index, call.arguments)]

    def finish(self, message_status: str) -> list[Event]:
        """Close every open item; MCP calls stay in ``server_calls()`` for the orchestrator."""
        out = self._close_text(message_status)
        for call in self.calls.values():
            if call.item is None and not call.name:
                out += self._open_function_call(call)  # nameless: the client sees it as it came
            if call.item is not None:
                out += self._close_call(call)
                out.append(self.state.item_done(call.index))
        return out

    def abort(self) -> list[Event]:
        """The upstream broke off mid-round: close what was streamed as ``incomplete``, with the
        text and arguments received so far (MCP calls are not run)."""
        out = self._close_text("incomplete")
        for call in self.calls.values():
            if call.item is not None:
                if call.item["type"] == "function_call":
                    call.item["arguments"] = call.arguments
                call.item["status"] = "incomplete"
                out.append(self.state.item_done(call.index))
        return out

    def server_calls(self) -> list[CollectedCall]:
        return [
            c for c in self.calls.values() if c.item is None and self.is_server_tool(c.name or "")
        ]

    def client_calls(self) -> list[CollectedCall]:
        return [c for c in self.calls.values() if c.item is not None]

"""Responses items → chat-completions ``messages``.

Calls and their results are grouped the way chat templates expect: one assistant message carrying
the text and every tool call of a step (and, as ``reasoning_content``, the reasoning before it),
followed by one ``tool`` message per result, then one ``user`` message with the images and files
those results returned. ``mcp_list_tools`` items have no chat equivalent and are left out.
Grouping stops at turn boundaries: each stored turn converts on its own, once (see
``ChatHistory``); ``to_chat_messages`` then shapes the whole list for chat templates (one system
message, at the start).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import orjson

from responses_gateway.chat.parts import split_output, text_of_parts, user_content
from responses_gateway.chat.reasoning import NO_REPLAY, ReasoningReplay
from responses_gateway.chat.shaping import (
    DEFAULT_STYLE,
    ChatStyle,
    needs_no_shaping,
    shape_messages,
)
from responses_gateway.chat.tool_items import (
    chat_name,
    custom_arguments,
    tool_search_call,
    tool_search_result,
    web_search_exchange,
)

ChatMessage = dict[str, Any]
McpNames = Mapping[tuple[str, str], str]

DENIED_TOOL_RESULT = "The user denied this tool call."


class _Builder:
    def __init__(self) -> None:
        self.messages: list[ChatMessage] = []
        self._text: list[str] = []
        self._calls: list[dict[str, Any]] = []
        self._results: list[ChatMessage] = []
        self._reasoning: list[str] = []
        self._media: list[dict[str, Any]] = []

    def reasoning(self, text: str) -> None:
        """Reasoning belongs to the assistant message that follows it (dropped if none does)."""
        if self._results:
            self.flush()
        if text:
            self._reasoning.append(text)

    def assistant_text(self, text: str) -> None:
        if self._results:
            self.flush()
        self._text.append(text)

    def call(self, call_id: str, name: str, arguments: str) -> None:
        if self._results:
            self.flush()
        self._calls.append(
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        )

    def result(self, call_id: str, output: str | list[dict[str, Any]]) -> None:
        text, media = (output, None) if isinstance(output, str) else split_output(output)
        if media:
            text = text or "(The output is in the next message.)"
            self._media.append({"type": "text", "text": f"Output of tool call {call_id}:"})
            self._media.extend(media)
        self._results.append({"role": "tool", "tool_call_id": call_id, "content": text})

    def plain(self, message: ChatMessage) -> None:
        self.flush()
        self.messages.append(message)

    def flush(self) -> None:
        if not (self._text or self._calls or self._results or self._reasoning or self._media):
            return  # nothing buffered (most flushes: before each user or developer message)
        if self._text or self._calls:
            # "" rather than null beside tool_calls: llama-cpp-python refuses null, and
            # llama-server, vLLM, Ollama and OpenAI all take "".
            message: ChatMessage = {"role": "assistant", "content": "".join(self._text)}
            if self._calls:
                message["tool_calls"] = self._calls
            if self._reasoning:
                message["reasoning_content"] = "\n\n".join(self._reasoning)
            self.messages.append(message)
        self.messages.extend(self._results)
        if self._media:
            self.messages.append({"role": "user", "content": self._media})
        self._text, self._calls, self._results, self._reasoning, self._media = [], [], [], [], []


def _message(builder: _Builder, item: dict[str, Any]) -> None:
    role = item["role"]
    content = item["content"]
    if role == "assistant":
        text = content if isinstance(content, str) else text_of_parts(content)
        builder.assistant_text(text)
        return
    chat_role = "system" if role == "developer" else role
    if isinstance(content, str):
        builder.plain({"role": chat_role, "content": content})
    elif chat_role == "system":
        builder.plain({"role": chat_role, "content": text_of_parts(content)})
    else:
        builder.plain({"role": chat_role, "content": user_content(content)})


def _mcp_result(item: dict[str, Any]) -> str | list[dict[str, Any]]:
    """The output (parts when the call returned images, see ``ResponseState.model_view``)."""
    error = item.get("error")
    if error is None:
        output: str | list[dict[str, Any]] = item.get("output") or ""
        return output
    if isinstance(error, str):
        return f"Error: {error}"
    if error.get("type") == "mcp_tool_execution_error":
        blocks = error.get("content") or []
        text = "\n".join(b["text"] for b in blocks if isinstance(b, dict) and "text" in b)
        return f"Error: {text or orjson.dumps(blocks).decode()}"
    return f"Error: {error.get('message') or orjson.dumps(error).decode()}"


class ChatHistory(NamedTuple):
    """Earlier turns in chat form, built turn by turn so that a chain's next turn only converts
    its own items. Each turn's messages are complete (flushed at its end); ``approvals`` keeps
    the approval requests seen, since a later turn's denial replays the denied call."""

    messages: tuple[ChatMessage, ...] = ()
    approvals: Mapping[str, dict[str, Any]] = MappingProxyType({})
    plain: bool = True  # no message ``shape_messages`` would change: sent as they are


def extend_chat(
    history: ChatHistory,
    items: Iterable[dict[str, Any]],
    mcp_names: McpNames,
    replay: ReasoningReplay = NO_REPLAY,
) -> ChatHistory:
    """``history`` followed by one more turn's items (from its compaction on, if it has one)."""
    approvals = dict(history.approvals)
    messages, compacted = _convert(items, mcp_names, approvals, replay)
    plain = needs_no_shaping(messages)
    if compacted:
        return ChatHistory(tuple(messages), approvals, plain)
    return ChatHistory((*history.messages, *messages), approvals, history.plain and plain)


def to_chat_messages(
    instructions: str | None,
    history: ChatHistory,
    items: Iterable[dict[str, Any]],
    mcp_names: McpNames,
    replay: ReasoningReplay = NO_REPLAY,
    style: ChatStyle = DEFAULT_STYLE,
) -> list[ChatMessage]:
    """The ``messages`` of a chat request: this turn's instructions (never inherited), the
    earlier turns (none before a compaction in this turn's items), then this turn's items,
    shaped for chat templates by ``style``; ``mcp_names`` maps (server_label, tool) to the name
    the model saw."""
    converted, compacted = _convert(items, mcp_names, dict(history.approvals), replay)
    earlier = () if compacted else history.messages
    unshaped = len(earlier) if history.plain else 0
    return shape_messages(instructions, [*earlier, *converted], style, unshaped)


COMPACTION_PREFIX = "Summary of the conversation so far:\n\n"


def _convert(
    items: Iterable[dict[str, Any]],
    mcp_names: McpNames,
    approvals: dict[str, dict[str, Any]],
    replay: ReasoningReplay,
) -> tuple[list[ChatMessage], bool]:
    """The items' messages, and whether a ``compaction`` item replaced all that came before
    (its summary, opened by the service, stands in for it)."""
    builder = _Builder()
    compacted, items = _from_last_compaction(builder, items)
    for item in items:
        kind = item["type"]
        if kind == "message":
            _message(builder, item)
        elif kind == "reasoning":
            builder.reasoning(replay.text_of(item))
        elif kind == "function_call":
            builder.call(item["call_id"], chat_name(mcp_names, item), item["arguments"])
        elif kind == "custom_tool_call":
            arguments = custom_arguments(item["input"])
            builder.call(item["call_id"], chat_name(mcp_names, item), arguments)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            builder.result(item["call_id"], item["output"])
        elif kind == "tool_search_call" and item.get("call_id"):
            builder.call(item["call_id"], *tool_search_call(mcp_names, item))
        elif kind == "tool_search_output" and item.get("call_id"):
            builder.result(item["call_id"], tool_search_result(mcp_names, item))
        elif kind == "web_search_call":
            name, arguments, result = web_search_exchange(mcp_names, item)
            builder.call(item["id"], name, arguments)
            builder.result(item["id"], result)
        elif kind == "mcp_call":
            name = mcp_names.get((item["server_label"], item["name"]), item["name"])
            builder.call(item["id"], name, item["arguments"])
            builder.result(item["id"], _mcp_result(item))
        elif kind == "mcp_approval_request":
            approvals[item["id"]] = item
        elif kind == "mcp_approval_response" and not item["approve"]:
            request = approvals.get(item["approval_request_id"])
            if request is not None:
                name = mcp_names.get((request["server_label"], request["name"]), request["name"])
                builder.call(request["id"], name, request["arguments"])
                reason = item.get("reason")
                builder.result(
                    request["id"],
                    f"{DENIED_TOOL_RESULT} {reason}" if reason else DENIED_TOOL_RESULT,
                )
    builder.flush()
    return builder.messages, compacted


def _from_last_compaction(
    builder: _Builder, items: Iterable[dict[str, Any]]
) -> tuple[bool, list[dict[str, Any]]]:
    """Start from the last ``compaction`` item: its summary stands in for all before it. Whether
    there was one, and the items after it."""
    items = list(items)
    for position in range(len(items) - 1, -1, -1):
        if items[position]["type"] == "compaction":
            summary = items[position]["summary"]
            builder.plain({"role": "user", "content": COMPACTION_PREFIX + summary})
            return True, items[position + 1 :]
    return False, items

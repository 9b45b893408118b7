"""Responses items → chat-completions ``messages``.

Calls and their results are grouped the way chat templates expect: one assistant message carrying
the text and every tool call of a step, followed by one ``tool`` message per result. Reasoning and
``mcp_list_tools`` items have no chat equivalent and are left out. Grouping stops at turn
boundaries: each stored turn converts on its own, once (see ``ChatHistory``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import orjson

from responses_gateway.errors import InvalidRequest

ChatMessage = dict[str, Any]
McpNames = Mapping[tuple[str, str], str]

DENIED_TOOL_RESULT = "The user denied this tool call."


class _Builder:
    def __init__(self) -> None:
        self.messages: list[ChatMessage] = []
        self._text: list[str] = []
        self._calls: list[dict[str, Any]] = []
        self._results: list[ChatMessage] = []

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

    def result(self, call_id: str, content: str) -> None:
        self._results.append({"role": "tool", "tool_call_id": call_id, "content": content})

    def plain(self, message: ChatMessage) -> None:
        self.flush()
        self.messages.append(message)

    def flush(self) -> None:
        if self._text or self._calls:
            message: ChatMessage = {"role": "assistant", "content": "".join(self._text) or None}
            if self._calls:
                message["tool_calls"] = self._calls
            self.messages.append(message)
        self.messages.extend(self._results)
        self._text, self._calls, self._results = [], [], []


def _text_of_parts(parts: list[dict[str, Any]]) -> str:
    out: list[str] = []
    for part in parts:
        kind = part["type"]
        if kind in ("input_text", "output_text"):
            out.append(part["text"])
        elif kind == "refusal":
            out.append(part["refusal"])
    return "".join(out)


def _user_content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Plain text when every part is text: many backends (llama.cpp, older vLLM) want a string."""
    if all(part["type"] == "input_text" for part in parts):
        return _text_of_parts(parts)
    chat_parts: list[dict[str, Any]] = []
    for part in parts:
        kind = part["type"]
        if kind in ("input_text", "output_text"):
            chat_parts.append({"type": "text", "text": part["text"]})
        elif kind == "input_image":
            if not part.get("image_url"):
                raise InvalidRequest(
                    "input_image parts need an image_url (file ids are not supported).",
                    param="input",
                )
            image = {"url": part["image_url"]}
            if part.get("detail") in ("low", "high", "auto"):
                image["detail"] = part["detail"]
            chat_parts.append({"type": "image_url", "image_url": image})
        else:
            raise InvalidRequest(
                f"Content parts of type '{kind}' are not supported.", param="input"
            )
    return chat_parts


def _message(builder: _Builder, item: dict[str, Any]) -> None:
    role = item["role"]
    content = item["content"]
    if role == "assistant":
        text = content if isinstance(content, str) else _text_of_parts(content)
        builder.assistant_text(text)
        return
    chat_role = "system" if role == "developer" else role
    if isinstance(content, str):
        builder.plain({"role": chat_role, "content": content})
    elif chat_role == "system":
        builder.plain({"role": chat_role, "content": _text_of_parts(content)})
    else:
        builder.plain({"role": chat_role, "content": _user_content(content)})


def _function_output(item: dict[str, Any]) -> str:
    output = item["output"]
    if isinstance(output, str):
        return output
    return _text_of_parts(output)


def _mcp_result(item: dict[str, Any]) -> str:
    error = item.get("error")
    if error is None:
        return item.get("output") or ""
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


def extend_chat(
    history: ChatHistory, items: Iterable[dict[str, Any]], mcp_names: McpNames
) -> ChatHistory:
    """``history`` followed by one more turn's items (from its compaction on, if it has one)."""
    approvals = dict(history.approvals)
    messages, compacted = _convert(items, mcp_names, approvals)
    if compacted:
        return ChatHistory(tuple(messages), approvals)
    return ChatHistory((*history.messages, *messages), approvals)


def to_chat_messages(
    instructions: str | None,
    history: ChatHistory,
    items: Iterable[dict[str, Any]],
    mcp_names: McpNames,
) -> list[ChatMessage]:
    """The ``messages`` of a chat request: this turn's instructions (never inherited), the
    earlier turns, then this turn's items; ``mcp_names`` maps (server_label, tool) to the name
    the model saw."""
    messages: list[ChatMessage] = (
        [{"role": "system", "content": instructions}] if instructions else []
    )
    converted, compacted = _convert(items, mcp_names, dict(history.approvals))
    if not compacted:
        messages.extend(history.messages)
    messages.extend(converted)
    return messages


COMPACTION_PREFIX = "Summary of the conversation so far:\n\n"


def _convert(
    items: Iterable[dict[str, Any]], mcp_names: McpNames, approvals: dict[str, dict[str, Any]]
) -> tuple[list[ChatMessage], bool]:
    """The items' messages, and whether a ``compaction`` item replaced all that came before
    (its summary, opened by the service, stands in for it)."""
    builder = _Builder()
    compacted = False
    for item in items:
        kind = item["type"]
        if kind == "compaction":
            builder = _Builder()
            builder.plain({"role": "user", "content": COMPACTION_PREFIX + item["summary"]})
            compacted = True
        elif kind == "message":
            _message(builder, item)
        elif kind == "function_call":
            builder.call(item["call_id"], item["name"], item["arguments"])
        elif kind == "function_call_output":
            builder.result(item["call_id"], _function_output(item))
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

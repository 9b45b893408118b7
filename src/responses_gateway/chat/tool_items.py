"""Chat forms of the client-tool shapes that are not plain functions: namespaced and custom
(freeform) tool calls, and the gateway's own ``web_search_call``.

The names mapping (``McpNames``) keys MCP tools by ``(server_label, tool)``; client tools are keyed
by ``client_key`` so that a namespace and an MCP server of the same name never meet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

WEB_SEARCH_NAME = "web_search"
CUSTOM_INPUT = "input"  # the one string parameter a custom tool is offered with
_NO_RESULTS_KEPT = "(The results of this search were shown earlier and are not kept.)"


def client_key(namespace: str | None, name: str) -> tuple[str, str]:
    """Where the chat name of a client tool (or of the web search tool) is kept."""
    return ("\0" + (namespace or ""), name)


WEB_SEARCH_KEY = client_key("\0hosted", WEB_SEARCH_NAME)


def chat_name(names: Mapping[tuple[str, str], str], item: dict[str, Any]) -> str:
    """The name the model knows a ``function_call`` / ``custom_tool_call`` item's tool by."""
    name: str = item["name"]
    return names.get(client_key(item.get("namespace"), name), name)


def custom_arguments(text: str) -> str:
    """A custom tool's input as the JSON arguments of the function the model was offered."""
    return orjson.dumps({CUSTOM_INPUT: text}).decode()


def custom_input(arguments: str) -> str:
    """The model's arguments for a custom tool → its input string (raw text if not our JSON)."""
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments
    if isinstance(parsed, dict):
        value = parsed.get(CUSTOM_INPUT)
        if isinstance(value, str):
            return value
        strings = [v for v in parsed.values() if isinstance(v, str)]
        if len(parsed) == 1 and strings:
            return strings[0]
    return parsed if isinstance(parsed, str) else arguments


def web_search_exchange(
    names: Mapping[tuple[str, str], str], item: dict[str, Any]
) -> tuple[str, str, str]:
    """(chat name, arguments, result) of a ``web_search_call``. Within a response the results
    ride on the item under ``results`` (see ``orchestrator/web_search_steps.py``); replayed from
    a stored chain they are not kept, and the model is told so."""
    action = item.get("action") or {}
    query = action.get("query") or " ".join(action.get("queries") or ())
    arguments = orjson.dumps({"query": query}).decode()
    result = item.get("results")
    if not isinstance(result, str):
        sources = [s.get("url") for s in action.get("sources") or () if isinstance(s, dict)]
        result = _NO_RESULTS_KEPT + (
            "\nSources: " + ", ".join(map(str, sources)) if sources else ""
        )
    return names.get(WEB_SEARCH_KEY, WEB_SEARCH_NAME), arguments, result

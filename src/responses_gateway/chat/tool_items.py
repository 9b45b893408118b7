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
TOOL_SEARCH_NAME = "tool_search"
TOOL_SEARCH_KEY = client_key("\0hosted", TOOL_SEARCH_NAME)


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


def tool_search_call(names: Mapping[tuple[str, str], str], item: dict[str, Any]) -> tuple[str, str]:
    """(chat name, arguments) of a client-run ``tool_search_call``."""
    arguments = item.get("arguments")
    text = arguments if isinstance(arguments, str) else orjson.dumps(arguments or {}).decode()
    return names.get(TOOL_SEARCH_KEY, TOOL_SEARCH_NAME), text


def tool_search_result(names: Mapping[tuple[str, str], str], item: dict[str, Any]) -> str:
    """A ``tool_search_output`` as the model reads it: the tools it may now call, by the names
    it was offered them under."""
    found: list[str] = []
    for tool in item.get("tools") or ():
        if not isinstance(tool, dict):
            continue
        inner = tool.get("tools") if tool.get("type") == "namespace" else [tool]
        namespace = tool.get("name") if tool.get("type") == "namespace" else None
        for entry in inner or ():
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                name = names.get(client_key(namespace, entry["name"]), entry["name"])
                summary = (entry.get("description") or "").strip().split("\n", 1)[0]
                found.append(f"- {name}: {summary}" if summary else f"- {name}")
    if not found:
        return "No tools matched."
    return "These tools are now available to call:\n" + "\n".join(found)


def json_object(arguments: str) -> Any:
    """The model's arguments as the object a ``tool_search_call`` carries (raw text if not)."""
    try:
        parsed = orjson.loads(arguments) if arguments.strip() else {}
    except orjson.JSONDecodeError:
        return arguments
    return parsed if isinstance(parsed, dict) else arguments


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


_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_OPENING = '{"' + CUSTOM_INPUT + '":"'


class CustomInputStream:
    """Decodes the ``input`` string out of a custom call's JSON arguments while they stream, so
    the client sees the input (a patch, say) as it is written. Arguments of another shape give
    nothing here; the whole input is then known only at the end (``custom_input``)."""

    __slots__ = ("_raw", "_pos", "_stopped", "sent")

    def __init__(self) -> None:
        self._raw = ""
        self._pos = -1  # where the undecoded part of the string starts in _raw, once found
        self._stopped = False  # the string ended, or the arguments are not ours
        self.sent: list[str] = []

    def feed(self, chunk: str) -> str:
        if self._stopped:
            return ""
        self._raw += chunk
        if self._pos < 0 and not self._find_string():
            return ""
        text = self._decode()
        if text:
            self.sent.append(text)
        return text

    def rest(self, final: str) -> str:
        """What is still to send once the whole input is ``final`` ("" if the stream strayed)."""
        sent = "".join(self.sent)
        return final[len(sent) :] if final.startswith(sent) else ""

    def _find_string(self) -> bool:
        compact = "".join(self._raw.split())
        if not compact.startswith(_OPENING):
            self._stopped = not _OPENING.startswith(compact)
            return False
        self._pos = self._raw.index('"', self._raw.index(":")) + 1
        return True

    def _decode(self) -> str:
        raw, i, out = self._raw, self._pos, []
        while i < len(raw):
            char = raw[i]
            if char == '"':
                self._stopped = True
                break
            if char != "\\":
                out.append(char)
                i += 1
                continue
            size, decoded = _escape(raw, i)
            if size == 0:
                break  # the escape is not all here yet
            if decoded is None:
                self._stopped = True
                break
            out.append(decoded)
            i += size
        self._raw, self._pos = raw[i:], 0  # keep only an escape still incomplete
        return "".join(out)


def _escape(raw: str, i: int) -> tuple[int, str | None]:
    """(length, text) of the escape at ``raw[i]``; length 0 while incomplete, text None if bad."""
    if i + 1 >= len(raw):
        return 0, None
    kind = raw[i + 1]
    if kind != "u":
        return 2, _ESCAPES.get(kind)
    if i + 6 > len(raw):
        return 0, None
    try:
        code = int(raw[i + 2 : i + 6], 16)
        if not 0xD800 <= code < 0xDC00:
            return 6, chr(code)
        if i + 12 > len(raw):
            return 0, None
        low = int(raw[i + 8 : i + 12], 16) if raw[i + 6 : i + 8] == "\\u" else -1
    except ValueError:
        return 6, None
    if not 0xDC00 <= low < 0xE000:
        return 12, None
    return 12, chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00))

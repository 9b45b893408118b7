"""Tools the client runs: plain and namespaced functions, custom (freeform) tools, and a
``tool_search`` the client executes itself (``execution: "client"``, as Codex sends it).

Each is offered to the model as a chat function under a flat name that chat backends accept
(``[A-Za-z0-9_-]{1,64}``, unique in the request); a call comes back as the item the client
expects: ``function_call`` or ``custom_tool_call``, with the inner ``name`` and its ``namespace``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from responses_gateway.chat.tool_items import CUSTOM_INPUT
from responses_gateway.ids import new_id
from responses_gateway.schemas.request import CustomTool, FunctionTool

_EMPTY_OBJECT: dict[str, Any] = {"type": "object", "properties": {}}


@dataclass(frozen=True, slots=True)
class ClientTool:
    spec: FunctionTool | CustomTool
    namespace: str | None = None
    search: bool = False  # the client-run ``tool_search`` (its calls are ``tool_search_call``)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def is_custom(self) -> bool:
        return type(self.spec) is CustomTool  # not isinstance(): see tool_shapes.request_tools

    def chat_tool(self, chat_name: str, namespace_description: str | None) -> dict[str, Any]:
        """The chat ``tools`` entry the model sees."""
        spec = self.spec
        description = spec.description or ""
        if self.namespace and namespace_description:
            description = f"{description}\n({self.namespace}: {namespace_description})".strip()
        function: dict[str, Any] = {"name": chat_name}
        # A function first: isinstance() of a model's own class is quick, a miss is not (see
        # tool_shapes.request_tools).
        if isinstance(spec, FunctionTool):
            function["parameters"] = spec.parameters or _EMPTY_OBJECT
            if spec.strict is not None:
                function["strict"] = spec.strict
        else:
            function["parameters"] = _custom_parameters(spec)
            description = f"{description}\n\n{_custom_format_note(spec)}".strip()
        if description:
            function["description"] = description
        return {"type": "function", "function": function}

    def call_item(self, call_id: str) -> dict[str, Any]:
        """The output item of a call, opened empty (arguments or input stream in later)."""
        item: dict[str, Any]
        if self.search:
            item = {"id": new_id("tsc"), "type": "tool_search_call", "status": "in_progress"}
            item.update(call_id=call_id, arguments={}, execution="client")
            return item
        if self.is_custom:
            item = {"id": new_id("ctc"), "type": "custom_tool_call", "status": "in_progress"}
            item.update(call_id=call_id, name=self.name, input="")
        else:
            item = {"id": new_id("fc"), "type": "function_call", "status": "in_progress"}
            item.update(call_id=call_id, name=self.name, arguments="")
        if self.namespace is not None:
            item["namespace"] = self.namespace
        return item


def _custom_parameters(tool: CustomTool) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {CUSTOM_INPUT: {"type": "string", "description": f"The {tool.name} input."}},
        "required": [CUSTOM_INPUT],
        "additionalProperties": False,
    }


def _custom_format_note(tool: CustomTool) -> str:
    fmt = tool.format
    if fmt is None or fmt.type == "text" or not fmt.definition:
        return f"Put the whole input, as free-form text, in the `{CUSTOM_INPUT}` string."
    syntax = "a Lark grammar" if fmt.syntax == "lark" else "a regular expression"
    return (
        f"Put the whole input in the `{CUSTOM_INPUT}` string. It must match this {syntax}:\n"
        f"```\n{fmt.definition}\n```"
    )

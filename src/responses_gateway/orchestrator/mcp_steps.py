"""The MCP steps of a response: list servers' tools, ask for approval, run calls.

Each step adds its output items and emits the reference's order C events around the awaits, so a
stream shows ``in_progress`` before a slow server answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import orjson

from responses_gateway import events
from responses_gateway.errors import McpDependencyFailed
from responses_gateway.events import Event
from responses_gateway.ids import new_id
from responses_gateway.mcp import McpCallOutcome, McpListError
from responses_gateway.observability.spans import mcp_outcome, mcp_span
from responses_gateway.orchestrator.catalog import McpBinding, ToolCatalog
from responses_gateway.orchestrator.state import ResponseState

if TYPE_CHECKING:  # the MCP SDK is imported when a request first opens sessions (mcp.open_sessions)
    from responses_gateway.mcp.client import McpSessions

EventSink = Callable[[Event], None]


@dataclass
class PlannedCall:
    binding: McpBinding
    name: str  # the MCP tool's own name
    arguments: str
    approval_request_id: str | None = None


async def list_new_servers(
    catalog: ToolCatalog, state: ResponseState, emit: EventSink, sessions: McpSessions
) -> None:
    """List every server with no usable ``mcp_list_tools`` in context, all at once."""
    pending = [b for b in catalog.bindings if b.tools is None or b.needs_relisting()]
    if not pending:
        return
    items: list[tuple[McpBinding, dict[str, Any], int]] = []
    for binding in pending:
        item: dict[str, Any] = {
            "id": new_id("mcpl"),
            "type": "mcp_list_tools",
            "server_label": binding.label,
            "tools": [],
        }  # no "error": null, which the Vercel AI SDK refuses; set only on failure
        index = state.add_item(item)
        emit(events.item_added(index, item))
        emit(events.item_progress("mcp_list_tools", "in_progress", item["id"], index))
        items.append((binding, item, index))
    results: dict[str, list[dict[str, Any]] | McpListError] = {}

    async def list_one(binding: McpBinding) -> None:
        with mcp_span("list_tools", binding.label) as span:
            try:
                results[binding.label] = await sessions.list_tools(binding.server)
            except McpListError as exc:
                results[binding.label] = exc
                mcp_outcome("list_tools", binding.label, False, span)
            else:
                mcp_outcome("list_tools", binding.label, True, span)

    async with anyio.create_task_group() as group:
        for binding in pending:
            group.start_soon(list_one, binding)
    failure: McpListError | None = None
    for binding, item, index in items:
        result = results[binding.label]
        if isinstance(result, McpListError):
            item["error"] = str(result)
            emit(events.item_progress("mcp_list_tools", "failed", item["id"], index))
            failure = failure or result
        else:
            binding.tools = [tool for tool in result if binding.allows(tool)]
            item["tools"] = binding.tools
            emit(events.item_progress("mcp_list_tools", "completed", item["id"], index))
        emit(state.item_done(index))
    if failure is not None:
        raise McpDependencyFailed(str(failure), code="mcp_list_tools_failed", param="tools")


def request_approval(call: PlannedCall, state: ResponseState, emit: EventSink) -> None:
    item = {
        "id": new_id("mcpr"),
        "type": "mcp_approval_request",
        "server_label": call.binding.label,
        "name": call.name,
        "arguments": call.arguments,
    }
    index = state.add_item(item)
    emit(events.item_added(index, item))
    emit(state.item_done(index))


def _parse_arguments(arguments: str) -> dict[str, Any] | McpCallOutcome:
    try:
        parsed = orjson.loads(arguments) if arguments.strip() else {}
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        message = "The model's tool arguments are not a JSON object."
        return McpCallOutcome(
            output=None, error={"type": "mcp_protocol_error", "code": -32602, "message": message}
        )
    return parsed


async def run_calls(
    calls: list[PlannedCall], state: ResponseState, emit: EventSink, sessions: McpSessions
) -> None:
    """Run calls concurrently (one session per server); results are emitted in call order."""
    started = [_start_call(call, state, emit) for call in calls]
    outcomes: list[McpCallOutcome | None] = [None] * len(calls)

    async def run_one(position: int, call: PlannedCall) -> None:
        outcomes[position] = await _call_outcome(call, sessions)

    async with anyio.create_task_group() as group:
        for position, call in enumerate(calls):
            group.start_soon(run_one, position, call)
    state.mcp_calls_executed += len(calls)
    for (item, index), outcome in zip(started, outcomes, strict=True):
        assert outcome is not None
        _finish_call(item, index, outcome, state, emit)


def _start_call(
    call: PlannedCall, state: ResponseState, emit: EventSink
) -> tuple[dict[str, Any], int]:
    """Add the call's item in progress, its arguments streamed whole: (item, output index)."""
    item: dict[str, Any] = {
        "id": new_id("mcp"),
        "type": "mcp_call",
        "status": "in_progress",
        "server_label": call.binding.label,
        "name": call.name,
        "arguments": "",
        "output": None,
        "error": None,
        "approval_request_id": call.approval_request_id,
    }
    index = state.add_item(item)
    emit(events.item_added(index, item))
    emit(events.item_progress("mcp_call", "in_progress", item["id"], index))
    if call.arguments:
        emit(events.arguments_delta("mcp_call", item["id"], index, call.arguments))
    emit(events.arguments_done("mcp_call", item["id"], index, call.arguments))
    item["arguments"] = call.arguments
    return item, index


async def _call_outcome(call: PlannedCall, sessions: McpSessions) -> McpCallOutcome:
    """The server's answer, or a protocol error for arguments that are not a JSON object."""
    arguments = _parse_arguments(call.arguments)
    if isinstance(arguments, McpCallOutcome):
        return arguments
    with mcp_span("call_tool", call.binding.label, call.name) as span:
        outcome = await sessions.call_tool(call.binding.server, call.name, arguments)
        mcp_outcome("call_tool", call.binding.label, outcome.error is None, span)
    return outcome


def _finish_call(
    item: dict[str, Any],
    index: int,
    outcome: McpCallOutcome,
    state: ResponseState,
    emit: EventSink,
) -> None:
    """Settle the item with its outcome (images set aside for the model's next round), close it."""
    item["output"], item["error"] = outcome.output, outcome.error
    if outcome.images:
        state.tool_images[item["id"]] = outcome.images
    item["status"] = "failed" if outcome.error is not None else "completed"
    stage = "failed" if outcome.error is not None else "completed"
    emit(events.item_progress("mcp_call", stage, item["id"], index))
    emit(state.item_done(index))

"""The web search step of a response: the model called the gateway's ``web_search`` function.

Each call becomes a ``web_search_call`` item with OpenAI's events around the await
(``output_item.added``, ``web_search_call.in_progress``, ``.searching``, ``.completed``,
``output_item.done``). The results go back to the model as the call's output: they ride on the
copy of the item the chat conversion sees (``with_results``), never on the item the client gets.
A failed search is a ``failed`` item and the model is told; the loop goes on, as with MCP.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import anyio
import orjson

from responses_gateway import events
from responses_gateway.events import Event
from responses_gateway.ids import new_id
from responses_gateway.orchestrator.state import ResponseState
from responses_gateway.web_search import SearchFailed, SearchResult, render_results

EventSink = Callable[[Event], None]
SOURCES_INCLUDE = "web_search_call.action.sources"


class WebSearcher(Protocol):
    @property
    def max_bytes(self) -> int: ...

    async def search(self, query: str, domains: tuple[str, ...] = ()) -> list[SearchResult]: ...


def _query(arguments: str) -> str | None:
    try:
        parsed = orjson.loads(arguments) if arguments.strip() else None
    except orjson.JSONDecodeError:
        return None
    query = parsed.get("query") if isinstance(parsed, dict) else None
    return query.strip() if isinstance(query, str) and query.strip() else None


async def run_searches(
    calls: list[str],
    searcher: WebSearcher,
    state: ResponseState,
    emit: EventSink,
    *,
    show_sources: bool,
    results: dict[str, str],
    domains: tuple[str, ...] = (),
) -> None:
    """Run the calls (their JSON arguments) concurrently; ``results`` gets each item's output
    for the model, by item id."""
    started: list[tuple[dict[str, Any], int, str | None]] = []
    for arguments in calls:
        query = _query(arguments)
        action = {"type": "search", "query": query or ""}
        item: dict[str, Any] = {"id": new_id("ws"), "type": "web_search_call"}
        item["status"] = "in_progress"
        item["action"] = action
        index = state.add_item(item)
        emit(events.item_added(index, dict(item, action=dict(action))))
        emit(events.item_progress("web_search_call", "in_progress", item["id"], index))
        emit(events.item_progress("web_search_call", "searching", item["id"], index))
        started.append((item, index, query))
    found: list[list[SearchResult] | str] = [""] * len(calls)

    async def search_one(position: int, query: str | None) -> None:
        if query is None:
            found[position] = 'the call had no query (arguments must be {"query": "…"})'
            return
        try:
            found[position] = await searcher.search(query, domains)
        except SearchFailed as exc:
            found[position] = str(exc)

    async with anyio.create_task_group() as group:
        for position, (_, _, query) in enumerate(started):
            group.start_soon(search_one, position, query)
    state.mcp_calls_executed += len(calls)
    for (item, index, query), outcome in zip(started, found, strict=True):
        if isinstance(outcome, str):
            item["status"] = "failed"
            results[item["id"]] = f"Error: the web search failed: {outcome}."
        else:
            item["status"] = "completed"
            results[item["id"]] = render_results(query or "", outcome, searcher.max_bytes)
            if show_sources:
                item["action"]["sources"] = [{"type": "url", "url": r.url} for r in outcome]
            emit(events.item_progress("web_search_call", "completed", item["id"], index))
        emit(state.item_done(index))


def with_results(items: list[dict[str, Any]], results: dict[str, str]) -> list[dict[str, Any]]:
    """The items as the chat conversion should see them: searches carry their results."""
    if not results:
        return items
    return [
        {**item, "results": results[item["id"]]}
        if item.get("type") == "web_search_call" and item.get("id") in results
        else item
        for item in items
    ]

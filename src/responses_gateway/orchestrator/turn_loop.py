"""``Orchestrator.run``: one response from ``response.created`` to its terminal event.

The loop: list new MCP servers, run approved calls, then ask the model; run the MCP calls it makes
and ask again, until it answers without them, calls a client-side function, needs an approval, or
hits ``max_tool_calls`` / ``GATEWAY_MAX_TOOL_ROUNDS``. Events go to ``emit`` as they happen; the
caller decides whether they are streamed or dropped. No FastAPI or SQL in here.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import anyio

from responses_gateway import events
from responses_gateway.chat.messages import ChatHistory, McpNames, to_chat_messages
from responses_gateway.chat.payload import chat_payload
from responses_gateway.chat.reasoning import NO_REPLAY, ReasoningReplay
from responses_gateway.chat.reply import ReplyParser, usage_from_chat
from responses_gateway.chat.shaping import DEFAULT_STYLE, ChatStyle
from responses_gateway.errors import GatewayError
from responses_gateway.events import Event
from responses_gateway.orchestrator.announcing import Announcing
from responses_gateway.orchestrator.catalog import ToolCatalog, chat_tool_choice
from responses_gateway.orchestrator.compaction_step import Compactor
from responses_gateway.orchestrator.mcp_steps import (
    PlannedCall,
    list_new_servers,
    request_approval,
    run_calls,
)
from responses_gateway.orchestrator.round_writer import RoundWriter, reasoning_output
from responses_gateway.orchestrator.state import ResponseState
from responses_gateway.orchestrator.web_search_steps import (
    SOURCES_INCLUDE,
    WebSearcher,
    run_searches,
    with_results,
)
from responses_gateway.schemas.request import CreateResponseRequest

if TYPE_CHECKING:  # the MCP SDK is imported when a request first opens sessions (mcp.open_sessions)
    from responses_gateway.mcp.client import McpSessions

EventSink = Callable[[Event], None]


def discard(_event: Event) -> None:
    """The sink of a non-streamed create: its events are never sent (``run`` skips the
    lifecycle ones for it)."""
    return None


INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}
_Call = TypeVar("_Call")


class ChatBackend(Protocol):
    async def complete(self, payload: dict[str, Any]) -> dict[str, Any]: ...

    def stream(
        self, payload: dict[str, Any], sent: Callable[[], None] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """``sent``: called once the request is written."""
        ...


class EarlierTurns(Protocol):
    def chat(self, mcp_names: McpNames, replay: ReasoningReplay) -> ChatHistory:
        """The earlier turns as chat messages, tools named as in ``mcp_names``."""
        ...


@dataclass
class Turn:
    """Everything validated before the first event: the request and the context it continues."""

    request: CreateResponseRequest
    history: EarlierTurns
    items: list[dict[str, Any]]  # this turn's input
    catalog: ToolCatalog
    approved: list[PlannedCall] = field(default_factory=list)
    compact_only: bool = False  # a compaction_trigger: the response is one compaction item
    compact_first: bool = False  # over context_management's threshold: compact, then answer


class Orchestrator:
    def __init__(
        self,
        upstream: ChatBackend,
        sessions: Callable[[], contextlib.AbstractAsyncContextManager[McpSessions]],
        *,
        max_tool_rounds: int,
        max_tokens_param: str,
        compactor: Compactor | None = None,
        replay: ReasoningReplay = NO_REPLAY,
        style: ChatStyle = DEFAULT_STYLE,
        web_search: WebSearcher | None = None,
    ) -> None:
        self._web_search = web_search
        self._upstream = upstream
        self._compactor = compactor
        self._sessions = sessions
        self._max_rounds = max_tool_rounds
        self._max_tokens_param = max_tokens_param
        self._replay = replay
        self._style = style

    async def run(self, turn: Turn, state: ResponseState, emit: EventSink) -> None:
        """Run to a final status without announcing it: the caller stores, then emits
        ``terminal_event(snapshot)``, so a client never sees ``completed`` for a row not written.
        A ``GatewayError`` ends the response ``failed``, the error kept on ``state.failure``."""
        if emit is discard:  # a snapshot nobody reads (measured with build_catalog's fast path)
            await self._run(turn, state, emit)
            return
        announcing = Announcing(emit, state.snapshot())
        try:
            await self._run(turn, state, announcing)
        finally:
            announcing.announce()  # a run that emitted nothing (it failed) still has them

    async def _run(self, turn: Turn, state: ResponseState, emit: EventSink) -> None:
        try:
            if turn.compact_only or turn.compact_first:
                await self._compact(turn, state, emit)
            if turn.compact_only:
                pass
            elif turn.catalog.bindings:
                async with self._sessions() as sessions:
                    await self._loop(turn, state, emit, sessions)
            else:
                await self._loop(turn, state, emit, None)
        except GatewayError as exc:
            fail(state, exc)
            return
        state.finish("incomplete" if state.incomplete_reason else "completed")

    async def _compact(self, turn: Turn, state: ResponseState, emit: EventSink) -> None:
        if self._compactor is None:
            raise GatewayError("Compaction is not available.", code="compaction_unavailable")
        names = turn.catalog.chat_names
        request = turn.request
        messages = to_chat_messages(
            request.instructions,
            turn.history.chat(names, self._replay),
            turn.items,
            names,
            self._replay,
            self._style,
        )
        await self._compactor.run(request.model, messages, state, emit)

    async def _loop(
        self, turn: Turn, state: ResponseState, emit: EventSink, sessions: McpSessions | None
    ) -> None:
        catalog = turn.catalog
        if sessions is not None:
            await list_new_servers(catalog, state, emit, sessions)
        catalog.build()
        choice, tools = chat_tool_choice(catalog, turn.request.tool_choice)
        if turn.approved and sessions is not None:
            approved = _within_budget(turn, state, turn.approved)
            if approved:
                await run_calls(approved, state, emit, sessions)
            if state.incomplete_reason:
                return
        for _ in range(self._max_rounds):
            writer = await self._model_round(turn, state, emit, choice, tools)
            if state.incomplete_reason or not writer.server_calls():
                return
            if not await self._server_calls(turn, state, emit, sessions, writer):
                return
            if writer.client_calls():
                return  # the client runs its functions before the model can go on
            # A forced or narrowed choice applies to the first round only.
            choice, tools = "auto", catalog.chat_tools
        state.incomplete_reason = "max_tool_calls"

    async def _model_round(
        self,
        turn: Turn,
        state: ResponseState,
        emit: EventSink,
        choice: str | dict[str, Any],
        tools: list[dict[str, Any]],
    ) -> RoundWriter:
        request = turn.request
        payload = self.payload(turn, state.model_view(), choice, tools)
        writer = RoundWriter(
            state,
            turn.catalog.is_server_tool,
            reasoning=reasoning_output(request, self._replay),
            client_tool=turn.catalog.client_tools.get,
        )
        parser = ReplyParser()
        if request.stream:
            try:
                await self._stream_round(payload, parser, writer, emit)
            except GatewayError:
                for event in writer.abort():  # the failed snapshot keeps what had arrived
                    emit(event)
                raise
            deltas = parser.finish()
        else:
            deltas = parser.feed_completion(await self._upstream.complete(payload))
        for event in writer.feed(deltas):
            emit(event)
        reason = INCOMPLETE_REASONS.get(parser.finish_reason or "")
        for event in writer.finish("incomplete" if reason else "completed"):
            emit(event)
        state.add_usage(usage_from_chat(parser.usage))
        state.incomplete_reason = reason
        return writer

    async def _stream_round(
        self, payload: dict[str, Any], parser: ReplyParser, writer: RoundWriter, emit: EventSink
    ) -> None:
        """Events as the chunks arrive. The round's first events are flushed, so they are
        written before the rest of a burst is parsed (measured on the benchmark's upstream,
        which sends a whole answer at once, in-process trace, min of 1,700: the first text delta
        went out 0.24 ms sooner, for one pass of the loop, now the producer's own write)."""
        waiting = True
        # Only ``discard`` reaches here unwrapped. Wrapping it too (an ``Announcing`` with no
        # snapshot) would drop this check, but put every event of a non-streamed create through
        # one more call: measured (callgrind), ``store: false`` 0.72 -> 0.74 M instructions.
        sent, flush = (
            (emit.announce, emit.flush)
            if isinstance(emit, Announcing)
            else (None, anyio.lowlevel.checkpoint)
        )
        async for chunk in self._upstream.stream(payload, sent):
            out = writer.feed(parser.feed_chunk(chunk))
            for event in out:
                emit(event)
            if out and waiting:
                waiting = False
                await flush()

    def payload(
        self,
        turn: Turn,
        output: list[dict[str, Any]],
        choice: str | dict[str, Any],
        tools: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """The chat request of a model round (also what ``input_tokens`` counts)."""
        items = [*turn.items, *output]
        if turn.compact_first and output:
            # This response's own rounds see the summary, then its input verbatim; later turns
            # see the summary (which covers that input) and what follows it.
            items = [output[0], *turn.items, *output[1:]]
        messages = to_chat_messages(
            turn.request.instructions,
            turn.history.chat(turn.catalog.chat_names, self._replay),
            with_results(items, turn.catalog.web_results),
            turn.catalog.chat_names,
            self._replay,
            self._style,
        )
        return chat_payload(
            turn.request,
            messages,
            tools,
            choice,
            stream=turn.request.stream,
            max_tokens_param=self._max_tokens_param,
        )

    def first_payload(self, turn: Turn) -> dict[str, Any]:
        """The first model round's chat request, with the tools known before any MCP listing."""
        turn.catalog.build()
        choice, tools = chat_tool_choice(turn.catalog, turn.request.tool_choice)
        return self.payload(turn, [], choice, tools)

    async def _server_calls(
        self,
        turn: Turn,
        state: ResponseState,
        emit: EventSink,
        sessions: McpSessions | None,
        writer: RoundWriter,
    ) -> bool:
        """Run this round's web searches and MCP calls; ``False`` when the response must stop."""
        catalog = turn.catalog
        calls = writer.server_calls()
        searches = [c.arguments for c in calls if c.name == catalog.web_search_name]
        searches = _within_budget(turn, state, searches)
        if searches and self._web_search is not None:
            show = SOURCES_INCLUDE in turn.request.include
            await run_searches(
                searches,
                self._web_search,
                state,
                emit,
                show_sources=show,
                results=catalog.web_results,
                domains=catalog.web_domains,
            )
        planned = [
            PlannedCall(*catalog.server_tools[call.name or ""], arguments=call.arguments)
            for call in calls
            if call.name in catalog.server_tools
        ]
        waiting = [call for call in planned if call.binding.needs_approval(call.name)]
        runnable = _within_budget(turn, state, [c for c in planned if c not in waiting])
        if runnable:
            assert sessions is not None  # MCP calls come from bindings, which open sessions
            await run_calls(runnable, state, emit, sessions)
        for call in waiting:
            request_approval(call, state, emit)
        return not waiting and not state.incomplete_reason


def _within_budget(turn: Turn, state: ResponseState, calls: list[_Call]) -> list[_Call]:
    """The calls ``max_tool_calls`` still allows; cutting any ends the response incomplete."""
    limit = turn.request.max_tool_calls
    if limit is None:
        return calls
    budget = max(limit - state.mcp_calls_executed, 0)
    if len(calls) > budget:
        state.incomplete_reason = "max_tool_calls"
        return calls[:budget]
    return calls


def fail(state: ResponseState, exc: GatewayError) -> None:
    state.failure = exc
    state.error = {"code": exc.code or exc.type, "message": exc.message}
    state.finish("failed")


def terminal_event(response: dict[str, Any]) -> Event:
    """``response.completed`` / ``incomplete`` / ``failed`` for a final Response snapshot."""
    return events.lifecycle(response["status"], response)

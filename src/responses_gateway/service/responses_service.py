"""``ResponsesService``: create (streamed or not), retrieve, delete, list input items.

Order of work for a create: validate and load the context (one query, or a cache hit confirmed
by one lookup or by the save itself) → run the orchestrator (no transaction open) → store the
finished response (one transaction) → announce the terminal event.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import anyio

from responses_gateway.errors import (
    GatewayError,
    InvalidRequest,
    NotFound,
    StoreUnavailable,
    previous_response_not_found,
)
from responses_gateway.events import lifecycle
from responses_gateway.ids import new_id
from responses_gateway.mcp import EgressPolicy
from responses_gateway.observability.spans import finished, response_span, store_operation
from responses_gateway.orchestrator.state import ResponseState, request_echo
from responses_gateway.orchestrator.turn_loop import (
    EventSink,
    Orchestrator,
    Turn,
    discard,
    fail,
    terminal_event,
)
from responses_gateway.schemas.base import plausible_id
from responses_gateway.schemas.request import CreateResponseRequest
from responses_gateway.sealing import Sealer
from responses_gateway.service.compaction_items import open_compactions, wants_compaction
from responses_gateway.service.context import input_items
from responses_gateway.service.context_window import ContextWindow
from responses_gateway.service.conversation_turns import ConversationTurns, conversation_id_of
from responses_gateway.service.conversations import item_list
from responses_gateway.service.history import EMPTY_HISTORY, History, HistoryCache
from responses_gateway.service.refusals import refuse_unsupported_fields
from responses_gateway.service.tool_shapes import DEFAULT_HOSTED_POLICY, HostedToolPolicy
from responses_gateway.service.tools import approved_calls, build_catalog
from responses_gateway.store.responses import ResponseStore

log = logging.getLogger("responses_gateway")


def owner_of(api_key: str | None) -> str:
    """Rows are owned by a hash of the API key: the key itself is never stored."""
    if not api_key:
        return ""
    return hashlib.sha256(api_key.encode()).hexdigest()[:32]


_CLIENT_TOOL_TYPES = frozenset({"function", "custom", "namespace"})


def _warm_up(state: ResponseState, emit: EventSink) -> None:
    """``generate: false``: the context is checked, loaded and (with ``store``) saved so that
    a later turn can chain from it cheaply, but the model is not asked."""
    emit(lifecycle("created", state.snapshot()))
    state.finish("completed")


def _may_defer_check(request: CreateResponseRequest) -> bool:
    """Whether the previous response may be confirmed when the response is saved: only when
    it is saved, and nothing but the model call happens before (no stream to start, no MCP
    tool to run)."""
    return (
        request.store
        and not request.stream
        and not request.background
        and all(tool.type in _CLIENT_TOOL_TYPES for tool in request.tools)
        and (
            isinstance(request.input, str)
            or all(i["type"] != "additional_tools" for i in request.input)
        )
    )


@dataclass
class PreparedTurn:
    """A create that passed every check: what the run needs, and the chain it continues (kept
    to cache the new response's history once it is stored)."""

    turn: Turn
    state: ResponseState
    history: History
    unverified: bool = False  # the cached previous response is confirmed live by the save
    conversation: tuple[str, int] | None = None  # its id and the version its history is of
    # Stores the final Response instead of ResponseStore.save (background runs: their row
    # exists from the start); returns the size stored. Failed responses go to it too.
    saver: Callable[[dict[str, Any]], Awaitable[int]] | None = None


class ResponsesService:
    def __init__(
        self,
        store: ResponseStore,
        orchestrator: Orchestrator,
        *,
        policy: EgressPolicy,
        default_approval: str,
        history_cache: HistoryCache,
        conversations: ConversationTurns,
        sealer: Sealer,
        window: ContextWindow,
        hosted: HostedToolPolicy = DEFAULT_HOSTED_POLICY,
    ) -> None:
        self._hosted = hosted
        self._store = store
        self._conversations = conversations
        self._sealer = sealer
        self._orchestrator = orchestrator
        self._window = window
        self._policy = policy
        self._default_approval = default_approval
        self._histories = history_cache

    async def prepare(
        self, request: CreateResponseRequest, owner: str, *, parent: History | None = None
    ) -> PreparedTurn:
        """Everything that can be refused with a 4xx, done before the first event (but for
        the one check a non-streamed create may leave to its save: see ``_history``).
        ``parent``: the history of ``previous_response_id`` when the caller holds it (a
        WebSocket connection's ``store: false`` responses), so nothing is read."""
        refuse_unsupported_fields(request)
        history, unverified = EMPTY_HISTORY, False
        conversation_id, conversation = conversation_id_of(request), None
        if parent is not None:
            history = parent
        elif conversation_id is not None:
            history, version = await self._conversations.history(owner, conversation_id)
            conversation = (conversation_id, version)
        elif request.previous_response_id is not None:
            history, unverified = await self._history(
                owner,
                request.previous_response_id,
                may_defer=_may_defer_check(request),
            )

        async def find_items(ids: list[str]) -> dict[str, dict[str, Any]]:
            return await self._store.find_items(owner, ids)

        items = await input_items(request, history.items, find_items)
        open_compactions(items, self._sealer)
        compact_only = wants_compaction(items)
        catalog, echoed = await build_catalog(
            request, history, items, self._policy, self._default_approval, self._hosted
        )
        if unverified and catalog.bindings:  # MCP tools from earlier turns' tool items run first
            assert request.previous_response_id is not None
            if not await self._store.is_live(owner, request.previous_response_id):
                self._refuse_previous(owner, request.previous_response_id)
            unverified = False
        turn = Turn(
            request,
            history,
            items,
            catalog,
            approved_calls(catalog, history, items),
            compact_only=compact_only,
        )
        await self._window.fit(turn)
        state = ResponseState(id=new_id("resp"), echo=request_echo(request, echoed))
        if conversation_id is not None:
            state.echo["conversation"] = {"id": conversation_id}
        return PreparedTurn(turn, state, history, unverified, conversation)

    async def _history(
        self, owner: str, response_id: str, *, may_defer: bool
    ) -> tuple[History, bool]:
        """The chain ending at ``response_id``, and whether it is still unverified.

        A cached chain is used once the database confirms that the response is still there (it
        may have been deleted through another replica). With ``may_defer`` that confirmation is
        part of the save's own statement, so a chained turn costs no extra query; nothing is
        sent to the client before the save, and a refusal is the same 400. Else: one indexed
        lookup now, or, for a chain not in the cache, the one recursive query."""
        cached = self._histories.get(owner, response_id)
        if cached is not None:
            if may_defer:
                return cached, True
            if not await self._store.is_live(owner, response_id):
                self._refuse_previous(owner, response_id)
            return cached, False
        with store_operation("history"):
            found = await self._store.history(owner, response_id)
        if found is None:
            raise previous_response_not_found(response_id)
        history = History.of(*found)
        open_compactions(history.items, self._sealer, param="previous_response_id")
        self._histories.put(owner, response_id, history)
        return history, False

    async def history_of(self, owner: str, response_id: str) -> History:
        """The chain ending at ``response_id`` (checked live), for ``/responses/compact``."""
        history, _ = await self._history(owner, response_id, may_defer=False)
        return history

    def _refuse_previous(self, owner: str, response_id: str) -> NoReturn:
        self._histories.discard(owner, response_id)
        raise previous_response_not_found(response_id)

    async def create(self, request: CreateResponseRequest, owner: str) -> dict[str, Any]:
        """A non-streamed create: the Response object, or the error as an HTTP status."""
        prepared = await self.prepare(request, owner)
        state = prepared.state
        with response_span(request.model, state.id) as span:
            await self._orchestrator.run(prepared.turn, state, discard)
            if state.failure is not None:
                raise state.failure
            response = state.snapshot()
            await self._save(owner, response, prepared)
            finished(span, response)
        return response

    async def produce(
        self, prepared: PreparedTurn, owner: str, emit: EventSink, *, generate: bool = True
    ) -> None:
        """A streamed create. When the client goes away mid-run the task is cancelled: the
        upstream call stops there, and what was finished is stored as ``cancelled``.
        ``generate=False`` (WebSocket warm-up): created and completed with no model call."""
        state = prepared.state
        with response_span(prepared.turn.request.model, state.id) as span:
            try:
                if generate:
                    await self._orchestrator.run(prepared.turn, state, emit)
                else:
                    _warm_up(state, emit)
            except Exception as exc:  # a bug must still end the stream with response.failed
                log.exception("response %s failed unexpectedly", state.id)
                fail(state, GatewayError(f"The server had an error ({type(exc).__name__})."))
            except anyio.get_cancelled_exc_class():
                with anyio.CancelScope(shield=True):
                    state.cancel()
                    response = state.snapshot()
                    await self._save(owner, response, prepared, quiet=True)
                    finished(span, response)
                raise
            response = state.snapshot()
            try:
                await self._save(owner, response, prepared)
            except GatewayError as exc:
                fail(state, exc)
                response = state.snapshot()
            finished(span, response)
            emit(terminal_event(response))

    async def _save(
        self, owner: str, response: dict[str, Any], prepared: PreparedTurn, *, quiet: bool = False
    ) -> None:
        # Failed responses are not stored: a non-streamed failure is an HTTP error with no
        # response id to retrieve, and a streamed one must store exactly the same.
        if not prepared.turn.request.store or (
            response["status"] == "failed" and not prepared.saver
        ):
            return
        try:
            size = await self._write(owner, response, prepared)
        except (StoreUnavailable, NotFound):  # NotFound: the conversation was deleted meanwhile
            if quiet:
                return
            raise
        except Exception as exc:
            log.exception("storing response %s failed", response["id"])
            if quiet:
                return
            raise GatewayError("The response could not be stored.", code="store_failed") from exc
        previous = prepared.turn.request.previous_response_id
        if size is None:
            assert previous is not None  # only a chained create is saved with a check
            self._refuse_previous(owner, previous)
        if previous is not None and prepared.conversation is None:
            # Only conversations are cached (a one-off response costs its first follow-up one
            # short query), and only their newest turn: chaining twice from one response
            # (a regenerate) reads the history from the database again.
            # The state's output: the response's, with compactions still opened.
            items = [*prepared.turn.items, *prepared.state.output]
            self._histories.put(owner, response["id"], prepared.history.extended(items, size))
            self._histories.discard(owner, previous)

    async def _write(
        self, owner: str, response: dict[str, Any], prepared: PreparedTurn
    ) -> int | None:
        """Stores the response: as a background job's, a conversation's turn, or on its own.
        Returns its items' size (0 for a conversation's turn, which ``_save`` does not cache
        as a chain), or None when the unconfirmed previous response was gone."""
        if prepared.saver is not None:
            return await prepared.saver(response)
        items = prepared.turn.items
        with store_operation("save"):
            if prepared.conversation is not None:
                conversation_id, version = prepared.conversation
                await self._conversations.save(
                    owner,
                    conversation_id,
                    response,
                    items,
                    prepared.state.output,
                    prepared.history,
                    version,
                )
                return 0
            return await self._store.save(
                owner, response, items, check_previous=prepared.unverified
            )

    async def ping(self) -> None:
        await self._store.ping()

    async def get(self, owner: str, response_id: str) -> dict[str, Any]:
        _check_id(response_id)
        response = await self._store.get(owner, response_id)
        if response is None:
            raise _not_found(response_id)
        return response

    async def delete(self, owner: str, response_id: str) -> dict[str, Any]:
        _check_id(response_id)
        self._histories.discard(owner, response_id)
        if not await self._store.delete(owner, response_id):
            raise _not_found(response_id)
        return {"id": response_id, "object": "response", "deleted": True}

    async def input_items(
        self, owner: str, response_id: str, *, after: str | None, limit: int, order: str
    ) -> dict[str, Any]:
        _check_id(response_id)
        if after is not None and not plausible_id(after):
            raise InvalidRequest("Invalid value for 'after': not an item id.", param="after")
        page = await self._store.input_items(
            owner, response_id, after=after, limit=limit, order=order
        )
        if page is None:
            raise _not_found(response_id)
        return item_list(*page)


def _check_id(response_id: str) -> None:
    """An id that cannot be stored cannot be found: the same 404 on both databases, without
    sending PostgreSQL a NUL it would refuse."""
    if not plausible_id(response_id):
        raise _not_found(response_id)


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id[:64]}' not found.", param="response_id")

"""``ResponsesService``: create (streamed or not), retrieve, delete, list input items.

Order of work for a create: validate and load the context (one query) → run the orchestrator (no
transaction open) → store the finished response (one transaction) → announce the terminal event.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import anyio

from responses_gateway.errors import GatewayError, NotFound, previous_response_not_found
from responses_gateway.events import Event
from responses_gateway.ids import new_id
from responses_gateway.mcp import EgressPolicy
from responses_gateway.orchestrator.state import ResponseState, request_echo
from responses_gateway.orchestrator.turn_loop import (
    EventSink,
    Orchestrator,
    Turn,
    fail,
    terminal_event,
)
from responses_gateway.schemas.request import CreateResponseRequest
from responses_gateway.service.context import input_items
from responses_gateway.service.refusals import refuse_unsupported_fields
from responses_gateway.service.tools import approved_calls, build_catalog
from responses_gateway.store.responses import ResponseStore

log = logging.getLogger("responses_gateway")


def owner_of(api_key: str | None) -> str:
    """Rows are owned by a hash of the API key: the key itself is never stored."""
    if not api_key:
        return ""
    return hashlib.sha256(api_key.encode()).hexdigest()[:32]


def _discard(_event: Event) -> None:
    return None


class ResponsesService:
    def __init__(
        self,
        store: ResponseStore,
        orchestrator: Orchestrator,
        *,
        policy: EgressPolicy,
        default_approval: str,
    ) -> None:
        self._store = store
        self._orchestrator = orchestrator
        self._policy = policy
        self._default_approval = default_approval

    async def prepare(
        self, request: CreateResponseRequest, owner: str
    ) -> tuple[Turn, ResponseState, list[dict[str, Any]]]:
        """Everything that can be refused with a 4xx, done before the first event."""
        refuse_unsupported_fields(request)
        history: list[dict[str, Any]] = []
        if request.previous_response_id is not None:
            found = await self._store.history(owner, request.previous_response_id)
            if found is None:
                raise previous_response_not_found(request.previous_response_id)
            history = found

        async def find_items(ids: list[str]) -> dict[str, dict[str, Any]]:
            return await self._store.find_items(owner, ids)

        items = await input_items(request, history, find_items)
        context = history + items
        catalog, echoed = await build_catalog(
            request, context, self._policy, self._default_approval
        )
        turn = Turn(request, context, catalog, approved_calls(catalog, context, items))
        state = ResponseState(id=new_id("resp"), echo=request_echo(request, echoed))
        return turn, state, items

    async def create(self, request: CreateResponseRequest, owner: str) -> dict[str, Any]:
        """A non-streamed create: the Response object, or the error as an HTTP status."""
        turn, state, items = await self.prepare(request, owner)
        await self._orchestrator.run(turn, state, _discard)
        if state.failure is not None:
            raise state.failure
        response = state.snapshot()
        await self._save(owner, response, items, request.store)
        return response

    async def produce(
        self,
        turn: Turn,
        state: ResponseState,
        items: list[dict[str, Any]],
        owner: str,
        emit: EventSink,
    ) -> None:
        """A streamed create. When the client goes away mid-run the task is cancelled: the
        upstream call stops there, and what was finished is stored as ``cancelled``."""
        try:
            await self._orchestrator.run(turn, state, emit)
        except Exception as exc:  # a bug must still end the stream with response.failed
            log.exception("response %s failed unexpectedly", state.id)
            fail(state, GatewayError(f"The server had an error ({type(exc).__name__})."))
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                state.cancel()
                await self._save(owner, state.snapshot(), items, turn.request.store, quiet=True)
            raise
        response = state.snapshot()
        try:
            await self._save(owner, response, items, turn.request.store)
        except GatewayError as exc:
            fail(state, exc)
            response = state.snapshot()
        emit(terminal_event(response))

    async def _save(
        self,
        owner: str,
        response: dict[str, Any],
        items: list[dict[str, Any]],
        store: bool,
        *,
        quiet: bool = False,
    ) -> None:
        # Failed responses are not stored: a non-streamed failure is an HTTP error with no
        # response id to retrieve, and a streamed one must store exactly the same.
        if not store or response["status"] == "failed":
            return
        try:
            await self._store.save(owner, response, items)
        except Exception as exc:
            log.exception("storing response %s failed", response["id"])
            if quiet:
                return
            raise GatewayError("The response could not be stored.", code="store_failed") from exc

    async def ping(self) -> None:
        await self._store.ping()

    async def get(self, owner: str, response_id: str) -> dict[str, Any]:
        response = await self._store.get(owner, response_id)
        if response is None:
            raise _not_found(response_id)
        return response

    async def delete(self, owner: str, response_id: str) -> dict[str, Any]:
        if not await self._store.delete(owner, response_id):
            raise _not_found(response_id)
        return {"id": response_id, "object": "response", "deleted": True}

    async def input_items(
        self, owner: str, response_id: str, *, after: str | None, limit: int, order: str
    ) -> dict[str, Any]:
        page = await self._store.input_items(
            owner, response_id, after=after, limit=limit, order=order
        )
        if page is None:
            raise _not_found(response_id)
        data, has_more = page
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": has_more,
        }


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.", param="response_id")

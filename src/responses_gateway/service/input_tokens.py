"""``POST /v1/responses/input_tokens``: the prompt tokens the model would see for a create.

The request is prepared exactly as a create is (its chain or conversation, instructions, tools,
compaction items: one code path, ``ResponsesService.prepare``), rendered into the first model
round's chat request (``Orchestrator.first_payload``) and counted by the backend
(``tokenizer.TokenCounter``). MCP servers not yet listed in the context add no tool definitions:
listing them would mean connecting to them.
"""

from __future__ import annotations

from typing import Any

from responses_gateway.orchestrator.turn_loop import Orchestrator
from responses_gateway.schemas.input_tokens import InputTokensRequest
from responses_gateway.service.responses_service import ResponsesService
from responses_gateway.tokenizer import TokenCounter


class InputTokensService:
    def __init__(
        self, responses: ResponsesService, orchestrator: Orchestrator, counter: TokenCounter
    ) -> None:
        self._responses = responses
        self._orchestrator = orchestrator
        self._counter = counter

    async def count(self, owner: str, body: InputTokensRequest) -> dict[str, Any]:
        # Not stored and not streamed: a cached chain is confirmed now, never by a save.
        request = body.model_copy(update={"store": False, "stream": False})
        prepared = await self._responses.prepare(request, owner)
        payload = self._orchestrator.first_payload(prepared.turn)
        tokens = await self._counter.count(payload)
        return {"object": "response.input_tokens", "input_tokens": tokens}

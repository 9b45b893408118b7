"""Fitting a turn to the model: ``truncation: "auto"`` and ``context_management`` compaction,
both decided on the backend's own count of the first model round's prompt
(``tokenizer.TokenCounter``, the count ``/v1/responses/input_tokens`` answers).

- ``truncation: "auto"``: while the prompt plus ``max_output_tokens`` exceeds the model's
  context window, drop the oldest stored turns (a binary search: about log2(turns) counts). The
  window comes from the backend's ``/v1/models`` (vLLM's ``max_model_len``, llama.cpp's
  ``meta.n_ctx``, else ``meta.n_ctx_train``) or from vLLM's ``/tokenize``, else
  ``GATEWAY_CONTEXT_WINDOW``; with none of these, the request is a 400.
  Only what is sent shrinks: the stored chain stays whole.
- ``context_management: [{"type": "compaction", "compact_threshold": N}]``: when the prompt is
  over N tokens, the response compacts first (``Turn.compact_first``).

Neither costs anything unless asked for: one count per request that sets them.
"""

from __future__ import annotations

from typing import Any

import orjson

from responses_gateway.errors import InvalidRequest
from responses_gateway.orchestrator.turn_loop import Orchestrator, Turn
from responses_gateway.service.history import History
from responses_gateway.tokenizer import TokenCounter
from responses_gateway.upstream import UpstreamClient

MIN_COMPACT_THRESHOLD = 1000


def compact_threshold(value: Any) -> int | None:
    """``context_management`` as a threshold, or a 400 naming what is wrong."""
    if not value:
        return None
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        raise InvalidRequest(
            "context_management must be a list with one {'type': 'compaction', "
            "'compact_threshold': N} entry.",
            param="context_management",
        )
    entry = value[0]
    if entry.get("type") != "compaction":
        raise InvalidRequest(
            "Only context_management entries of type 'compaction' are supported.",
            param="context_management[0].type",
        )
    threshold = entry.get("compact_threshold")
    if not isinstance(threshold, int) or isinstance(threshold, bool):
        raise InvalidRequest(
            "compact_threshold is required: the token count past which to compact.",
            param="context_management[0].compact_threshold",
        )
    if threshold < MIN_COMPACT_THRESHOLD:
        raise InvalidRequest(
            f"compact_threshold must be at least {MIN_COMPACT_THRESHOLD}.",
            param="context_management[0].compact_threshold",
        )
    return threshold


class ContextWindow:
    def __init__(
        self,
        orchestrator: Orchestrator,
        counter: TokenCounter,
        upstream: UpstreamClient,
        configured: int | None,
    ) -> None:
        self._orchestrator = orchestrator
        self._counter = counter
        self._upstream = upstream
        self._configured = configured
        self._windows: dict[str, int | None] = {}

    async def fit(self, turn: Turn) -> None:
        request = turn.request
        threshold = compact_threshold(request.context_management)
        if request.truncation == "auto":
            await self._truncate(turn)
        if threshold is not None and not turn.compact_only:
            tokens = await self._counter.count(self._orchestrator.first_payload(turn))
            turn.compact_first = tokens > threshold

    async def _truncate(self, turn: Turn) -> None:
        full = turn.history
        payload = self._orchestrator.first_payload(turn)
        window = await self.window(turn.request.model)
        if window is None and await self._counter.learn_window(payload):
            window = await self.window(turn.request.model)
        if window is None:
            raise InvalidRequest(
                "truncation 'auto' needs the model's context window: the upstream does not "
                "report it, so set GATEWAY_CONTEXT_WINDOW.",
                param="truncation",
            )
        budget = window - (turn.request.max_output_tokens or 0)
        tokens = await self._counter.count(payload)
        if tokens <= budget or not isinstance(full, History) or not full.turns:
            return
        low, high = 1, len(full.turns)  # the fewest oldest turns to drop
        while low < high:
            middle = (low + high) // 2
            if await self._fits(turn, _without_oldest(full, middle), budget):
                high = middle
            else:
                low = middle + 1
        turn.history = _without_oldest(full, low)

    async def _fits(self, turn: Turn, history: History, budget: int) -> bool:
        turn.history = history
        return await self._counter.count(self._orchestrator.first_payload(turn)) <= budget

    async def window(self, model: str) -> int | None:
        """The model's context window: the backend's word, else the setting."""
        if model not in self._windows:
            self._windows[model] = await self._reported_window(model)
        return self._windows[model] or self._counter.context_window or self._configured

    async def _reported_window(self, model: str) -> int | None:
        relayed = await self._upstream.relay("GET", "models")
        body = b"".join([chunk async for chunk in relayed.body])
        if relayed.status != 200:
            return None
        try:
            models = orjson.loads(body).get("data") or []
        except (orjson.JSONDecodeError, AttributeError):
            return None
        for entry in models:
            # llama.cpp lists its one model under its file path, whatever name clients use.
            if not isinstance(entry, dict) or (entry.get("id") != model and len(models) > 1):
                continue
            meta = entry.get("meta") or {}
            found = entry.get("max_model_len") or meta.get("n_ctx") or meta.get("n_ctx_train")
            if isinstance(found, int) and found > 0:
                return found
        return None


def _without_oldest(history: History, count: int) -> History:
    turns = history.turns[count:]
    return History.of(turns, 0)

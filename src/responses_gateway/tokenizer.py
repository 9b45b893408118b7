"""Counting a chat request's prompt tokens the way the backend will: with its own tokenizer and
chat template where it exposes them, else by asking it for one token and reading
``usage.prompt_tokens``.

- vLLM: ``POST {root}/tokenize`` with ``messages`` (and ``tools``): it applies the chat template
  and answers ``{"count", "tokens", "max_model_len"}``. Exact, and no generation.
- llama.cpp ``llama-server``: ``POST {root}/apply-template`` (the chat request, template applied,
  ``{"prompt"}``), then ``POST {root}/tokenize`` ``{"content", "add_special": true}`` →
  ``{"tokens"}``. Exact, and no generation.
- Anything else (Ollama, hosted APIs): the same chat request with ``max_tokens: 1``; exact where
  the backend reports ``prompt_tokens`` (it runs the prompt through the model once: the cost of
  prefilling the prompt and one output token).

``{root}`` is ``GATEWAY_UPSTREAM_URL`` without its trailing ``/v1``. The first count finds
which of these the backend answers (a 404 or 405 moves on to the next) and remembers it for the
process. ``GATEWAY_TOKENIZER`` pins one (``vllm``, ``llamacpp``, ``completion``).
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

from responses_gateway.errors import UpstreamError
from responses_gateway.upstream import UpstreamClient

Mode = Literal["auto", "vllm", "llamacpp", "completion"]
_MISSING = (404, 405, 501)
_ORDER: list[Mode] = ["vllm", "llamacpp", "completion"]


class _NotHere(Exception):
    """The backend has no such route: try the next way of counting."""


class TokenCounter:
    def __init__(self, upstream: UpstreamClient, mode: Mode = "auto") -> None:
        self._upstream = upstream
        self._mode: Mode = mode
        self._pinned = mode != "auto"
        self.context_window: int | None = None  # vLLM's /tokenize says max_model_len

    @property
    def mode(self) -> Mode:
        return self._mode

    async def count(self, payload: dict[str, Any]) -> int:
        """The prompt tokens of the chat request ``payload`` (its ``stream`` is ignored)."""
        modes: list[Mode] = [self._mode] if self._pinned else _ORDER
        if self._mode in _ORDER:  # the way that worked last, first
            modes = [self._mode, *(mode for mode in _ORDER if mode != self._mode)]
        for mode in modes:
            try:
                tokens = await self._count_with(mode, payload)
            except _NotHere:
                continue
            self._mode = mode
            return tokens
        raise UpstreamError("The upstream cannot count tokens.", code="tokenizer_unavailable")

    async def learn_window(self, payload: dict[str, Any]) -> bool:
        """Ask vLLM's /tokenize for the context window (nothing else is tried: no generation);
        whether it is known now."""
        if self.context_window is None and self._mode in ("auto", "vllm"):
            try:
                await self._count_with("vllm", payload)
            except _NotHere:
                return False
        return self.context_window is not None

    async def _count_with(self, mode: Mode, payload: dict[str, Any]) -> int:
        chat = {k: v for k, v in payload.items() if k not in ("stream", "stream_options")}
        if mode == "vllm":
            body = {"model": chat["model"], "messages": chat["messages"]}
            body |= {"add_generation_prompt": True}
            if chat.get("tools"):
                body["tools"] = chat["tools"]
            answer = await self._post("tokenize", body)
            if "count" not in answer:
                raise _NotHere
            if answer.get("max_model_len"):
                self.context_window = int(answer["max_model_len"])
            return int(answer["count"])
        if mode == "llamacpp":
            prompt = (await self._post("apply-template", chat)).get("prompt")
            if not isinstance(prompt, str):
                raise _NotHere
            tokens = await self._post("tokenize", {"content": prompt, "add_special": True})
            return len(tokens.get("tokens") or [])
        completion = await self._upstream.complete(chat | {"max_tokens": 1})
        usage = completion.get("usage") or {}
        if "prompt_tokens" not in usage and "input_tokens" not in usage:
            raise UpstreamError(
                "The upstream reported no prompt_tokens, so the input cannot be counted.",
                code="tokenizer_unavailable",
            )
        return int(usage.get("prompt_tokens", usage.get("input_tokens")) or 0)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        status, raw = await self._upstream.post_root(path, orjson.dumps(body))  # or UpstreamError
        if status in _MISSING:
            raise _NotHere
        if status >= 400:
            raise UpstreamError(f"The upstream's /{path} answered {status}.", status_code=502)
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _NotHere from None
        if not isinstance(parsed, dict):
            raise _NotHere
        return parsed

"""Chat-completions replies (streamed chunks or one whole completion) → reply deltas.

Both upstream modes go through ``ReplyParser`` so a streamed and a non-streamed response are built by
the same code. Reasoning arrives as ``reasoning_content``/``reasoning`` (vLLM, DeepSeek, Ollama) or as
a leading ``<think>…</think>`` block inside ``content`` (Qwen3); the tags never reach ``output_text``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from responses_gateway.errors import UpstreamError

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


@dataclass(slots=True)
class TextDelta:
    kind: Literal["text", "reasoning", "refusal"]
    text: str


@dataclass(slots=True)
class ToolCallDelta:
    index: int
    call_id: str | None
    name: str | None
    arguments: str


Delta = TextDelta | ToolCallDelta


def _partial_suffix(buffer: str, tag: str) -> int:
    """Length of the longest suffix of ``buffer`` that could start ``tag``."""
    for size in range(min(len(tag) - 1, len(buffer)), 0, -1):
        if tag.startswith(buffer[-size:]):
            return size
    return 0


class ThinkSplitter:
    """Splits a leading ``<think>`` block out of streamed content, tags split across chunks too."""

    __slots__ = ("_buffer", "_state")

    def __init__(self) -> None:
        self._state: Literal["start", "think", "after_think", "text"] = "start"
        self._buffer = ""

    def feed(self, text: str) -> list[TextDelta]:
        if self._state == "text":
            return [TextDelta("text", text)]
        self._buffer += text
        out: list[TextDelta] = []
        while self._buffer:
            if self._state == "start":
                head = self._buffer.lstrip()
                if head.startswith(THINK_OPEN):
                    self._buffer = head[len(THINK_OPEN) :]
                    self._state = "think"
                elif THINK_OPEN.startswith(head):
                    break  # maybe the tag, still arriving
                else:
                    self._state = "text"
            elif self._state == "think":
                end = self._buffer.find(THINK_CLOSE)
                if end < 0:
                    keep = _partial_suffix(self._buffer, THINK_CLOSE)
                    cut = len(self._buffer) - keep
                    if cut:
                        out.append(TextDelta("reasoning", self._buffer[:cut]))
                    self._buffer = self._buffer[cut:]
                    break
                if end:
                    out.append(TextDelta("reasoning", self._buffer[:end]))
                self._buffer = self._buffer[end + len(THINK_CLOSE) :]
                self._state = "after_think"
            elif self._state == "after_think":
                self._buffer = self._buffer.lstrip()
                if self._buffer:
                    self._state = "text"
            else:
                out.append(TextDelta("text", self._buffer))
                self._buffer = ""
        return out

    def finish(self) -> list[TextDelta]:
        rest, self._buffer = self._buffer, ""
        if not rest:
            return []
        return [TextDelta("reasoning" if self._state == "think" else "text", rest)]


@dataclass(slots=True)
class ReplyParser:
    """Feeds chunks in, hands deltas out, and remembers ``finish_reason`` and ``usage``."""

    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    answered: bool = False  # a choice arrived: a 200 without any is no answer (see ``finish``)
    _think: ThinkSplitter = field(default_factory=ThinkSplitter)

    def feed_chunk(self, chunk: dict[str, Any]) -> list[Delta]:
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        choices = chunk.get("choices") or ()
        if not choices:
            return []
        self.answered = True
        choice = choices[0]
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
        delta = choice.get("delta") or choice.get("message") or {}
        return self._feed_delta(delta)

    def feed_completion(self, completion: dict[str, Any]) -> list[Delta]:
        """A whole non-streamed completion is one big chunk, then the end."""
        return self.feed_chunk(completion) + self.finish()

    def finish(self) -> list[Delta]:
        if not self.answered:
            raise UpstreamError("The upstream model server answered without any choices.")
        return list(self._think.finish())

    def _feed_delta(self, delta: dict[str, Any]) -> list[Delta]:
        out: list[Delta] = []
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            out.append(TextDelta("reasoning", reasoning))
        content = delta.get("content")
        if isinstance(content, str) and content:
            out.extend(self._think.feed(content))
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            out.append(TextDelta("refusal", refusal))
        for position, call in enumerate(delta.get("tool_calls") or ()):
            function = call.get("function") or {}
            arguments = function.get("arguments")
            if isinstance(arguments, dict):  # Ollama sends parsed arguments
                arguments = orjson.dumps(arguments).decode()
            out.append(
                ToolCallDelta(
                    index=call.get("index", position),
                    call_id=call.get("id"),
                    name=function.get("name"),
                    arguments=arguments or "",
                )
            )
        return out


def usage_from_chat(usage: dict[str, Any] | None) -> dict[str, int] | None:
    """Map chat (``prompt_tokens``…) or Responses-style (``input_tokens``…) usage to OpenAI's
    names; None when the backend reported none (llama-cpp-python's streams): unknown, not zero."""
    if usage is None:
        return None
    input_tokens = int(usage.get("prompt_tokens", usage.get("input_tokens")) or 0)
    output_tokens = int(usage.get("completion_tokens", usage.get("output_tokens")) or 0)
    input_details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
    output_details = (
        usage.get("completion_tokens_details") or usage.get("output_tokens_details") or {}
    )
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cached_tokens": int(input_details.get("cached_tokens") or 0),
        "reasoning_tokens": int(output_details.get("reasoning_tokens") or 0),
    }

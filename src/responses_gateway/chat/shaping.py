"""The final shape of a chat request's ``messages``, for what chat templates accept.

Many templates (Qwen's, Gemma's, Mistral's) take one system message, at the start, and fail on
any other. So this turn's instructions and every system/developer message before the first other
message become one system message; a system/developer message later in the conversation becomes
a ``user`` message labelled as such (``late_system="user"``, the default) or stays as it is
(``"system"``, for backends that take it). Past reasoning travels as ``reasoning_content`` on
assistant messages; here it is also copied to ``reasoning`` (``"both"``, the default: llama.cpp
reads ``reasoning_content``, vLLM since 0.11 and Ollama read ``reasoning``), or renamed, or
dropped for backends that refuse both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ChatMessage = dict[str, Any]
LATE_SYSTEM_LABEL = "[System message]\n"


@dataclass(frozen=True, slots=True)
class ChatStyle:
    reasoning_field: Literal["both", "reasoning_content", "reasoning", "off"] = "both"
    late_system: Literal["user", "system"] = "user"


DEFAULT_STYLE = ChatStyle()


def shape_messages(
    instructions: str | None, messages: list[ChatMessage], style: ChatStyle, unshaped: int = 0
) -> list[ChatMessage]:
    """``messages`` are shared with the history cache: changed ones are copies. The first
    ``unshaped`` are known to pass unchanged (``needs_no_shaping``: a chain's earlier turns),
    so a long chain's turn does not look at each again."""
    system = [instructions] if instructions else []
    out: list[ChatMessage] = messages[:unshaped]
    for message in messages[unshaped:] if unshaped else messages:
        if message["role"] == "system":
            if not out:
                system.append(message["content"])
                continue
            if style.late_system == "user":
                message = {"role": "user", "content": LATE_SYSTEM_LABEL + message["content"]}
        elif "reasoning_content" in message and style.reasoning_field != "reasoning_content":
            message = _reasoning_as(message, style.reasoning_field)
        out.append(message)
    if system:
        out.insert(0, {"role": "system", "content": "\n\n".join(system)})
    return out


def needs_no_shaping(messages: list[ChatMessage]) -> bool:
    """Whether ``shape_messages`` passes these unchanged after any other message, whatever
    the style: neither system messages nor past reasoning."""
    return not any(m["role"] == "system" or "reasoning_content" in m for m in messages)


def _reasoning_as(message: ChatMessage, field: str) -> ChatMessage:
    """A copy of ``message`` with its past reasoning under the field(s) the backend reads."""
    text = message["reasoning_content"]
    out = {key: value for key, value in message.items() if key != "reasoning_content"}
    if field in ("both", "reasoning_content"):
        out["reasoning_content"] = text
    if field in ("both", "reasoning"):
        out["reasoning"] = text
    return out

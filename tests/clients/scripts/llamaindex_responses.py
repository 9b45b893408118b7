"""LlamaIndex ``OpenAIResponses`` (PyPI ``llama-index-llms-openai``) against the gateway, run in
its own venv. Usage: llamaindex_responses.py BASE_URL chat|stream|tool; prints one JSON line."""

from __future__ import annotations

import json
import sys
from typing import Any

from llama_index.core.llms import ChatMessage
from llama_index.core.tools import FunctionTool
from llama_index.llms.openai import OpenAIResponses


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny, 21 C in {city}"


def chat(llm: OpenAIResponses) -> dict[str, Any]:
    response = llm.chat([ChatMessage(role="user", content="Say hello.")])
    return {"text": response.message.content}


def stream(llm: OpenAIResponses) -> dict[str, Any]:
    deltas = [chunk.delta for chunk in llm.stream_chat([ChatMessage(role="user", content="Hi")])]
    return {"text": "".join(d for d in deltas if d), "chunks": len(deltas)}


def tool_round_trip(llm: OpenAIResponses) -> dict[str, Any]:
    weather = FunctionTool.from_defaults(fn=get_weather)
    history = [ChatMessage(role="user", content="What is the weather in Paris?")]
    first = llm.chat_with_tools([weather], chat_history=history)
    (call,) = llm.get_tool_calls_from_response(first, error_on_no_tool_call=True)
    output = weather(**call.tool_kwargs).content
    history += [
        first.message,
        ChatMessage(
            role="tool",
            content=output,
            additional_kwargs={"call_id": call.tool_id, "name": call.tool_name},
        ),
    ]
    final = llm.chat_with_tools([weather], chat_history=history)
    return {"tool": call.tool_name, "kwargs": call.tool_kwargs, "output": output,
            "text": final.message.content}  # fmt: skip


def main() -> None:
    base_url, scenario = sys.argv[1], sys.argv[2]
    # A model name LlamaIndex does not know needs its context window, or it refuses the name.
    llm = OpenAIResponses(
        model="qwen3:8b", context_window=32768, api_base=base_url, api_key="unused", max_retries=0
    )
    runs = {"chat": chat, "stream": stream, "tool": tool_round_trip}
    print(json.dumps(runs[scenario](llm)))  # noqa: T201


main()

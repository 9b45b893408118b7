"""What real chat-completions servers were seen doing, as scripts for the scripted upstream.

Each is taken from a real server's answer (llama-server's source and runs, vLLM, OpenAI,
llama-cpp-python), so every quirk the gateway handles has a fast test beside the slow real one.
"""

from __future__ import annotations

from typing import Any

from tests.support.upstream import Reply, Script

# llama-server: the HTTP status said again as a numeric code, and a type of its own.
LLAMA_SERVER_CONTEXT = {
    "error": {
        "code": 400,
        "message": "request (5000 tokens) exceeds the available context size (4096 tokens), "
        "try increasing it",
        "type": "exceed_context_size_error",
        "n_prompt_tokens": 5000,
        "n_ctx": 4096,
    }
}
LLAMA_SERVER_BAD_REQUEST = {
    "error": {
        "code": 400,
        "message": "Invalid tool_choice: sometimes",
        "type": "invalid_request_error",
    }
}
# vLLM (older releases answer with the error object at the top level, no "error" key).
VLLM_CONTEXT = {
    "object": "error",
    "message": "This model's maximum context length is 4096 tokens. However, you requested "
    "5000 tokens (4000 in the messages, 1000 in the completion). Please reduce the length of "
    "the messages or completion.",
    "type": "BadRequestError",
    "param": None,
    "code": 400,
}
OPENAI_CONTEXT = {
    "error": {
        "message": "This model's maximum context length is 128000 tokens. However, your "
        "messages resulted in 130000 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}
LLAMA_CPP_PYTHON_CONTEXT = {
    "error": {
        "message": "Requested tokens (5000) exceed context window of 4096",
        "type": "internal_server_error",
        "param": None,
        "code": None,
    }
}
EMPTY_MESSAGE = {"error": {"message": "", "type": "server_error", "code": 500}}

RATE_LIMIT_HEADERS = {
    "retry-after": "7",
    "x-ratelimit-limit-requests": "60",
    "x-ratelimit-remaining-requests": "0",
    "x-ratelimit-reset-requests": "7s",
}
RATE_LIMITED = Reply(
    status=429,
    error={"error": {"message": "Rate limit reached.", "type": "requests", "code": "rate_limit"}},
    headers=RATE_LIMIT_HEADERS,
)


def refusing_null_content(reply: Reply) -> Script:
    """llama-cpp-python: an assistant message with ``"content": null`` fails its chat template."""

    def answer(request: dict[str, Any]) -> Reply:
        if any("content" in m and m["content"] is None for m in request["messages"]):
            return Reply(
                status=500,
                error={"error": {"message": 'can only concatenate str (not "NoneType") to str'}},
            )
        return reply

    return answer

"""The ``POST /chat/completions`` body for one model round of a response."""

from __future__ import annotations

from typing import Any

from responses_gateway.schemas.request import CreateResponseRequest, TextFormatJsonSchema


def response_format(request: CreateResponseRequest) -> dict[str, Any] | None:
    fmt = request.text.format if request.text else None
    if fmt is None or fmt.type == "text":
        return None
    if isinstance(fmt, TextFormatJsonSchema):
        schema: dict[str, Any] = {"name": fmt.name, "schema": fmt.schema_}
        if fmt.description is not None:
            schema["description"] = fmt.description
        if fmt.strict is not None:
            schema["strict"] = fmt.strict
        return {"type": "json_schema", "json_schema": schema}
    return {"type": "json_object"}


def chat_payload(
    request: CreateResponseRequest,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    tool_choice: str | dict[str, Any] | None,
    *,
    stream: bool,
    max_tokens_param: str,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"model": request.model, "messages": messages}
    if tools:
        payload["tools"] = tools
        payload["tool_choice"] = tool_choice
        # Backends differ on defaults; say what the client asked for, only where tools exist
        # (some servers reject parallel_tool_calls without tools).
        payload["parallel_tool_calls"] = request.parallel_tool_calls
    elif tool_choice == "none":
        payload["tool_choice"] = "none"
    if request.temperature is not None:
        payload["temperature"] = request.temperature
    if request.top_p is not None:
        payload["top_p"] = request.top_p
    if request.max_output_tokens is not None:
        payload[max_tokens_param] = request.max_output_tokens
    fmt = response_format(request)
    if fmt is not None:
        payload["response_format"] = fmt
    if request.reasoning is not None and request.reasoning.effort is not None:
        payload["reasoning_effort"] = request.reasoning.effort
    end_user = request.safety_identifier or request.user
    if end_user:
        payload["user"] = end_user
    if stream:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    return payload

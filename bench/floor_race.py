"""The floor (``floor_app.py``: uvicorn, our upstream client and orjson, no gateway) against
vLLM's Rust gateway ``agentic-api``, as ``side_by_side.py`` measures them: both up on core 0, the
phases in alternating slices. What the two figures that gateway leads on cost at the very least
in Python on this stack: ``store: false`` creates/s at c=16 and the first text delta at c=1.

    .venv/bin/python bench/floor_race.py [--quick] [--rounds 3] [--granian]

``--granian`` races the same app under granian too (its Rust HTTP layer, ASGI, one worker, one
runtime thread, uvloop; installed once into ``~/.cache/responses-gateway/granian-<version>/``):
the ASGI server the issue named as a candidate for a faster HTTP layer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import side_by_side
from loadgen import STREAMED, UNSTORED
from processes import (
    BENCH,
    HOST,
    PYTHON,
    Children,
    drive_from_core_1,
    upstream_url,
)
from side_by_side import (
    TARGETS,
    Target,
    exact_response,
    exact_stream,
    phase,
    started,
)
from tables import say, table


def _floor(children: Children, port: int, up_port: int, _url: str) -> subprocess.Popen[bytes]:
    argv = [
        "taskset", "-c", "0", PYTHON, "-m", "uvicorn", "floor_app:app", "--host", HOST,
        "--port", str(port), "--http", "httptools", "--loop", "uvloop", "--no-access-log",
    ]  # fmt: skip
    env = dict(os.environ, FLOOR_UPSTREAM=upstream_url(up_port), PYTHONPATH=str(BENCH))
    return children.start("floor", argv, env=env)


FLOOR = Target("floor", _floor, "/healthz", "", b"")
GRANIAN_VERSION = "2.8.9"
GRANIAN_HOME = Path.home() / ".cache" / "responses-gateway" / f"granian-{GRANIAN_VERSION}"


def ensure_granian() -> Path:
    """granian from PyPI, once, beside (not into) the project's environment."""
    if not (GRANIAN_HOME / "granian").is_dir():
        pip = [PYTHON, "-m", "pip", "install", "-q", "--target", str(GRANIAN_HOME)]
        subprocess.run([*pip, f"granian=={GRANIAN_VERSION}"], check=True)
    return GRANIAN_HOME


def _granian(children: Children, port: int, up_port: int, _url: str) -> subprocess.Popen[bytes]:
    argv = [
        "taskset", "-c", "0", PYTHON, "-m", "granian", "--interface", "asgi", "--host", HOST,
        "--port", str(port), "--workers", "1", "--runtime-threads", "1", "--runtime-mode", "st",
        "--loop", "uvloop", "--http", "1", "--no-ws", "--log-level", "warning", "floor_app:app",
    ]  # fmt: skip
    path = os.pathsep.join([str(BENCH), str(GRANIAN_HOME)])
    env = dict(os.environ, FLOOR_UPSTREAM=upstream_url(up_port), PYTHONPATH=path)
    return children.start("granian", argv, env=env)


GRANIAN = Target("floor, granian", _granian, "/healthz", "", b"")


async def race(url: str, quick: bool, floors: list[Target]) -> dict[str, tuple[float, float]]:
    """Each one's ``store: false`` creates/s and first-delta p50 (ms), in one round."""
    children = Children()
    try:
        racing = [(floor, url) for floor in floors] + [(TARGETS["agentic-api"], url)]
        _, lives = await started(children, racing)
        await phase(lives, STREAMED, 1, True, exact_stream, quick)  # warm-up
        rates = await phase(lives, UNSTORED, 16, False, exact_response, quick)
        deltas = await phase(lives, STREAMED, 1, True, exact_stream, quick)
        return {name: (rates[name].rps, deltas[name].ttfe(50)) for name in rates}
    finally:
        children.stop_all()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--granian", action="store_true", help="the floor under granian too")
    args = parser.parse_args()
    drive_from_core_1()
    side_by_side.ensure_agentic()
    floors = [FLOOR]
    if args.granian:
        ensure_granian()
        floors.append(GRANIAN)
    runs = []
    for round_number in range(args.rounds):
        with side_by_side.database_for("sqlite", "agentic-api") as url:
            print(f"round {round_number + 1}/{args.rounds} ...")
            runs.append(asyncio.run(race(url, args.quick, floors)))
    rows = []
    for name in [floor.name for floor in floors] + ["agentic-api"]:
        rps = statistics.median(run[name][0] for run in runs)
        first = statistics.median(run[name][1] for run in runs)
        rows.append([name, f"{rps:,.0f}", f"{first:.2f} ms"])
    say(table(["", "`store: false` creates/s, c=16", "first text delta p50, c=1"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Side by side: responses-gateway against vLLM's Rust gateway ``agentic-api`` on one machine.

    .venv/bin/python bench/side_by_side.py [--quick] [--rounds 3] [--database sqlite|postgres|both]
        [--against CHECKOUT]

Both gateways run in turn on core 0 (``taskset``), against one scripted upstream on core 1 that
serves ``/v1/chat/completions`` (ours) and a stateless ``/v1/responses`` (agentic-api sends each
turn there, as to vLLM). The load generator shares core 1. Rounds alternate the two gateways, only
exact answers count (status and text checked), and each figure is the median of the rounds.
agentic-api comes from PyPI (wheel ``agentic-api``, binary ``agentic-server``), installed once
into ``~/.cache/responses-gateway/agentic-api-<version>/``.

``--against CHECKOUT`` runs, in agentic-api's place, this gateway from another checkout's
``src/`` (a ``git worktree`` of the commit to compare with): the same table, ours now ÷ ours then,
for a change measured before it is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chain_phase import chains
from httpclient import Result
from loadgen import (
    CHAT,
    DELTA,
    PLAIN,
    STREAMED,
    UNSTORED,
    UNSTORED_STREAM,
    Check,
    Phase,
    check_json,
    load,
)
from processes import (
    GATEWAY_BIN,
    HOST,
    Children,
    drive_from_core_1,
    free_port,
    gateway_env,
    start_upstream,
    upstream_url,
    wait_http,
)
from procfs import status_kib
from scratch_database import postgres_database, postgres_server_on
from upstream_server import TEXT

AGENTIC_VERSION = "0.9.0"
AGENTIC_HOME = Path.home() / ".cache" / "responses-gateway" / f"agentic-api-{AGENTIC_VERSION}"
AGENTIC_BIN = AGENTIC_HOME / "bin" / "agentic-server"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def ensure_agentic() -> Path:
    """Install agentic-api from PyPI once (seconds when cached)."""
    if not AGENTIC_BIN.exists():
        subprocess.run([sys.executable, "-m", "venv", str(AGENTIC_HOME)], check=True)
        pip = AGENTIC_HOME / "bin" / "pip"
        subprocess.run([str(pip), "install", "-q", f"agentic-api=={AGENTIC_VERSION}"], check=True)
    return AGENTIC_BIN


def exact_response(result: Result) -> None:
    check_json(result)
    body = result.json()
    texts = [
        part.get("text")
        for item in body.get("output", [])
        if item.get("type") == "message"
        for part in item.get("content", [])
    ]
    if body.get("status") != "completed" or texts != [TEXT]:
        raise RuntimeError(f"not the exact answer: {result.body[:300]!r}")


def exact_stream(result: Result) -> None:
    if result.status != 200 or b"response.completed" not in result.body:
        raise RuntimeError(f"stream did not complete: ...{result.body[-300:]!r}")
    if result.body.count(DELTA) < 20 or b"event: error" in result.body:
        raise RuntimeError(f"stream lacks the text: ...{result.body[-300:]!r}")


@dataclass
class Figures:
    stored_rps: float
    unstored_rps: float
    cpu_ms: float
    added_ms: float
    first_delta_ms: float
    first_delta_unstored_ms: float
    streamed_rps: float
    chain_ratio: float
    peak_rss_mb: float


@dataclass
class Target:
    name: str
    start: Callable[[Children, int, int, str], subprocess.Popen[bytes]]
    ready_path: str  # answers once the gateway serves
    direct_path: str  # its own upstream call, for the added latency
    direct_body: bytes


def _ours(
    children: Children, port: int, up_port: int, database_url: str, src: str | None = None
) -> subprocess.Popen[bytes]:
    """``src``: another checkout's ``src/``, imported instead of this one's."""
    env = gateway_env(upstream_url(up_port), database_url)
    if src is not None:
        env["PYTHONPATH"] = src  # before the editable install's path
    argv = ["taskset", "-c", "0", str(GATEWAY_BIN), "serve", "--host", HOST, "--port", str(port)]
    return children.start("ours" if src is None else "base", argv, env=env)


def _agentic(
    children: Children, port: int, up_port: int, database_url: str
) -> subprocess.Popen[bytes]:
    env = dict(os.environ, HOME=str(children.tmp), RUST_LOG="warn")
    argv = [
        "taskset", "-c", "0", str(AGENTIC_BIN),
        "--llm-api-base", f"http://{HOST}:{up_port}/v1", "--skip-llm-ready-check",
        "--gateway-host", HOST, "--gateway-port", str(port), "--db-url", database_url,
    ]  # fmt: skip
    return children.start("agentic", argv, env=env)


DIRECT_RESPONSES = orjson.dumps({"model": "bench", "input": "hello", "store": False})
TARGETS = {
    "ours": Target("ours", _ours, "/healthz", "/v1/chat/completions", CHAT),
    "agentic-api": Target("agentic-api", _agentic, "/v1/models", "/v1/responses", DIRECT_RESPONSES),
}


def against(checkout: str) -> None:
    """Make ``agentic-api`` mean this gateway from ``checkout`` (``--against``)."""
    src = str(Path(checkout).resolve() / "src")
    if not Path(src, "responses_gateway").is_dir():
        raise SystemExit(f"{checkout} is not a checkout of this gateway (no src/responses_gateway)")
    start = functools.partial(_ours, src=src)
    TARGETS["agentic-api"] = Target("base", start, "/healthz", "/v1/chat/completions", CHAT)


@contextmanager
def database_for(kind: str, name: str) -> Iterator[str]:
    """A fresh database for one round of one gateway: neither sees the other's rows."""
    ours = TARGETS[name].start is not _agentic
    if kind == "postgres":
        with postgres_database(PG_ADMIN) as url:
            yield url if ours else url.replace("postgresql+asyncpg://", "postgresql://")
        return
    with tempfile.TemporaryDirectory(prefix="side-by-side-") as tmp:
        yield f"sqlite:///{tmp}/ours.db" if ours else f"sqlite://{tmp}/agentic.db"


@dataclass
class Live:
    """A running gateway of a round."""

    target: Target
    port: int
    pid: int


T = TypeVar("T")
# Every phase runs in slices, the two gateways taking turns (ABBAAB…), both up all along: the
# host under this VM drifts (a plain loop's time moves by 15%, a whole phase's figure by up to a
# third within minutes), and so both see the same drift instead of one of them its own.
SLICES = 6


async def alternated(lives: list[Live], run: Callable[[Live], Awaitable[T]]) -> dict[str, list[T]]:
    """``run`` of each gateway, ``SLICES`` times in alternating order."""
    out: dict[str, list[T]] = {live.target.name: [] for live in lives}
    for slice_number in range(SLICES):
        for live in lives if slice_number % 2 == 0 else lives[::-1]:
            out[live.target.name].append(await run(live))
    return out


def merged(phases: list[Phase]) -> Phase:
    cpu = sum(p.cpu for p in phases if p.cpu is not None) if phases[0].cpu is not None else None
    results = [result for phase in phases for result in phase.results]
    return Phase(
        phases[0].name, phases[0].concurrency, results, sum(p.seconds for p in phases), cpu
    )


def sizes(quick: bool) -> tuple[int, float, int]:
    """Requests and seconds of a throughput phase, and requests of a c=1 phase."""
    return (1500, 1.5, 200) if quick else (8000, 6.0, 1000)


async def phase(
    lives: list[Live], body: bytes, c: int, stream: bool, check: Check, quick: bool
) -> dict[str, Phase]:
    """One phase of every gateway, in alternating slices, each gateway's slices merged."""
    n, secs, c1 = sizes(quick)
    requests, seconds = (n, secs) if c > 1 else (c1, secs * 2)

    async def one(live: Live) -> Phase:
        return await load(
            "p", live.port, "/v1/responses", body, concurrency=c, requests=requests // SLICES,
            seconds=seconds / SLICES, stream=stream, check=check, pid=live.pid, marker=DELTA,
        )  # fmt: skip

    return {name: merged(slices) for name, slices in (await alternated(lives, one)).items()}


async def measure(lives: list[Live], up_port: int, quick: bool) -> dict[str, Figures]:
    _, secs, c1 = sizes(quick)
    for live in lives:
        for body, stream, check in ((PLAIN, False, exact_response), (STREAMED, True, exact_stream)):
            await load("warmup", live.port, "/v1/responses", body, concurrency=4, requests=100,
                       seconds=20, stream=stream, check=check)  # fmt: skip

    async def direct(live: Live) -> Phase:
        target = live.target
        return await load(
            "direct", up_port, target.direct_path, target.direct_body, concurrency=1,
            requests=c1 // SLICES, seconds=secs * 2 / SLICES, stream=False, check=check_json,
        )  # fmt: skip

    stored = await phase(lives, PLAIN, 16, False, exact_response, quick)
    unstored = await phase(lives, UNSTORED, 16, False, exact_response, quick)
    single = await phase(lives, PLAIN, 1, False, exact_response, quick)
    upstream = {name: merged(slices) for name, slices in (await alternated(lives, direct)).items()}
    first = await phase(lives, STREAMED, 1, True, exact_stream, quick)
    first_unstored = await phase(lives, UNSTORED_STREAM, 1, True, exact_stream, quick)
    streamed = await phase(lives, STREAMED, 16, True, exact_stream, quick)
    turns = await alternated(lives, lambda live: chains(live.port, 1 if quick else 2, 50))
    figures = {}
    for live in lives:
        name = live.target.name
        figures[name] = Figures(
            stored[name].rps,
            unstored[name].rps,
            stored[name].cpu_ms_per_request or float("nan"),
            single[name].lat(50) - upstream[name].lat(50),
            first[name].ttfe(50),
            first_unstored[name].ttfe(50),
            streamed[name].rps,
            chain_ratio(turns[name]),
            status_kib(live.pid, "VmHWM") / 1024,
        )
    return figures


def chain_ratio(runs: list[dict[int, list[float]]]) -> float:
    """The median latency of turns 46–50 over that of turns 1–5, over every chain run."""
    early = statistics.median(x for turns in runs for t in range(1, 6) for x in turns[t])
    late = statistics.median(x for turns in runs for t in range(46, 51) for x in turns[t])
    return late / early


async def one_round(urls: dict[str, str], order: list[str], quick: bool) -> dict[str, Figures]:
    """Both gateways up on core 0 (each with its own database), measured in alternation."""
    children = Children()
    try:
        up_port, lives = await started(children, [(TARGETS[name], urls[name]) for name in order])
        return await measure(lives, up_port, quick)
    finally:
        children.stop_all()


async def started(children: Children, targets: list[tuple[Target, str]]) -> tuple[int, list[Live]]:
    """The scripted upstream on core 1, then each target with its database URL, once it
    serves; the upstream's port."""
    up_port = start_upstream(children)
    lives = []
    for target, url in targets:
        port = free_port()
        process = target.start(children, port, up_port, url)
        await wait_http(port, target.ready_path, process, children, target.name)
        lives.append(Live(target, port, process.pid))
    return up_port, lives


ROWS = [
    ("stored creates/s, c=16", "stored_rps", "{:,.0f}", True),
    ("`store: false` creates/s, c=16", "unstored_rps", "{:,.0f}", True),
    ("gateway CPU per stored request, c=16", "cpu_ms", "{:.2f} ms", False),
    ("added latency p50, c=1", "added_ms", "{:.2f} ms", False),
    ("stream: first text delta p50, c=1", "first_delta_ms", "{:.2f} ms", False),
    # The same with ``store: false``: what is left of the first delta without the database (the
    # previous stream's commit slows the upstream's core on this VM: ``upstream_after_commit.py``).
    (
        "`store: false` stream: first text delta p50, c=1",
        "first_delta_unstored_ms",
        "{:.2f} ms",
        False,
    ),
    ("streamed creates/s, c=16", "streamed_rps", "{:,.0f}", True),
    ("chain turn 46–50 / turn 1–5", "chain_ratio", "{:.2f}", False),
    ("peak RSS", "peak_rss_mb", "{:.0f} MB", False),
]


def report(results: dict[tuple[str, str], list[Figures]], kinds: list[str]) -> str:
    headers, rival = ["figure"], TARGETS["agentic-api"].name
    for kind in kinds:
        headers += [f"ours {kind}", f"{rival} {kind}", "ours ÷ theirs"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for label, field, fmt, higher_better in ROWS:
        cells = [label]
        for kind in kinds:
            ours = statistics.median(getattr(f, field) for f in results[("ours", kind)])
            theirs = statistics.median(getattr(f, field) for f in results[("agentic-api", kind)])
            ratio = ours / theirs if theirs else float("nan")
            better = (ratio >= 1) if higher_better else (ratio <= 1)
            cells += [fmt.format(ours), fmt.format(theirs), f"{ratio:.2f}×{' ✓' if better else ''}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--postgres-anywhere",
        action="store_true",
        help="leave the PostgreSQL server unpinned (by default it runs on core 1 with the load)",
    )
    parser.add_argument("--against", metavar="CHECKOUT", help="ours from CHECKOUT in its place")
    args = parser.parse_args()
    drive_from_core_1()
    if args.against:
        against(args.against)
    else:
        ensure_agentic()
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    results: dict[tuple[str, str], list[Figures]] = {}
    for kind in kinds:
        pinned = kind == "postgres" and not args.postgres_anywhere
        with postgres_server_on({1}) if pinned else contextlib.nullcontext(0) as moved:
            if pinned:
                print(f"PostgreSQL server on core 1: {moved} processes moved")
            for round_number in range(args.rounds):
                rounds(results, kind, round_number, args)
    print()
    print(report(results, kinds))
    rival = TARGETS["agentic-api"].name
    print(f"\n✓: ours is ahead. Ratios are ours ÷ {rival} (higher is better for rates).")
    return 0


def rounds(
    results: dict[tuple[str, str], list[Figures]],
    kind: str,
    round_number: int,
    args: argparse.Namespace,
) -> None:
    """One round of both gateways on ``kind``, the one to go first alternating."""
    order = ["ours", "agentic-api"] if round_number % 2 == 0 else ["agentic-api", "ours"]
    with database_for(kind, "ours") as ours, database_for(kind, "agentic-api") as theirs:
        print(f"round {round_number + 1}/{args.rounds} on {kind} ...")
        urls = {"ours": ours, "agentic-api": theirs}
        for name, figures in asyncio.run(one_round(urls, order, args.quick)).items():
            slot = "ours" if name == "ours" else "agentic-api"  # or ``--against``'s "base"
            results.setdefault((slot, kind), []).append(figures)


if __name__ == "__main__":
    sys.exit(main())

"""Throughput and latency phases: the scripted upstream called directly (the baseline of what the
gateway adds), stored and streamed creates at c=1, 16 and 64, the first text delta, and the
diagnostics (the framework floor, a create that is not stored); and their tables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from loadgen import (
    CHAT,
    CHAT_STREAM,
    DELTA,
    PLAIN,
    STREAMED,
    UNSTORED,
    Phase,
    check_chat_stream,
    check_json,
    check_response,
    check_stream,
    load,
)
from processes import Children, profiled
from profiles import Profile
from tables import fmt, say, table

GW_PATH = "/v1/responses"
UP_PATH = "/v1/chat/completions"
HEADERS = [
    "phase",
    "requests",
    "req/s",
    "p50 ms",
    "p99 ms",
    "CPU ms/req",
    "% in loop",
    "1st ev p50",
    "1st ev p99",
]


@dataclass
class Throughput:
    direct: Phase  # the upstream's chat call, non-streamed, c=1
    direct_stream: Phase  # the same, streamed
    phases: dict[tuple[str, int], Phase]  # the gateway's, by (kind, concurrency)
    first_delta: Phase

    def added_ms(self, kind: str) -> float:
        """p50 at c=1 of the gateway minus that of the same chat call made directly."""
        direct = self.direct_stream if kind == "streamed" else self.direct
        return self.phases[(kind, 1)].lat(50) - direct.lat(50)


async def measure(
    gw_port: int, up_port: int, pid: int, profile: Profile, children: Children, out: Path | None
) -> Throughput:
    """Every phase of this module, in order; ``out`` is ``--profile``'s directory."""
    await warm_up(gw_port, up_port, profile)
    direct, direct_stream = await direct_upstream(up_port, profile)
    phases = await creates(gw_port, pid, profile, children, out)
    say("running: streamed c=1, timed to the first text delta ...")
    first_delta = await first_delta_phase(gw_port, pid, profile)
    phases |= await diagnostics(gw_port, pid, profile, out)
    return Throughput(direct, direct_stream, phases, first_delta)


async def warm_up(gw_port: int, up_port: int, profile: Profile) -> None:
    """Imports, JIT-free but caches, pools, SQLite pages."""
    for body, stream, check in ((PLAIN, False, check_response), (STREAMED, True, check_stream)):
        await load("warmup", gw_port, GW_PATH, body, concurrency=4, requests=profile.warmup,
                   seconds=30, stream=stream, check=check)  # fmt: skip
    await load("warmup", up_port, UP_PATH, CHAT, concurrency=1, requests=profile.warmup,
               seconds=30, stream=False, check=check_json)  # fmt: skip


async def direct_upstream(up_port: int, profile: Profile) -> tuple[Phase, Phase]:
    """The upstream's chat call at c=1, non-streamed and streamed: the baseline of "added"."""
    say("running: direct upstream c=1 ...")
    seconds = profile.phase_seconds * 2
    direct = await load("upstream direct", up_port, UP_PATH, CHAT, concurrency=1,
                        requests=profile.c1_requests, seconds=seconds, stream=False,
                        check=check_json)  # fmt: skip
    direct_stream = await load("upstream direct stream", up_port, UP_PATH, CHAT_STREAM,
                               concurrency=1, requests=profile.c1_requests, seconds=seconds,
                               stream=True, check=check_chat_stream)  # fmt: skip
    return direct, direct_stream


async def creates(
    port: int, pid: int, profile: Profile, children: Children, out: Path | None
) -> dict[tuple[str, int], Phase]:
    """Stored non-streamed and streamed creates at c=1, 16 and 64."""
    phases: dict[tuple[str, int], Phase] = {}
    for kind, body, stream, check in (
        ("stored", PLAIN, False, check_response),
        ("streamed", STREAMED, True, check_stream),
    ):
        for concurrency in (1, 16, 64):
            say(f"running: {kind} c={concurrency} ...")
            children.check_alive()
            limit = profile.c1_requests if concurrency == 1 else profile.phase_requests
            secs = profile.phase_seconds * 2 if concurrency == 1 else profile.phase_seconds
            async with profiled(out, f"{kind}-c{concurrency}", pid):
                phases[(kind, concurrency)] = await load(
                    f"{kind} c={concurrency}", port, GW_PATH, body, concurrency=concurrency,
                    requests=limit, seconds=secs, stream=stream, check=check, pid=pid,
                )  # fmt: skip
    return phases


async def first_delta_phase(port: int, pid: int, profile: Profile) -> Phase:
    """Streamed creates at c=1 timed to the first text delta's bytes (``ttfe``), as
    bench/side_by_side.py times them."""
    return await load(
        "streamed first delta",
        port,
        GW_PATH,
        STREAMED,
        concurrency=1,
        requests=profile.c1_requests,
        seconds=profile.phase_seconds * 2,
        stream=True,
        check=check_stream,
        pid=pid,
        marker=DELTA,
    )


async def diagnostics(
    port: int, pid: int, profile: Profile, out: Path | None
) -> dict[tuple[str, int], Phase]:
    """The framework floor (GET /healthz) and a create that is not stored, at c=16."""
    say("running: diagnostics (GET /healthz c=16, store=false c=16) ...")
    healthz = await load("healthz", port, "/healthz", None, concurrency=16,
                         requests=profile.phase_requests, seconds=profile.phase_seconds / 2,
                         stream=False, check=check_json, pid=pid, method="GET")  # fmt: skip
    async with profiled(out, "unstored-c16", pid):
        unstored = await load("unstored", port, GW_PATH, UNSTORED, concurrency=16,
                              requests=profile.phase_requests, seconds=profile.phase_seconds,
                              stream=False, check=check_response, pid=pid)  # fmt: skip
    return {("GET /healthz", 16): healthz, ("store=false", 16): unstored}


def report(measured: Throughput) -> None:
    say(
        "Throughput and latency (closed loop, keep-alive connections; CPU = gateway process user+sys"
    )
    say(
        "per request; % in loop = share of that CPU on the event-loop thread, the rest is in worker"
    )
    say("threads such as the SQLite store's; 1st ev = time to the first SSE `event:` bytes)")
    rows = [_gateway_row(kind, concurrency, phase)
            for (kind, concurrency), phase in measured.phases.items()]  # fmt: skip
    for phase in (measured.direct, measured.direct_stream):
        rows.append([phase.name + " c=1", str(len(phase.results)), fmt(phase.rps, 0),
                     fmt(phase.lat(50)), fmt(phase.lat(99)), "", "", "", ""])  # fmt: skip
    say(table(HEADERS, rows))
    say()


def _gateway_row(kind: str, concurrency: int, phase: Phase) -> list[str]:
    streamed = kind == "streamed"
    return [
        f"{kind} c={concurrency}",
        str(len(phase.results)),
        fmt(phase.rps, 0),
        fmt(phase.lat(50)),
        fmt(phase.lat(99)),
        fmt(phase.cpu_ms_per_request),
        fmt(phase.main_share, 0),
        fmt(phase.ttfe(50)) if streamed else "",
        fmt(phase.ttfe(99)) if streamed else "",
    ]


def streamed_summary(first_delta: Phase, streamed16: Phase) -> str:
    """The two streamed figures bench/side_by_side.py compares with agentic-api."""
    rows = [
        ["first text delta, p50 at c=1 (ms)", fmt(first_delta.ttfe(50))],
        ["streamed creates/s at c=16", fmt(streamed16.rps, 0)],
    ]
    return "Streamed\n" + table(["metric", "result"], rows)


def report_overhead(measured: Throughput) -> None:
    say("Gateway overhead at c=1 (p50 of gateway minus p50 of the same chat call made directly)")
    rows = [
        [label, fmt(direct.lat(50)), fmt(measured.phases[(kind, 1)].lat(50)),
         fmt(measured.added_ms(kind))]
        for label, kind, direct in (
            ("stored non-streamed", "stored", measured.direct),
            ("streamed (to [DONE])", "streamed", measured.direct_stream),
        )
    ]  # fmt: skip
    say(table(["", "direct upstream p50 ms", "gateway p50 ms", "added ms"], rows))
    say()

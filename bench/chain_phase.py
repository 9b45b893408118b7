"""previous_response_id chains: the latency of every turn, which should not grow with the chain."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import orjson

from httpclient import Connection
from loadgen import check_response, pct
from processes import HOST, profiled
from procfs import cpu_seconds
from profiles import Profile
from tables import fmt, say, table

# Around each request of a chain (its chain's number and its turn): what is measured there.
Around = Callable[[int, int], AbstractContextManager[None]]


def _nothing(_chain: int, _turn: int) -> AbstractContextManager[None]:
    return nullcontext()


async def chains(
    port: int, count: int, turns: int, around: Around = _nothing
) -> dict[int, list[float]]:
    """``count`` chains of ``turns`` turns via previous_response_id; latency of every turn."""
    per_turn: dict[int, list[float]] = {t: [] for t in range(1, turns + 1)}
    conn = Connection(HOST, port)
    try:
        for chain in range(count):
            previous: str | None = None
            for turn in range(1, turns + 1):
                body: dict[str, object] = {"model": "bench", "input": f"turn {turn}"}
                if previous:
                    body["previous_response_id"] = previous
                with around(chain, turn):
                    result = await conn.request("POST", "/v1/responses", orjson.dumps(body))
                check_response(result)
                previous = result.json()["id"]
                per_turn[turn].append(result.latency)
    finally:
        conn.close()
    return per_turn


@dataclass
class Chains:
    count: int
    turns: int
    per_turn: dict[int, list[float]]  # latencies (s) by turn
    cpu: float  # gateway CPU seconds per turn

    def ms(self, turn: int, q: float) -> float:
        return pct(self.per_turn[turn], q) * 1000

    @property
    def ratio(self) -> float:
        """p50 of the last turn over that of the first."""
        first = self.ms(1, 50)
        return self.ms(self.turns, 50) / first if first else float("nan")


async def measure(port: int, pid: int, profile: Profile, out: Path | None) -> Chains:
    say(f"running: {profile.chains} previous_response_id chains of {profile.chain_turns} turns ...")
    cpu0 = cpu_seconds(pid)
    async with profiled(out, "chains", pid):
        per_turn = await chains(port, profile.chains, profile.chain_turns)
    cpu = (cpu_seconds(pid) - cpu0) / (profile.chains * profile.chain_turns)
    return Chains(profile.chains, profile.chain_turns, per_turn, cpu)


def report(measured: Chains) -> None:
    last = measured.turns
    say(
        f"previous_response_id chains ({measured.count} chains x {last} turns, c=1; "
        f"gateway CPU {fmt(measured.cpu * 1000)} ms/turn)"
    )
    first = measured.ms(1, 50)
    shown = sorted({1, 2, 10, 25, last} & set(measured.per_turn))
    rows = [
        [str(t), fmt(measured.ms(t, 50)), fmt(measured.ms(t, 99)), fmt(measured.ms(t, 50) / first)]
        for t in shown
    ]
    say(table(["turn", "p50 ms", "p99 ms", "vs turn 1"], rows))
    say()

"""Long conversations: turn 200 of a Conversations-API conversation against its turn 1.

Called by ``run.py`` after the chain phase (same gateway, same database); prints its own table.
A conversation's turn reads the conversation's version (one indexed lookup) and, when this
process has it cached, uses the history in memory; else it reads the N items in one query.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import orjson

from httpclient import Connection

HOST = "127.0.0.1"
TARGET_RATIO = 1.2
WINDOW = 10  # turns pooled at each end, so one noisy request does not decide the ratio


async def conversation_turns(port: int, count: int, turns: int) -> dict[int, list[float]]:
    """``count`` conversations of ``turns`` turns each; the latency of every turn (seconds)."""
    per_turn: dict[int, list[float]] = {t: [] for t in range(1, turns + 1)}
    conn = Connection(HOST, port)
    try:
        for _ in range(count):
            created = await conn.request("POST", "/v1/conversations", b"{}")
            conversation = created.json()["id"]
            for turn in range(1, turns + 1):
                body = {"model": "bench", "input": f"turn {turn}", "conversation": conversation}
                result = await conn.request("POST", "/v1/responses", orjson.dumps(body))
                if result.status != 200:
                    raise RuntimeError(f"conversation turn {turn}: HTTP {result.status}")
                per_turn[turn].append(result.latency)
    finally:
        conn.close()
    return per_turn


async def phase(port: int, say: Callable[[str], None], *, count: int, turns: int = 200) -> None:
    say(f"running: {count} conversations of {turns} turns (conversation=…) ...")
    per_turn = await conversation_turns(port, count, turns)
    first = [v for t in range(1, WINDOW + 1) for v in per_turn[t]]
    last = [v for t in range(turns - WINDOW + 1, turns + 1) for v in per_turn[t]]
    first_ms, last_ms = statistics.median(first) * 1000, statistics.median(last) * 1000
    ratio = last_ms / first_ms
    verdict = "ok" if ratio <= TARGET_RATIO else "MISSED"
    say(
        f"conversations: turns 1-{WINDOW} p50 {first_ms:.2f} ms; turns {turns - WINDOW + 1}-{turns} "
        f"p50 {last_ms:.2f} ms; ratio {ratio:.2f} (target <= {TARGET_RATIO:g}) {verdict}"
    )


async def _create(conn: Connection, body: dict[str, object]) -> tuple[str, float]:
    result = await conn.request("POST", "/v1/responses", orjson.dumps(body))
    if result.status != 200:
        raise RuntimeError(f"create: HTTP {result.status}")
    return result.json()["id"], result.latency


async def compacted_chain(port: int, *, turns: int = 500, samples: int = 20) -> tuple[float, float]:
    """p50 of a turn 1 (a create with no history), and of the turn after a compaction that ends
    a ``turns``-turn chain: every sample chains from the compacted response, so all but the
    first read their history from the database, which stops at the compaction."""
    conn = Connection(HOST, port)
    try:
        previous = None
        for turn in range(turns):
            body: dict[str, object] = {"model": "bench", "input": f"turn {turn}"}
            if previous:
                body["previous_response_id"] = previous
            previous, _ = await _create(conn, body)
        trigger = [{"type": "compaction_trigger"}]
        compacted, _ = await _create(
            conn, {"model": "bench", "input": trigger, "previous_response_id": previous}
        )
        firsts, nexts = [], []
        for sample in range(samples):
            firsts.append((await _create(conn, {"model": "bench", "input": "first"}))[1])
            body = {"model": "bench", "input": f"next {sample}", "previous_response_id": compacted}
            nexts.append((await _create(conn, body))[1])
    finally:
        conn.close()
    return statistics.median(firsts) * 1000, statistics.median(nexts) * 1000


async def compaction_phase(port: int, say: Callable[[str], None]) -> None:
    say("running: a 500-turn chain, compacted, then its next turn (20 branches) ...")
    first_ms, next_ms = await compacted_chain(port)
    say(
        f"compacted chain: turn 1 p50 {first_ms:.2f} ms; next turn after compacting 500 "
        f"turns p50 {next_ms:.2f} ms ({next_ms / first_ms:.2f}x)"
    )

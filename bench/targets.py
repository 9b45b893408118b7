"""The figures the gateway is held to, against what a run measured."""

from __future__ import annotations

from chain_phase import Chains
from tables import fmt, say, table, verdict
from throughput import Throughput

TARGET_RPS_C16 = 600.0
TARGET_ADDED_MS = 2.0
TARGET_TTFE_MS = 2.0
TARGET_CHAIN_RATIO = 1.2


def report(throughput: Throughput, chains: Chains) -> None:
    rps = throughput.phases[("stored", 16)].rps
    added = throughput.added_ms("stored")
    ttfe50 = throughput.phases[("streamed", 1)].ttfe(50)
    ratio = chains.ratio
    say("Targets")
    rows = [
        ["stored non-streamed req/s at c=16 (1 core)", f">= {TARGET_RPS_C16:.0f}",
         fmt(rps, 0), verdict(rps >= TARGET_RPS_C16)],
        ["gateway adds, p50 at c=1, stored non-streamed (ms)", f"<= {TARGET_ADDED_MS:g}",
         fmt(added), verdict(added <= TARGET_ADDED_MS)],
        ["time to first event, p50 at c=1 (ms)", f"<= {TARGET_TTFE_MS:g}",
         fmt(ttfe50), verdict(ttfe50 <= TARGET_TTFE_MS)],
        [f"turn {chains.turns} / turn 1 of a previous_response_id chain (p50)",
         f"<= {TARGET_CHAIN_RATIO:g}", fmt(ratio), verdict(ratio <= TARGET_CHAIN_RATIO)],
    ]  # fmt: skip
    say(table(["metric", "target", "result", ""], rows))
    say()

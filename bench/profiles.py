"""How long a benchmark run measures: the full profile or ``--quick``'s smoke run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    phase_seconds: float  # time limit of a throughput phase
    phase_requests: int  # request limit of a throughput phase
    c1_requests: int  # request count of the concurrency-1 latency phases
    warmup: int
    chains: int
    chain_turns: int
    mcp_requests: int


FULL = Profile(
    phase_seconds=8.0,
    phase_requests=8000,
    c1_requests=1500,
    warmup=200,
    chains=30,
    chain_turns=50,
    mcp_requests=150,
)
QUICK = Profile(
    phase_seconds=1.5,
    phase_requests=1500,
    c1_requests=200,
    warmup=30,
    chains=2,
    chain_turns=50,
    mcp_requests=15,
)

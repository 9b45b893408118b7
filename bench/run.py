"""Benchmark responses-gateway against a fast scripted upstream, all on loopback.

    .venv/bin/python bench/run.py [--quick] [--database sqlite|postgres] [--postgres-url URL]

Layout (2 cores): the gateway alone on core 0 (``taskset -c 0``); this driver, the scripted
chat-completions upstream and the MCP server on core 1. Every phase is bounded by a request count
and a time limit; child processes are stopped on exit, Ctrl-C or error (and get SIGTERM from the
kernel if this driver dies).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stream_parsing
import tool_mapping
from httpclient import Connection, Result
from long_conversations import compaction_phase
from long_conversations import phase as conversations_phase

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PYTHON = sys.executable
GATEWAY_BIN = Path(PYTHON).with_name("responses-gateway")
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")

PLAIN = orjson.dumps({"model": "bench", "input": "hello"})
UNSTORED = orjson.dumps({"model": "bench", "input": "hello", "store": False})
STREAMED = orjson.dumps({"model": "bench", "input": "hello", "stream": True})
DELTA = b"response.output_text.delta"  # marks a stream's first text delta
CHAT = orjson.dumps({"model": "bench", "messages": [{"role": "user", "content": "hello"}]})
CHAT_STREAM = orjson.dumps(
    {
        "model": "bench",
        "messages": [{"role": "user", "content": "hello"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
)

TARGET_RPS_C16 = 600.0
TARGET_ADDED_MS = 2.0
TARGET_TTFE_MS = 2.0
TARGET_CHAIN_RATIO = 1.2


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


# ----------------------------------------------------------------------------- processes


def _pdeathsig() -> None:
    """In the child: get SIGTERM when the driver dies, whatever way it dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Children:
    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    logs: dict[str, Path] = field(default_factory=dict)
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="gw-bench-")))

    def start(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = self.tmp / f"{name}.log"
        self.logs[name] = log
        with log.open("wb") as out:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.tmp,
                start_new_session=True,
                preexec_fn=_pdeathsig,
            )
        self.procs.append((name, proc))
        return proc

    def tail(self, name: str, lines: int = 30) -> str:
        log = self.logs.get(name)
        if log is None or not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.tail(name)}")

    def stop_all(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 8
        for _, proc in reversed(self.procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=5)
        self.procs.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)


def gateway_env(upstream_url: str, database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a benchmarked gateway: this one's, quiet (no request log line per
    request), without API keys (the load generator sends none), plus ``settings``."""
    env = dict(
        os.environ,
        GATEWAY_UPSTREAM_URL=upstream_url,
        GATEWAY_DATABASE_URL=database_url,
        GATEWAY_LOG_LEVEL="warning",
        **settings,
    )
    env.pop("GATEWAY_API_KEYS", None)
    return env


def upstream_url(port: int) -> str:
    return f"http://{HOST}:{port}/v1"


def wait_ready_line(
    children: Children, name: str, proc: subprocess.Popen[bytes], timeout: float = 20
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{children.tail(name)}")
        if "ready" in children.logs[name].read_text(errors="replace"):
            return
        time.sleep(0.02)
    raise RuntimeError(f"{name} did not start within {timeout:.0f}s:\n{children.tail(name)}")


async def wait_http(
    port: int,
    path: str,
    proc: subprocess.Popen[bytes],
    children: Children,
    name: str,
    timeout: float = 60,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{children.tail(name)}")
        conn = Connection(HOST, port)
        try:
            result = await conn.request("GET", path)
            if result.status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        await asyncio.sleep(0.05)
    raise RuntimeError(
        f"{name} did not answer {path} within {timeout:.0f}s:\n{children.tail(name)}"
    )


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its threads (fields 14 and 15 of /proc/PID/stat)."""
    return cpu_seconds_of(Path(f"/proc/{pid}/stat"))


def thread_cpu_seconds(pid: int) -> tuple[float, float]:
    """(main thread, all other threads) CPU seconds of ``pid``, from /proc/PID/task/*/stat."""
    main = other = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            seconds = cpu_seconds_of(task / "stat")
            if task.name == str(pid):
                main += seconds
            else:
                other += seconds
    return main, other


def cpu_seconds_of(stat_path: Path) -> float:
    stat = stat_path.read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _start_py_spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or str(Path(PYTHON).with_name("py-spy"))
    proc = subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--rate",
            os.environ.get("PYSPY_RATE", "250"),
            "--nonblocking",
            "--gil",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_pdeathsig,
    )
    return proc


@contextlib.asynccontextmanager
async def profiled(out_dir: Path | None, name: str, pid: int) -> AsyncIterator[None]:
    """With ``--profile DIR``: py-spy samples the gateway (raw collapsed stacks) during the block;
    ``--gil`` keeps only samples of the thread holding the GIL, i.e. Python CPU time (SQLite's
    own C work in the store's threads runs without the GIL: see "% in loop")."""
    if out_dir is None:
        yield
        return
    proc = _start_py_spy(pid, out_dir / f"{name}.txt")
    await asyncio.sleep(0.5)  # let py-spy attach
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ----------------------------------------------------------------------------- postgres


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh database for the run, dropped afterwards; yields its SQLAlchemy URL."""
    import asyncpg
    from sqlalchemy.engine import make_url

    name = f"gw_bench_{uuid.uuid4().hex[:10]}"
    admin = make_url(admin_url).set(drivername="postgresql")
    dsn = admin.render_as_string(hide_password=False)

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        url = admin.set(drivername="postgresql+asyncpg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def bench_database(args: argparse.Namespace, children: Children, name: str) -> Iterator[str]:
    """The run's database: a scratch PostgreSQL one, or a SQLite file in ``children``'s tmp."""
    if args.database == "postgres":
        with postgres_database(args.postgres_url) as url:
            yield url
    else:
        yield f"sqlite:///{children.tmp / name}"


# ----------------------------------------------------------------------------- load


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


@dataclass
class Phase:
    name: str
    concurrency: int
    results: list[Result]
    seconds: float
    cpu: float | None = None  # gateway CPU seconds over the phase
    cpu_main: float | None = None  # of which the main (event loop) thread

    @property
    def rps(self) -> float:
        return len(self.results) / self.seconds if self.seconds else 0.0

    def lat(self, q: float) -> float:
        return pct([r.latency for r in self.results], q) * 1000

    def ttfe(self, q: float) -> float:
        return pct([r.ttfe for r in self.results if r.ttfe is not None], q) * 1000

    @property
    def main_share(self) -> float | None:
        if not self.cpu or self.cpu_main is None:
            return None
        return 100 * self.cpu_main / self.cpu

    @property
    def cpu_ms_per_request(self) -> float | None:
        if self.cpu is None or not self.results:
            return None
        return self.cpu / len(self.results) * 1000


Check = Callable[[Result], None]


def check_json(result: Result) -> None:
    if result.status != 200:
        raise RuntimeError(f"HTTP {result.status}: {result.body[:500]!r}")


def check_response(result: Result) -> None:
    check_json(result)
    body = result.json()
    if body.get("status") != "completed":
        raise RuntimeError(f"response not completed: {result.body[:500]!r}")


def check_stream(result: Result) -> None:
    if result.status != 200:
        raise RuntimeError(f"HTTP {result.status}: {result.body[:500]!r}")
    if (
        not result.body.rstrip().endswith(b"data: [DONE]")
        or b"response.completed" not in result.body
    ):
        raise RuntimeError(f"stream did not complete: ...{result.body[-400:]!r}")


def check_chat_stream(result: Result) -> None:
    if result.status != 200 or not result.body.rstrip().endswith(b"data: [DONE]"):
        raise RuntimeError(f"upstream stream broken: {result.body[-200:]!r}")


async def load(
    name: str,
    port: int,
    path: str,
    body: bytes | None,
    *,
    concurrency: int,
    requests: int,
    seconds: float,
    stream: bool,
    check: Check,
    pid: int | None = None,
    method: str = "POST",
    marker: bytes = b"event:",
) -> Phase:
    """Closed loop: ``concurrency`` workers, each on its own keep-alive connection; a stream's
    ``ttfe`` is when ``marker`` first arrived."""
    conns = [Connection(HOST, port, marker) for _ in range(concurrency)]
    results: list[Result] = []
    remaining = requests
    deadline = 0.0

    async def worker(conn: Connection) -> None:
        nonlocal remaining
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            result = await conn.request(method, path, body, stream=stream)
            check(result)
            results.append(result)

    # open every connection before the clock starts
    await asyncio.gather(*(c._connect() for c in conns))
    cpu0 = cpu_seconds(pid) if pid else None
    main0 = thread_cpu_seconds(pid)[0] if pid else None
    started = time.perf_counter()
    deadline = started + seconds
    try:
        await asyncio.gather(*(worker(c) for c in conns))
    finally:
        for conn in conns:
            conn.close()
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu0 if pid and cpu0 is not None else None
    main = thread_cpu_seconds(pid)[0] - main0 if pid and main0 is not None else None
    return Phase(name, concurrency, results, elapsed, cpu, main)


async def sequential(
    port: int, bodies: Callable[[int], bytes], count: int, check: Check
) -> list[Result]:
    conn = Connection(HOST, port)
    out = []
    try:
        for i in range(count):
            result = await conn.request("POST", "/v1/responses", bodies(i))
            check(result)
            out.append(result)
    finally:
        conn.close()
    return out


async def chains(port: int, count: int, turns: int) -> dict[int, list[float]]:
    """``count`` chains of ``turns`` turns via previous_response_id; latency of every turn."""
    per_turn: dict[int, list[float]] = {t: [] for t in range(1, turns + 1)}
    conn = Connection(HOST, port)
    try:
        for _ in range(count):
            previous: str | None = None
            for turn in range(1, turns + 1):
                body: dict[str, object] = {"model": "bench", "input": f"turn {turn}"}
                if previous:
                    body["previous_response_id"] = previous
                result = await conn.request("POST", "/v1/responses", orjson.dumps(body))
                check_response(result)
                previous = result.json()["id"]
                per_turn[turn].append(result.latency)
    finally:
        conn.close()
    return per_turn


async def mcp_direct(url: str, count: int) -> tuple[list[float], list[float]]:
    """Latency of the MCP server itself, with the SDK client: (a) a whole session per sample
    (connect + initialize + tools/list + tools/call + close, roughly what the gateway does per
    request), (b) one tools/call on an open session."""
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    sessions: list[float] = []
    calls: list[float] = []
    # One shared httpx2 client: a new one per session would add ~20 ms of CPU building an
    # SSL context (CA bundle), which is client cost, not MCP server time.
    http = httpx2.AsyncClient(trust_env=False)
    for _ in range(max(3, count // 3)):
        t0 = time.perf_counter()
        async with (
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            await session.list_tools()
            await session.call_tool("add", {"a": 1, "b": 2})
        sessions.append(time.perf_counter() - t0)
    async with (
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        for _ in range(count):
            t0 = time.perf_counter()
            result = await session.call_tool("add", {"a": 1, "b": 2})
            calls.append(time.perf_counter() - t0)
        texts = [getattr(c, "text", "") for c in result.content]
        if "3" not in texts:
            raise RuntimeError(f"MCP add returned {texts}")
    await http.aclose()
    return sessions, calls


# ----------------------------------------------------------------------------- report


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:.{digits}f}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(
        h.ljust(w) if i == 0 else h.rjust(w)
        for i, (h, w) in enumerate(zip(headers, widths, strict=True))
    )
    out = [line, "  ".join("-" * w for w in widths)]
    for row in rows:
        out.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(out)


async def first_delta_phase(port: int, pid: int, profile: Profile) -> Phase:
    """Streamed creates at c=1 timed to the first text delta's bytes (``ttfe``), as
    bench/side_by_side.py times them."""
    return await load(
        "streamed first delta",
        port,
        "/v1/responses",
        STREAMED,
        concurrency=1,
        requests=profile.c1_requests,
        seconds=profile.phase_seconds * 2,
        stream=True,
        check=check_stream,
        pid=pid,
        marker=DELTA,
    )


def streamed_summary(first_delta: Phase, streamed16: Phase) -> str:
    """The two streamed figures bench/side_by_side.py compares with agentic-api."""
    rows = [
        ["first text delta, p50 at c=1 (ms)", fmt(first_delta.ttfe(50))],
        ["streamed creates/s at c=16", fmt(streamed16.rps, 0)],
    ]
    return "Streamed\n" + table(["metric", "result"], rows)


def say(text: str = "") -> None:
    print(text, flush=True)


# ----------------------------------------------------------------------------- main


async def bench(
    args: argparse.Namespace, profile: Profile, children: Children, database_url: str
) -> None:
    up_port, gw_port, mcp_port = free_port(), free_port(), free_port()
    upstream = children.start(
        "upstream", ["taskset", "-c", "1", PYTHON, str(BENCH / "upstream_server.py"), str(up_port)]
    )
    mcp = children.start(
        "mcp", ["taskset", "-c", "1", PYTHON, str(BENCH / "mcp_server.py"), str(mcp_port)]
    )
    wait_ready_line(children, "upstream", upstream)
    env = gateway_env(upstream_url(up_port), database_url, GATEWAY_MCP_ALLOW_PRIVATE_NETWORKS="1")
    gateway = children.start(
        "gateway",
        ["taskset", "-c", "0", str(GATEWAY_BIN), "serve", "--host", HOST, "--port", str(gw_port)],
        env=env,
    )
    await wait_http(gw_port, "/healthz", gateway, children, "gateway")
    wait_ready_line(children, "mcp", mcp)
    pid = gateway.pid
    say(
        f"gateway pid {pid} on core 0 (port {gw_port}); upstream :{up_port}, MCP :{mcp_port}, "
        f"driver on core 1; database {args.database}"
    )
    say(
        f"profile: {'quick' if args.quick else 'full'} (throughput phases {profile.phase_seconds:g}s "
        f"or {profile.phase_requests} requests; c=1 phases {profile.c1_requests} requests)"
    )
    say()

    gw_path = "/v1/responses"
    up_path = "/v1/chat/completions"
    seconds_c1 = profile.phase_seconds * 2

    # warm-up: imports, JIT-free but caches, pools, SQLite pages
    for body, stream, check in ((PLAIN, False, check_response), (STREAMED, True, check_stream)):
        await load(
            "warmup",
            gw_port,
            gw_path,
            body,
            concurrency=4,
            requests=profile.warmup,
            seconds=30,
            stream=stream,
            check=check,
        )
    await load(
        "warmup",
        up_port,
        up_path,
        CHAT,
        concurrency=1,
        requests=profile.warmup,
        seconds=30,
        stream=False,
        check=check_json,
    )

    # direct upstream at c=1 (baseline for "gateway adds")
    say("running: direct upstream c=1 ...")
    direct = await load(
        "upstream direct",
        up_port,
        up_path,
        CHAT,
        concurrency=1,
        requests=profile.c1_requests,
        seconds=seconds_c1,
        stream=False,
        check=check_json,
    )
    direct_stream = await load(
        "upstream direct stream",
        up_port,
        up_path,
        CHAT_STREAM,
        concurrency=1,
        requests=profile.c1_requests,
        seconds=seconds_c1,
        stream=True,
        check=check_chat_stream,
    )

    phases: dict[tuple[str, int], Phase] = {}
    for kind, body, stream, check in (
        ("stored", PLAIN, False, check_response),
        ("streamed", STREAMED, True, check_stream),
    ):
        for concurrency in (1, 16, 64):
            say(f"running: {kind} c={concurrency} ...")
            children.check_alive()
            limit = profile.c1_requests if concurrency == 1 else profile.phase_requests
            secs = seconds_c1 if concurrency == 1 else profile.phase_seconds
            async with profiled(args.profile, f"{kind}-c{concurrency}", pid):
                phases[(kind, concurrency)] = await load(
                    f"{kind} c={concurrency}",
                    gw_port,
                    gw_path,
                    body,
                    concurrency=concurrency,
                    requests=limit,
                    seconds=secs,
                    stream=stream,
                    check=check,
                    pid=pid,
                )

    say("running: streamed c=1, timed to the first text delta ...")
    first_delta = await first_delta_phase(gw_port, pid, profile)

    # diagnostics: the framework floor (GET /healthz) and a create that is not stored
    say("running: diagnostics (GET /healthz c=16, store=false c=16) ...")
    phases[("GET /healthz", 16)] = await load(
        "healthz",
        gw_port,
        "/healthz",
        None,
        concurrency=16,
        requests=profile.phase_requests,
        seconds=profile.phase_seconds / 2,
        stream=False,
        check=check_json,
        pid=pid,
        method="GET",
    )
    async with profiled(args.profile, "unstored-c16", pid):
        phases[("store=false", 16)] = await load(
            "unstored",
            gw_port,
            gw_path,
            UNSTORED,
            concurrency=16,
            requests=profile.phase_requests,
            seconds=profile.phase_seconds,
            stream=False,
            check=check_response,
            pid=pid,
        )

    say(f"running: {profile.chains} previous_response_id chains of {profile.chain_turns} turns ...")
    cpu0 = cpu_seconds(pid)
    async with profiled(args.profile, "chains", pid):
        per_turn = await chains(gw_port, profile.chains, profile.chain_turns)
    chain_cpu = (cpu_seconds(pid) - cpu0) / (profile.chains * profile.chain_turns)
    await conversations_phase(gw_port, say, count=1 if args.quick else 3)
    await compaction_phase(gw_port, say)

    say("running: MCP round trips ...")
    mcp_url = f"http://{HOST}:{mcp_port}/mcp"
    mcp_body = orjson.dumps(
        {
            "model": "bench",
            "input": "add",
            "tools": [
                {
                    "type": "mcp",
                    "server_label": "calc",
                    "server_url": mcp_url,
                    "require_approval": "never",
                }
            ],
        }
    )

    def check_mcp(result: Result) -> None:
        check_response(result)
        output = result.json().get("output") or []
        calls = [item for item in output if item.get("type") == "mcp_call"]
        if not calls or calls[0].get("error") or str(calls[0].get("output")) != "3":
            raise RuntimeError(f"MCP round trip went wrong: {result.body[:800]!r}")

    await sequential(gw_port, lambda i: mcp_body, 3, check_mcp)  # warm-up
    cpu0 = cpu_seconds(pid)
    async with profiled(args.profile, "mcp", pid):
        mcp_results = await sequential(gw_port, lambda i: mcp_body, profile.mcp_requests, check_mcp)
    mcp_cpu = (cpu_seconds(pid) - cpu0) / profile.mcp_requests
    plain_again = await sequential(gw_port, lambda i: PLAIN, profile.mcp_requests, check_response)
    mcp_sessions, mcp_calls = await mcp_direct(mcp_url, profile.mcp_requests)

    hwm, rss = status_kib(pid, "VmHWM"), status_kib(pid, "VmRSS")
    children.check_alive()

    # ------------------------------------------------------------------ print
    say()
    say("=" * 96)
    say(
        f"responses-gateway benchmark — database: {args.database}, "
        f"{'quick' if args.quick else 'full'} run, gateway pinned to 1 core"
    )
    say("=" * 96)
    say()
    say(
        "Throughput and latency (closed loop, keep-alive connections; CPU = gateway process user+sys"
    )
    say(
        "per request; % in loop = share of that CPU on the event-loop thread, the rest is in worker"
    )
    say("threads such as the SQLite store's; 1st ev = time to the first SSE `event:` bytes)")
    rows = []
    for (kind, concurrency), phase in phases.items():
        row = [
            f"{kind} c={concurrency}",
            str(len(phase.results)),
            fmt(phase.rps, 0),
            fmt(phase.lat(50)),
            fmt(phase.lat(99)),
            fmt(phase.cpu_ms_per_request),
            fmt(phase.main_share, 0),
            fmt(phase.ttfe(50)) if kind == "streamed" else "",
            fmt(phase.ttfe(99)) if kind == "streamed" else "",
        ]
        rows.append(row)
    for phase in (direct, direct_stream):
        rows.append(
            [
                phase.name + " c=1",
                str(len(phase.results)),
                fmt(phase.rps, 0),
                fmt(phase.lat(50)),
                fmt(phase.lat(99)),
                "",
                "",
                "",
                "",
            ]
        )
    say(
        table(
            [
                "phase",
                "requests",
                "req/s",
                "p50 ms",
                "p99 ms",
                "CPU ms/req",
                "% in loop",
                "1st ev p50",
                "1st ev p99",
            ],
            rows,
        )
    )
    say()

    stored16 = phases[("stored", 16)]
    added = phases[("stored", 1)].lat(50) - direct.lat(50)
    added_stream = phases[("streamed", 1)].lat(50) - direct_stream.lat(50)
    ttfe50 = phases[("streamed", 1)].ttfe(50)
    turn1 = pct(per_turn[1], 50) * 1000
    last = profile.chain_turns
    turn_last = pct(per_turn[last], 50) * 1000
    ratio = turn_last / turn1 if turn1 else float("nan")
    mcp_p50 = pct([r.latency for r in mcp_results], 50) * 1000
    plain_p50 = pct([r.latency for r in plain_again], 50) * 1000

    say("Targets")
    rows = [
        [
            "stored non-streamed req/s at c=16 (1 core)",
            f">= {TARGET_RPS_C16:.0f}",
            fmt(stored16.rps, 0),
            verdict(stored16.rps >= TARGET_RPS_C16),
        ],
        [
            "gateway adds, p50 at c=1, stored non-streamed (ms)",
            f"<= {TARGET_ADDED_MS:g}",
            fmt(added),
            verdict(added <= TARGET_ADDED_MS),
        ],
        [
            "time to first event, p50 at c=1 (ms)",
            f"<= {TARGET_TTFE_MS:g}",
            fmt(ttfe50),
            verdict(ttfe50 <= TARGET_TTFE_MS),
        ],
        [
            f"turn {last} / turn 1 of a previous_response_id chain (p50)",
            f"<= {TARGET_CHAIN_RATIO:g}",
            fmt(ratio),
            verdict(ratio <= TARGET_CHAIN_RATIO),
        ],
    ]
    say(table(["metric", "target", "result", ""], rows))
    say()

    say(streamed_summary(first_delta, phases[("streamed", 16)]))
    say()

    say("Gateway overhead at c=1 (p50 of gateway minus p50 of the same chat call made directly)")
    say(
        table(
            ["", "direct upstream p50 ms", "gateway p50 ms", "added ms"],
            [
                [
                    "stored non-streamed",
                    fmt(direct.lat(50)),
                    fmt(phases[("stored", 1)].lat(50)),
                    fmt(added),
                ],
                [
                    "streamed (to [DONE])",
                    fmt(direct_stream.lat(50)),
                    fmt(phases[("streamed", 1)].lat(50)),
                    fmt(added_stream),
                ],
            ],
        )
    )
    say()

    say(
        f"previous_response_id chains ({profile.chains} chains x {last} turns, c=1; "
        f"gateway CPU {fmt(chain_cpu * 1000)} ms/turn)"
    )
    shown = sorted({1, 2, 10, 25, last} & set(per_turn))
    say(
        table(
            ["turn", "p50 ms", "p99 ms", "vs turn 1"],
            [
                [
                    str(t),
                    fmt(pct(per_turn[t], 50) * 1000),
                    fmt(pct(per_turn[t], 99) * 1000),
                    fmt(pct(per_turn[t], 50) * 1000 / turn1),
                ]
                for t in shown
            ],
        )
    )
    say()

    session_p50 = pct(mcp_sessions, 50) * 1000
    call_p50 = pct(mcp_calls, 50) * 1000
    say(
        f"MCP round trip (c=1, {len(mcp_results)} creates with one `add` call each; "
        f"gateway CPU {fmt(mcp_cpu * 1000)} ms/create)"
    )
    say(
        table(
            ["", "p50 ms", "p99 ms"],
            [
                [
                    "create with MCP tool (2 upstream rounds + list + call)",
                    fmt(mcp_p50),
                    fmt(pct([r.latency for r in mcp_results], 99) * 1000),
                ],
                [
                    "plain create (same moment, for the difference)",
                    fmt(plain_p50),
                    fmt(pct([r.latency for r in plain_again], 99) * 1000),
                ],
                [
                    "=> gateway overhead per MCP tool call (difference)",
                    fmt(mcp_p50 - plain_p50),
                    "",
                ],
                [
                    "MCP server direct: session (init+list+call+close), SDK client*",
                    fmt(session_p50),
                    fmt(pct(mcp_sessions, 99) * 1000),
                ],
                [
                    "MCP server direct: one tools/call on an open session",
                    fmt(call_p50),
                    fmt(pct(mcp_calls, 99) * 1000),
                ],
                [
                    "=> overhead minus direct MCP session minus 1 upstream round",
                    fmt(mcp_p50 - plain_p50 - session_p50 - direct.lat(50)),
                    "",
                ],
            ],
        )
    )
    say("  * SDK client in the driver with one reused httpx2 client (no SSL context per session)")
    say()
    say(f"Gateway memory: peak RSS (VmHWM) {hwm / 1024:.1f} MiB, current RSS {rss / 1024:.1f} MiB")
    say()
    from websocket_loop import report as websocket_report  # after the memory figure: it adds

    await websocket_report(gw_port, pid, loops=3 if args.quick else 20, turns=20)
    say()
    await codex_figure(gw_port, pid, 50 if args.quick else 500)
    say()
    say("Upstream parsing, in process (bench/stream_parsing.py):")
    for line in stream_parsing.figures():
        say(f"  {line}")


async def codex_figure(port: int, pid: int, requests: int) -> None:
    """The Codex-sized request's CPU over a one-word one (``bench/codex_request.py``)."""
    import codex_request  # it imports this module as its harness: here, not at the top

    phases = await codex_request.measure(port, pid, requests)
    codex_request.report(phases, len(orjson.dumps(codex_request.codex_body())))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run in < 30 s")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="admin connection used to create and drop a scratch database",
    )
    parser.add_argument(
        "--background", action="store_true", help="then run bench/background.py's phases too"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="record py-spy stacks of the gateway per phase into DIR "
        "(then: python bench/hotspots.py DIR/stored-c16.txt)",
    )
    parser.add_argument("--limits", action="store_true", help="only bench/limits.py's figures")
    args = parser.parse_args()
    if args.limits:
        import limits

        limits.main()
        return 0
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    profile = QUICK if args.quick else FULL

    if not GATEWAY_BIN.exists():
        print(f"error: {GATEWAY_BIN} not found (install the project in this venv)", file=sys.stderr)
        return 2
    if shutil.which("taskset") is None:
        print("error: taskset not found (util-linux)", file=sys.stderr)
        return 2
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {1} if os.cpu_count() and os.cpu_count() > 1 else {0})

    def on_term(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    children = Children()
    started = time.monotonic()
    try:
        with bench_database(args, children, "bench.db") as database_url:
            try:
                run = bench(args, profile, children, database_url)
                try:
                    import uvloop
                except ImportError:
                    asyncio.run(run)
                else:
                    uvloop.run(run)
            finally:
                children.stop_all()  # before the database is dropped
    except KeyboardInterrupt:
        print("\ninterrupted; child processes stopped", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"\nbenchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    import reasoning_phase  # bench/ is on the path when run as a script

    reasoning_phase.main(args.quick)
    for line in tool_mapping.report(200 if args.quick else 2000):  # its own event loop: here
        say(line)

    if args.background:
        import background

        background.run(args)
    say(f"\n(total wall time {time.monotonic() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

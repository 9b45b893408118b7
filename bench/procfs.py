"""CPU and memory readings of a process, from /proc (Linux)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


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

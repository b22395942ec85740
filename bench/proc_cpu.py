"""Where the CPU goes: per-process CPU time (user + system, all threads, from
/proc/PID/stat) of named groups of processes over an interval, and the machine's busy
time (/proc/stat) so that the rest — other work on the machine — shows too.

A group is given by its root pids; `children=True` also counts their descendants found
at each snapshot (PostgreSQL forks a backend per connection). A process that exits
between the snapshots loses the CPU it used since the first one (rare here: pools keep
their connections). `main_thread=True` also reports the roots' main threads alone (an
asyncio server's event loop: what the GIL bounds at one core, while threads that
release it, such as codecs in an executor, run beside it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["MAIN_THREAD", "Census", "Group", "cpu_seconds"]

#: suffix of the share a `main_thread` group's main threads took ("worker 0 main thread")
MAIN_THREAD = " main thread"

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int | str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User + system CPU seconds of one process, or of one of its threads (0 when it
    is gone)."""
    fields = _stat(pid if thread is None else f"{pid}/task/{thread}")
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / _TICK


def _descendants(roots: list[int]) -> set[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None:
                parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(roots), list(roots)
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _machine_busy() -> tuple[float, float, float]:
    """(busy, stolen, total) CPU seconds of all cores since boot; stolen: time the
    hypervisor ran something else (in a VM), counted in busy."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already in user
    return (total - idle) / _TICK, values[7] / _TICK, total / _TICK


@dataclass
class Group:
    name: str
    roots: list[int]
    children: bool = False
    main_thread: bool = False

    def pids(self) -> set[int]:
        return _descendants(self.roots) if self.children else set(self.roots)


@dataclass
class Census:
    """`start()`, then `stop()` gives each group's share of one core (%) over the
    interval, plus 'steal' (the hypervisor's), 'other' (everything else the machine
    ran: other processes, kernel threads) and 'machine' (busy, % of one core: 200 = both
    cores of a 2-core machine); for a `main_thread` group also '{name} main thread'
    (part of the group's share, not added to the total)."""

    groups: list[Group]
    _before: dict[str, dict[int, float]] = field(default_factory=dict)
    _machine: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def _snapshot(self) -> dict[str, dict[int, float]]:
        snapshot = {g.name: {p: cpu_seconds(p) for p in g.pids()} for g in self.groups}
        for g in self.groups:
            if g.main_thread:
                snapshot[g.name + MAIN_THREAD] = {p: cpu_seconds(p, p) for p in g.roots}
        return snapshot

    def start(self) -> None:
        self._before = self._snapshot()
        self._machine = _machine_busy()

    def stop(self) -> dict[str, float]:
        after = self._snapshot()
        busy1, stolen1, total1 = _machine_busy()
        busy = busy1 - self._machine[0]
        stolen = stolen1 - self._machine[1]
        elapsed = (total1 - self._machine[2]) / (os.cpu_count() or 1)
        shares: dict[str, float] = {}
        for name, pids in after.items():
            before = self._before.get(name, {})
            used = sum(cpu - before.get(pid, 0.0) for pid, cpu in pids.items())
            shares[name] = used / elapsed * 100
        shares["steal"] = stolen / elapsed * 100
        counted = sum(v for k, v in shares.items() if not k.endswith(MAIN_THREAD))
        shares["other"] = busy / elapsed * 100 - counted
        shares["machine"] = busy / elapsed * 100
        return shares

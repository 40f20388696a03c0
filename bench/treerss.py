"""Peak memory of process trees, sampled from /proc (Linux) in a background thread.

``TreeRss([pid, ...]).start()`` samples every ``interval`` seconds each given process and its descendants;
``stop()`` returns a ``TreePeak``:

- ``largest_mb``: the largest peak resident set (VmHWM) of any single process seen, with its name;
- ``sum_mb``: the largest total of the processes' current resident sets (VmRSS) at one sample, i.e. what
  the whole tree held at one moment (a peak shorter than the interval can be missed);
- ``most_processes``: the most processes alive at one sample;
- ``cpu_seconds``: user + system CPU time the trees used while sampled (each process's last sample less,
  for a process already running at the first sample, its CPU time then; a process's last 0.2 s and
  processes that lived less than one interval are missed).

A process counts from its second sample on: a fork about to exec briefly shows its parent's pages.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class TreePeak:
    largest_mb: float
    largest_name: str
    sum_mb: float
    most_processes: int
    cpu_seconds: float = 0.0

    def describe(self) -> str:
        return (f"largest process {self.largest_mb:.0f} MB ({self.largest_name}), tree {self.sum_mb:.0f} MB "
                f"at most, {self.most_processes} processes at most")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (through /proc/PID/task/TID/children)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                pending.extend(int(child) for child in
                               Path(f"/proc/{current}/task/{task}/children").read_text().split())
            except OSError:
                continue
    return found


def memory_kb(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) of a process in KB, or None when it is gone (or a kernel thread)."""
    rss = hwm = -1
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except (OSError, ValueError):
        return None
    return (rss, hwm) if rss >= 0 and hwm >= 0 else None


def process_name(pid: int) -> str:
    """A short name for a process: the module of ``python -m x.y`` (``y``), a script's name with its
    subcommand (``claimwatch crawl``), a multiprocessing helper's role, else the program's name."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "?"
    return command_name([arg for arg in argv if arg])


def command_name(argv: list[str]) -> str:
    if not argv:
        return "?"
    program = os.path.basename(argv[0])
    rest = argv[1:]
    if not program.startswith("python"):
        return program
    position = 0
    while position < len(rest) and rest[position].startswith("-") and rest[position] not in {"-m", "-c"}:
        position += 2 if rest[position] in {"-X", "-W"} else 1  # interpreter options (-B, -s, -X dev...)
    if position >= len(rest):
        return program
    if rest[position] == "-m":
        return rest[position + 1].rsplit(".", 1)[-1] if position + 1 < len(rest) else program
    if rest[position] == "-c":
        code = rest[position + 1] if position + 1 < len(rest) else ""
        for marker, role in (("spawn_main", "pool process"), ("resource_tracker", "resource tracker"),
                             ("forkserver", "forkserver")):
            if marker in code:
                return role
        return f"{program} -c"
    script = os.path.basename(rest[position])
    words = rest[position + 1:]
    for index, word in enumerate(words):  # the subcommand: the first word that is no option's value
        if not word.startswith("-") and (index == 0 or words[index - 1] not in {"--db"}):
            return f"{script} {word}" if word.isalpha() else script
    return script


class TreeRss:
    def __init__(self, pids: list[int], interval: float = 0.2) -> None:
        self.roots = list(pids)
        self.interval = interval
        self.hwm_kb: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.sum_kb = 0
        self.most = 0
        self._seen: set[int] = set()
        self._cpu_start: dict[int, float] = {}  # processes already running at the first sample
        self._cpu_last: dict[int, float] = {}
        self._sampled = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def add(self, pid: int) -> None:
        """Watch one more tree (e.g. a worker started after sampling began)."""
        with self._lock:
            self.roots.append(pid)

    def sample(self) -> None:
        with self._lock:
            roots = list(self.roots)
        members = {member for root in roots for member in descendants(root)}
        total = alive = 0
        for member in members:
            used = cpu_seconds(member)
            if used is not None:
                if not self._sampled:
                    self._cpu_start[member] = used
                self._cpu_last[member] = used
            memory = memory_kb(member)
            if memory is None:
                continue
            rss, hwm = memory
            if member not in self._seen:  # counted from its second sample on
                self._seen.add(member)
                continue
            alive += 1
            total += rss
            if hwm > self.hwm_kb.get(member, -1):
                self.hwm_kb[member] = hwm
                self.names[member] = process_name(member)
        self.sum_kb = max(self.sum_kb, total)
        self.most = max(self.most, alive)
        self._sampled = True

    def start(self) -> TreeRss:
        def run() -> None:
            while not self._stop.is_set():
                self.sample()
                self._stop.wait(self.interval)

        self._thread = threading.Thread(target=run, name="tree-rss", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> TreePeak:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        cpu = sum(last - self._cpu_start.get(pid, 0.0) for pid, last in self._cpu_last.items())
        if not self.hwm_kb:
            return TreePeak(0.0, "-", 0.0, 0, cpu)
        pid = max(self.hwm_kb, key=self.hwm_kb.__getitem__)
        return TreePeak(self.hwm_kb[pid] / 1024, self.names[pid], self.sum_kb / 1024, self.most, cpu)

"""Crawl throughput, memory and storage cost, measured in one run (issue: foundation, point 10).

Generates a 1,000-page seller site (~50 KB pages, bench/sitegen.py) served by monitor.siteserver in a
separate process on 127.0.0.1, then for each serving mode (with ETag/Last-Modified validators; with per-request
noise and no validators, as many shops do) measures:

  (a) a raw Scrapy no-op spider fetching the same URL list (before (b) and again after (c): the mean of
      the two, since a shared machine's speed drifts from one minute to the next),
  (b) `claimwatch crawl` with the full pipeline into a fresh SQLite database (discovering pages by links),
  (c) a second `claimwatch crawl` of the unchanged site,

with identical Scrapy concurrency settings (AutoThrottle off, robots.txt obeyed). It prints pages/s, the
ratios b/a and c/a, the CPU time and peak RSS of each crawl (the crawl process and its analysis pool
together: CLAIMWATCH_CRAWL_WORKERS), and database bytes added per page by (b) and (c).
Targets: b/a >= 0.5 (issue 16; 0.6 before it); c/a >= 0.9 with validators and >= 0.7 without; (c) < 1 KB/page;
peak RSS < 300 MB.

Usage: python bench/crawl.py [--pages 1000] [--repeat 1] [--keep DIR]

With ``--repeat N`` each mode runs N times (a fresh server and database each time) and the figures printed
are the medians, phase by phase; the ratios are the medians of each run's ratios. On a shared 2-core
machine single runs vary by up to 30%.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sitegen import generate_site  # noqa: E402

from monitor.config import load_settings  # noqa: E402
from monitor.crawl import prepare_crawl, run_job  # noqa: E402
from monitor.db import make_engine, make_session_factory, upgrade  # noqa: E402
from monitor.sites import upsert_sites  # noqa: E402
from monitor.watchlist import SiteSpec  # noqa: E402

SAME_SETTINGS = [
    "CONCURRENT_REQUESTS=16",
    "CONCURRENT_REQUESTS_PER_DOMAIN=16",
    "AUTOTHROTTLE_ENABLED=False",
    "ROBOTSTXT_OBEY=True",
    "LOG_LEVEL=INFO",
    "CLAIMWATCH_PROGRESS_INTERVAL=5",
]

NOOP_SPIDER = '''
import scrapy

class NoopSpider(scrapy.Spider):
    name = "noop"

    def __init__(self, urls, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.url_file = urls

    async def start(self):
        with open(self.url_file) as lines:
            for line in lines:
                yield scrapy.Request(line.strip(), callback=self.parse, dont_filter=True)

    def parse(self, response):
        return None
'''


@dataclass
class Phase:
    name: str
    pages: int
    seconds: float
    peak_rss_mb: float
    db_bytes: int = 0
    cpu_seconds: float = 0.0  # user + system time of the crawl and its page workers
    processes: int = 1
    rss_breakdown: str = ""
    cpu_breakdown: str = ""
    server_cpu: float = 0.0  # user + system time the local site server spent answering this phase
    stolen: float = 0.0  # CPU seconds the hypervisor gave other machines while this phase ran (/proc/stat)


    @property
    def rate(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0


class PeakRss:
    """Samples the peak resident set of a process and its descendants (a crawl and its page workers).

    Every 50 ms it reads each process's VmHWM (its own peak) from /proc; the figure reported is the sum of
    those peaks, an upper bound on what the process tree held at any one moment. A process is counted from
    its second sample on (a fork about to exec a helper briefly shows its parent's pages).
    """

    def __init__(self) -> None:
        self.peaks_kb: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.cpu: dict[int, float] = {}  # each process's CPU seconds at its last sample
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _tree(pid: int) -> list[int]:
        found, pending = [], [pid]
        while pending:
            current = pending.pop()
            found.append(current)
            try:
                with open(f"/proc/{current}/task/{current}/children") as children:
                    pending.extend(int(child) for child in children.read().split())
            except OSError:
                continue
        return found

    @staticmethod
    def _name(pid: int) -> str:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                argv = cmdline.read().decode(errors="replace").split("\0")
        except OSError:
            return "?"
        if "-m" in argv[:-1]:
            return argv[argv.index("-m") + 1].rsplit(".", 1)[-1]
        return os.path.basename(argv[0]) if argv and argv[0] else "?"

    def watch(self, pid: int) -> None:
        def sample() -> None:
            while not self._stop.is_set():
                for member in self._tree(pid):
                    try:
                        with open(f"/proc/{member}/status") as status:
                            for line in status:
                                if line.startswith("VmHWM:"):
                                    kb = int(line.split()[1])
                                    # a process counts from its second sample on: a fork about to exec
                                    # (Scrapy's start-up runs `uname`) shows its parent's pages for a moment
                                    if member in self.names:
                                        self.peaks_kb[member] = max(self.peaks_kb.get(member, 0), kb)
                                    self.names[member] = self._name(member)  # as exec'd by now
                    except OSError:
                        continue
                    if member in self.peaks_kb:
                        self.cpu[member] = max(self.cpu.get(member, 0.0), process_cpu(member))
                time.sleep(0.05)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return sum(self.peaks_kb.values()) / 1024

    @property
    def processes(self) -> int:
        return len(self.peaks_kb)

    def breakdown(self) -> str:
        return " + ".join(f"{kb / 1024:.0f} {self.names[pid]}" for pid, kb in self.peaks_kb.items())

    def cpu_breakdown(self) -> str:
        """CPU seconds by process, as last sampled (a process's final 50 ms may be missing)."""
        return " + ".join(f"{self.cpu.get(pid, 0.0):.1f} {self.names[pid]}" for pid in self.peaks_kb)


def db_size(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def process_cpu(pid: int) -> float:
    """User + system CPU seconds a running process has used so far (from /proc; 0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stolen_cpu() -> float:
    """CPU seconds stolen from this virtual machine by its hypervisor since boot (0 where not known)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def start_server(site_root: Path, validators: bool) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "monitor.siteserver", str(site_root)]
    if not validators:
        command.append("--no-validators")
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    return server, url


def noop_crawl(url_file: Path, work: Path) -> Phase:
    spider = work / "noop_spider.py"
    spider.write_text(NOOP_SPIDER)
    command = [sys.executable, "-m", "scrapy", "runspider", str(spider), "-a", f"urls={url_file}",
               "-s", f"LOG_FILE={work / 'noop.log'}", "-s", "TELNETCONSOLE_ENABLED=False",
               "-s", "REMOTE_CONTROL_ENABLED=False"]  # both consoles are off in claimwatch crawls too
    for setting in SAME_SETTINGS:
        command += ["-s", setting]
    rss = PeakRss()
    started = time.perf_counter()
    cpu_before = os.times()
    process = subprocess.Popen(command, cwd=work, stdout=subprocess.DEVNULL)
    rss.watch(process.pid)
    process.wait()
    seconds = time.perf_counter() - started
    cpu_after = os.times()
    cpu = (cpu_after.children_user - cpu_before.children_user) + (cpu_after.children_system
                                                                  - cpu_before.children_system)
    pages = sum(1 for line in url_file.read_text().splitlines() if line.strip())
    return Phase("a: raw Scrapy no-op", pages, seconds, rss.stop(), 0, cpu, 1)


def claimwatch_crawl(name: str, sessions, settings, db_path: Path,  # type: ignore[no-untyped-def]
                     expected: int) -> Phase:
    before = db_size(db_path)
    job = prepare_crawl(sessions, settings, "bench")
    rss = PeakRss()
    started = time.perf_counter()
    cpu_before = os.times()
    summary = run_job(sessions, settings, job, extra_settings=SAME_SETTINGS, on_start=lambda p: rss.watch(p.pid))
    seconds = time.perf_counter() - started
    cpu_after = os.times()
    cpu = (cpu_after.children_user - cpu_before.children_user) + (cpu_after.children_system
                                                                  - cpu_before.children_system)
    if summary.status != "finished":
        raise SystemExit(f"crawl failed: {summary.line()}")
    if summary.pages < expected:  # a page the workers failed to store is logged, not recorded
        raise SystemExit(f"only {summary.pages} of {expected} pages stored: see {summary.log_path}")
    peak = rss.stop()
    return Phase(name, summary.pages, seconds, peak, db_size(db_path) - before, cpu, rss.processes,
                 rss.breakdown(), rss.cpu_breakdown())


def median_phase(runs: list[Phase]) -> Phase:
    """One phase's medians over repeated runs (its time, CPU, peak RSS and bytes taken separately)."""
    if len(runs) == 1:
        return runs[0]
    typical = sorted(runs, key=lambda phase: phase.seconds)[len(runs) // 2]
    return replace(typical, seconds=statistics.median(phase.seconds for phase in runs),
                   cpu_seconds=statistics.median(phase.cpu_seconds for phase in runs),
                   server_cpu=statistics.median(phase.server_cpu for phase in runs),
                   stolen=statistics.median(phase.stolen for phase in runs),
                   peak_rss_mb=statistics.median(phase.peak_rss_mb for phase in runs),
                   db_bytes=int(statistics.median(phase.db_bytes for phase in runs)))


def run_mode(site_root: Path, paths: list[str], validators: bool, work: Path) -> list[Phase]:
    server, url = start_server(site_root, validators)
    try:
        url_file = work / "urls.txt"
        url_file.write_text("".join(f"{url}{path}\n" for path in paths))
        def served(run: Callable[[], Phase]) -> Phase:
            before, stolen = process_cpu(server.pid), stolen_cpu()
            phase = run()
            return replace(phase, server_cpu=process_cpu(server.pid) - before, stolen=stolen_cpu() - stolen)

        raw = served(lambda: noop_crawl(url_file, work))
        db_path = work / f"bench-{'validators' if validators else 'noisy'}.db"
        db_path.unlink(missing_ok=True)
        settings = replace(load_settings(), db_url=f"sqlite:///{db_path}", data_dir=work / "data")
        engine = make_engine(settings.db_url)
        upgrade(engine)
        sessions = make_session_factory(engine)
        with sessions.begin() as session:
            upsert_sites(session, [SiteSpec("bench", (f"{url}/shop/",), ("/shop/",), max_pages=len(paths) + 10)])
        first = served(lambda: claimwatch_crawl("b: claimwatch crawl (first)", sessions, settings, db_path,
                                                    len(paths)))
        second = served(lambda: claimwatch_crawl("c: claimwatch crawl (unchanged)", sessions, settings, db_path,
                                                     len(paths)))
        engine.dispose()
        # the raw crawl again after (b) and (c): the machine's speed drifts, so the baseline brackets them
        after = served(lambda: noop_crawl(url_file, work))
        raw = replace(raw, name="a: raw Scrapy no-op (mean of 2)", seconds=(raw.seconds + after.seconds) / 2,
                      cpu_seconds=(raw.cpu_seconds + after.cpu_seconds) / 2,
                      server_cpu=(raw.server_cpu + after.server_cpu) / 2, stolen=(raw.stolen + after.stolen) / 2,
                      peak_rss_mb=max(raw.peak_rss_mb, after.peak_rss_mb))
        return [raw, first, second]
    finally:
        server.terminate()
        server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each mode; medians are reported")
    parser.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: a temp dir)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="claimwatch-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("CLAIMWATCH_CONTACT", "bench@claimwatch.invalid")
    try:
        site_root = work / "site"
        started = time.perf_counter()
        paths = generate_site(site_root, args.pages)
        size = sum(f.stat().st_size for f in site_root.rglob("*.html")) / len(paths)
        print(f"site: {len(paths)} pages, {size / 1000:.1f} KB average, generated in "
              f"{time.perf_counter() - started:.1f} s; {os.cpu_count()} cores; "
              f"{load_settings().crawl_workers} analysis processes (CLAIMWATCH_CRAWL_WORKERS)")
        for validators in (True, False):
            label = "with ETag/Last-Modified" if validators else "noisy, no validators"
            runs = [run_mode(site_root, paths, validators, work) for _ in range(max(args.repeat, 1))]
            phases = [median_phase([run[index] for run in runs]) for index in range(3)]
            raw, first, second = phases
            print(f"\n== served {label}" + (f" (medians of {len(runs)} runs)" if len(runs) > 1 else ""))
            # each run's ratio compares crawls made minutes apart; their median is the figure reported
            # (a ratio of medians would set one run's (b) against another's (a) on a machine whose speed drifts)
            ratios = {name: statistics.median(run[index + 1].rate / run[0].rate for run in runs)
                      for index, name in enumerate(("b/a", "c/a"))}
            if len(runs) > 1:
                for index, name in enumerate(("b/a", "c/a")):
                    each = sorted(run[index + 1].rate / run[0].rate for run in runs)
                    print(f"  {name} of each run: " + " ".join(f"{ratio:.2f}" for ratio in each)
                          + f"  (median {ratios[name]:.2f})")
            for phase in phases:
                line = f"  {phase.name:<34} {phase.pages:>5} pages {phase.seconds:7.2f} s {phase.rate:7.1f} pages/s"
                line += f"  CPU {phase.cpu_seconds:5.2f} s (server {phase.server_cpu:4.2f} s,"
                line += f" stolen {phase.stolen:4.2f} s)"
                line += f"  peak RSS {phase.peak_rss_mb:6.1f} MB"
                if phase.processes > 1:
                    line += f" ({phase.rss_breakdown})"
                if phase.db_bytes or phase is not raw:
                    line += f"  db +{phase.db_bytes / max(phase.pages, 1):8.0f} B/page"
                print(line)
            target_c = 0.9 if validators else 0.7
            print(f"  b/a = {ratios['b/a']:.2f} (target >= 0.5)   "
                  f"c/a = {ratios['c/a']:.2f} (target >= {target_c})   "
                  f"(c) adds {second.db_bytes / max(second.pages, 1):.0f} B/page (target < 1024)")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

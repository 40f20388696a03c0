"""Many sellers, one machine: claimwatch against raw Scrapy on 200 small sites, in one run (issue 16).

Generates ``--sites`` sellers (default 200) of ``--pages`` pages each (default 11: a home page at
``/shop/`` linking to 10 shop pages of 30-80 KB, bench/sitegen.py; robots.txt), each on its own loopback
address 127.0.1.N, served by nginx run as a child process with a generated configuration (bench/
nginx_sites.py: its pid file, logs and temporary folders in the work folder). Then, with the same
politeness for every tool (POLITENESS below: AutoThrottle from 0.5 s, 8 requests per host, 16 in all,
robots.txt obeyed, the same User-Agent, timeouts and retries), it measures:

  (a) raw Scrapy: one CrawlerProcess, the known URL list, a no-op parse (run before (b) and again after
      (c); the mean of the two, since a shared machine's speed drifts from one minute to the next);
  (b) ``claimwatch crawl``, first crawl, after ``claimwatch init`` and ``claimwatch sites import`` of a
      generated watchlist into a fresh database;
  (c) ``claimwatch crawl`` again, nothing changed;
  (d) the same first crawl through Celery (``CLAIMWATCH_EXECUTOR=celery``): one ``claimwatch worker``
      draining it, then two (each with its own data folder, as two machines would have), into a fresh
      database each time; skipped when ``claimwatch worker`` does not exist or the broker cannot be
      reached (``CLAIMWATCH_BROKER``, default redis://127.0.0.1:6379/15). Two workers on one machine
      share its cores, so on a machine that one worker already fills, (d) measures the machine, not the
      scale-out; ``--cpus-per-worker N`` gives each worker N CPUs of its own (CPU affinity, inherited by its
      crawl and analysis processes), standing in for machines of N CPUs. nginx, the database and the
      broker still share every CPU.

claimwatch is used through its command line only. For each phase it prints the wall time, pages fetched
(page requests nginx answered, every status), pages/s, the ratio to (a), and the peak memory of the
phase's process tree sampled from /proc every 0.2 s: the largest single process (its own peak) and the
largest total at one moment; then the issue's targets: b/a >= 0.6, c/a >= 0.8, two workers >= 1.6x the
pages/s of one, the largest crawl process < 500 MB.

Usage: python bench/many_sites.py [--sites 200] [--pages 11] [--skip raw|first|recrawl|workers ...]
                                  [--parallel N] [--port 8080] [--no-validators] [--cpus-per-worker N]
                                  [--keep]

The database is a SQLite file in the work folder; with ``CLAIMWATCH_BENCH_PG`` set to a PostgreSQL server's
URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres) each phase gets a fresh database created
on that server instead, dropped at the end unless --keep. nginx must be installed (Debian:
``apt-get install nginx``); this script installs nothing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from nginx_sites import (  # noqa: E402
    INSTALL_HINT,
    PORT,
    NginxSites,
    Served,
    generate_sites,
    nginx_binary,
    site_paths,
)
from treerss import TreePeak, TreeRss  # noqa: E402

CONTACT = "bench@claimwatch.invalid"
# The politeness every tool gets: the "AutoThrottle from 0.5 s, 8 per host, 16 in all, robots.txt",
# with claimwatch's own User-Agent, timeouts, retries and AutoThrottle target (crawler/settings.py);
# `check_politeness` warns when claimwatch's settings have moved away from these.
POLITENESS: dict[str, Any] = {
    "USER_AGENT": f"claimwatch/0.1 (+consumer-protection page monitor; contact: {CONTACT})",
    "ROBOTSTXT_OBEY": True,
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": True,
    "AUTOTHROTTLE_START_DELAY": 0.5,
    "AUTOTHROTTLE_MAX_DELAY": 30,
    "AUTOTHROTTLE_TARGET_CONCURRENCY": 4.0,
    "DOWNLOAD_TIMEOUT": 30,
    "DOWNLOAD_MAXSIZE": 5 * 1024 * 1024,
    "RETRY_TIMES": 2,
    "COOKIES_ENABLED": False,
}
RAW_EXTRA: dict[str, Any] = {
    "TELNETCONSOLE_ENABLED": False,  # both consoles are off in claimwatch crawls too
    "REMOTE_CONTROL_ENABLED": False,
    "LOG_LEVEL": "INFO",
}
STEPS = ("raw", "first", "recrawl", "workers")
DEFAULT_BROKER = "redis://127.0.0.1:6379/15"
SUMMARY = re.compile(r"^(?P<site>[\w.-]+): (?P<status>\w+), (?P<pages>\d+) pages, (?P<snapshots>\d+) new "
                     r"snapshots, (?P<changes>\d+) changes, (?P<errors>\d+) errors")


# --------------------------------------------------------------------------------------------- raw Scrapy


def raw_spider_main(url_file: Path, stats_file: Path, log_file: Path) -> int:
    """The raw baseline, in a process of its own: one CrawlerProcess over the known URL list, no-op parse."""
    import scrapy
    from scrapy.crawler import CrawlerProcess

    class NoopSpider(scrapy.Spider):
        name = "noop"
        parsed = 0

        async def start(self) -> AsyncIterator[scrapy.Request]:  # Scrapy's current API
            for line in url_file.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    yield scrapy.Request(line.strip(), callback=self.parse, dont_filter=True)

        def parse(self, response: Any) -> None:
            NoopSpider.parsed += 1

    settings = {**POLITENESS, **RAW_EXTRA, "LOG_FILE": str(log_file)}
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(NoopSpider)
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats is not None else {}
    stats_file.write_text(json.dumps({"parsed": NoopSpider.parsed,
                                      "responses": stats.get("response_received_count", 0),
                                      "errors": stats.get("log_count/ERROR", 0)}), encoding="utf-8")
    return 0


# --------------------------------------------------------------------------------------------- phases


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    served: Served | None = None
    memory: TreePeak | None = None
    cpu: float = 0.0
    note: str = ""
    ok: bool = True
    skipped: str = ""

    @property
    def pages(self) -> int:
        return self.served.page_total if self.served is not None else 0

    @property
    def rate(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0


def children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path, server: NginxSites, claimwatch: str) -> None:
        self.args = args
        self.work = work
        self.server = server
        self.claimwatch = claimwatch
        self.expected = args.sites * args.pages
        self.pg_server = os.environ.get("CLAIMWATCH_BENCH_PG") or ""
        self.databases: list[str] = []

    # ---- helpers

    def env(self, data: str, **extra: str) -> dict[str, str]:
        env = {**os.environ, "CLAIMWATCH_CONTACT": CONTACT, "CLAIMWATCH_DATA": str(self.work / data)}
        env.pop("CLAIMWATCH_DB", None)
        if self.args.parallel:
            env["CLAIMWATCH_MAX_PARALLEL"] = str(self.args.parallel)
        env.update(extra)
        return env

    def log(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def fresh_database(self, label: str) -> str:
        """A new, empty database for one phase: a SQLite file in the work folder, or one on CLAIMWATCH_BENCH_PG."""
        if not self.pg_server:
            return f"sqlite:///{self.work / f'{label}.db'}"
        import psycopg

        name = f"claimwatch_bench_{os.getpid()}_{label}".replace("-", "_")
        parts = urlsplit(self.pg_server)
        conninfo = parts._replace(scheme="postgresql").geturl()
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')  # our own generated name, not input
            connection.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return parts._replace(path=f"/{name}").geturl()

    def drop_databases(self) -> None:
        if not self.databases:
            return
        import psycopg

        conninfo = urlsplit(self.pg_server)._replace(scheme="postgresql").geturl()
        with psycopg.connect(conninfo, autocommit=True) as connection:
            for name in self.databases:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def cli(self, db: str, arguments: Sequence[str], env: dict[str, str]) -> None:
        """A claimwatch command that must succeed (set-up): its error output shown when it does not."""
        done = subprocess.run([self.claimwatch, "--db", db, *arguments], env=env, cwd=self.work,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"claimwatch {' '.join(arguments)} failed ({done.returncode}): "
                             f"{done.stderr.strip()[-2000:]}")

    def watchlist(self) -> Path:
        path = self.work / "watchlist.yaml"
        if not path.exists():
            lines = ["sites:"]
            for index in range(1, self.args.sites + 1):
                lines += [f"  - name: seller-{index:03d}",
                          f'    start_urls: ["{self.server.url(index)}/shop/"]',
                          '    allow: ["/shop/"]',
                          f"    max_pages: {self.args.pages + 10}"]
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def prepared_database(self, label: str, env: dict[str, str]) -> str:
        db = self.fresh_database(label)
        self.cli(db, ["init"], env)
        self.cli(db, ["sites", "import", str(self.watchlist())], env)
        return db

    @contextmanager
    def measured(self, phase: Phase) -> Iterator[TreeRss]:
        """Times the block, counts what nginx answered during it, samples memory and children's CPU."""
        mark = self.server.log_mark()
        cpu = children_cpu()
        sampler = TreeRss([])
        started = time.perf_counter()
        try:
            yield sampler
        finally:
            phase.seconds = time.perf_counter() - started
            phase.memory = sampler.stop()
            phase.cpu = children_cpu() - cpu
            phase.served = self.server.requests_since(mark)
            self.log(f"{phase.name}: {phase.seconds:.1f} s, {phase.pages} pages")

    def timed_process(self, phase: Phase, command: list[str], env: dict[str, str], stderr: Path,
                      watch: Sequence[int] = ()) -> int:
        with self.measured(phase) as sampler, stderr.open("w") as errors:
            for pid in watch:
                sampler.add(pid)
            process = subprocess.Popen(command, env=env, cwd=self.work, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=errors)
            sampler.add(process.pid)
            sampler.start()
            code = process.wait()
        return code

    def check_pages(self, phase: Phase) -> None:
        if phase.pages < self.expected:
            phase.ok = False
            phase.note = (phase.note + "; " if phase.note else "") + \
                f"only {phase.pages} of {self.expected} pages fetched"

    # ---- (a)

    def raw(self, label: str) -> Phase:
        phase = Phase(label)
        url_file = self.work / "urls.txt"
        if not url_file.exists():
            urls = [f"{self.server.url(index)}{path}\n" for index in range(1, self.args.sites + 1)
                    for path in site_paths(self.server.roots[index - 1])]
            url_file.write_text("".join(urls), encoding="utf-8")
        log = self.work / "logs" / f"raw-{label.rsplit(' ', 1)[-1]}.log"  # raw-before.log, raw-after.log
        stats = log.with_suffix(".json")
        self.log(f"(a) raw Scrapy: {self.expected} known URLs on {self.args.sites} hosts")
        code = self.timed_process(phase, [sys.executable, str(Path(__file__).resolve()), "--raw-spider",
                                          str(url_file), str(stats), str(log)],
                                  self.env("raw-data"), log.with_suffix(".stderr"))
        counts = json.loads(stats.read_text()) if stats.exists() else {}
        phase.ok = code == 0
        phase.note = f"parsed {counts.get('parsed', '?')}, log {log}" if code == 0 else \
            f"exit {code}: see {log.with_suffix('.stderr')}"
        self.check_pages(phase)
        return phase

    # ---- (b) and (c)

    def crawl(self, phase: Phase, db: str, env: dict[str, str], stderr: Path,
              watch: Sequence[int] = (), command: str = "crawl") -> None:
        """``claimwatch crawl`` (or ``enqueue``, which waits for the workers), timed; its summary lines read."""
        code = self.timed_process(phase, [self.claimwatch, "--db", db, command], env, stderr, watch)
        totals = {"finished": 0, "sites": 0, "pages": 0, "snapshots": 0, "errors": 0}
        for line in stderr.read_text(encoding="utf-8", errors="replace").splitlines():
            match = SUMMARY.match(line)
            if match:
                totals["sites"] += 1
                totals["finished"] += match["status"] == "finished"
                totals["pages"] += int(match["pages"])
                totals["snapshots"] += int(match["snapshots"])
                totals["errors"] += int(match["errors"])
        phase.ok = code == 0
        if totals["sites"]:
            phase.note = (f"{totals['finished']}/{totals['sites']} sites finished, {totals['pages']} pages, "
                          f"{totals['snapshots']} new snapshots, {totals['errors']} errors")
        else:
            phase.note = "no summary lines recognised"
        if code != 0:
            phase.note += f"; exit {code}, see {stderr}"
        self.check_pages(phase)

    def first_and_recrawl(self, steps: set[str]) -> list[Phase]:
        env = self.env("data")
        db = self.prepared_database("crawl", env)
        phases = []
        first = Phase("b: claimwatch crawl, first")
        self.log(f"(b) claimwatch crawl: {self.args.sites} sites, first crawl"
                 + ("" if "first" in steps else " (not reported: --skip first)"))
        self.crawl(first, db, env, self.work / "logs" / "first.stderr")
        if "first" in steps:
            phases.append(first)
        if "recrawl" in steps:
            again = Phase("c: claimwatch crawl, unchanged")
            self.log("(c) claimwatch crawl: the same sites again, nothing changed")
            self.crawl(again, db, env, self.work / "logs" / "recrawl.stderr")
            phases.append(again)
        return phases

    # ---- (d)

    def workers_unavailable(self) -> str:
        for command in ("worker", "enqueue"):
            done = subprocess.run([self.claimwatch, command, "--help"], capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL, env=self.env("data"))
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["no error output"])[-1]
                return f"claimwatch {command} not available ({last[:200]})"
        broker = os.environ.get("CLAIMWATCH_BROKER") or DEFAULT_BROKER
        parts = urlsplit(broker)
        default_port = {"redis": 6379, "amqp": 5672, "pyamqp": 5672}.get(parts.scheme, 0)
        try:
            with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=3):
                pass
        except OSError as exc:
            return f"broker {broker} not reachable ({exc.strerror or exc})"
        return ""

    def worker_cpus(self, number: int) -> set[int] | None:
        """The CPUs worker ``number`` (from 1) may use with --cpus-per-worker: its own share, as if each
        worker were a machine of that many CPUs; None: all of them."""
        size = self.args.cpus_per_worker
        if not size:
            return None
        cpus = sorted(os.sched_getaffinity(0))
        return set(cpus[(number - 1) * size : number * size])

    def workers(self, count: int) -> Phase:
        machines = f", {self.args.cpus_per_worker} CPU each" if self.args.cpus_per_worker else ""
        phase = Phase(f"d: Celery, {count} worker{'s' if count > 1 else ''}{machines}")
        broker = os.environ.get("CLAIMWATCH_BROKER") or DEFAULT_BROKER
        label = f"workers{count}"
        # a queue of this run's own: no request left over from another run, no other worker taking ours
        executor = {"CLAIMWATCH_EXECUTOR": "celery", "CLAIMWATCH_BROKER": broker,
                    "CLAIMWATCH_QUEUE": f"claimwatch-bench-{os.getpid()}-{label}"}
        db = self.prepared_database(label, self.env("data-" + label, **executor))
        started: list[tuple[subprocess.Popen[bytes], Path]] = []
        try:
            for number in range(1, count + 1):
                errors = self.work / "logs" / f"{label}-worker{number}.stderr"
                cpus = self.worker_cpus(number)
                # pinned before exec, so the worker's crawl process and analysis pool inherit it (and size
                # the pool to it: CLAIMWATCH_CRAWL_WORKERS defaults to the CPUs a process may use)
                pin = (lambda cpus=cpus: os.sched_setaffinity(0, cpus)) if cpus else None
                with errors.open("w") as stream:
                    process = subprocess.Popen([self.claimwatch, "--db", db, "worker"], cwd=self.work,
                                               env=self.env(f"data-{label}-{number}", **executor),
                                               stdin=subprocess.DEVNULL, stdout=stream, stderr=stream,
                                               preexec_fn=pin)
                started.append((process, errors))
            self._wait_ready(started)
            self.log(f"(d) claimwatch enqueue: {self.args.sites} sites, drained by {count} worker(s)")
            self.crawl(phase, db, self.env(f"data-{label}", **executor), self.work / "logs" / f"{label}.stderr",
                       watch=[process.pid for process, _ in started], command="enqueue")
            # the workers are reaped after the phase: their CPU as sampled from /proc while it ran
            phase.cpu = phase.memory.cpu_seconds if phase.memory else 0.0
        finally:
            for process, _ in started:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)  # Celery's warm shutdown
            for process, _ in started:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        return phase

    def _wait_ready(self, started: list[tuple[subprocess.Popen[bytes], Path]], timeout: float = 90) -> None:
        """Until every worker logged Celery's "ready." line (or ``timeout``); a worker that exits fails."""
        deadline = time.monotonic() + timeout
        pending = list(started)
        while pending and time.monotonic() < deadline:
            for process, errors in list(pending):
                if process.poll() is not None:
                    tail = errors.read_text(errors="replace")[-1500:]
                    raise SystemExit(f"claimwatch worker exited with {process.returncode}: {tail}")
                if " ready." in errors.read_text(errors="replace"):
                    pending.remove((process, errors))
            time.sleep(0.2)
        if pending:
            self.log(f"{len(pending)} worker(s) not ready after {timeout:.0f} s (no 'ready.' line): going on")


# --------------------------------------------------------------------------------------------- report


def check_politeness() -> list[str]:
    """Where claimwatch's own Scrapy settings differ from POLITENESS (a warning each), or how it failed."""
    try:  # the claimwatch this interpreter imports (the one whose command the bench runs)
        settings = importlib.import_module("crawler.settings")
    except Exception as exc:  # a benchmark's check: any failure is reported, not fatal
        return [f"could not compare with claimwatch's crawler/settings.py: {exc}"]
    # the User-Agent is claimwatch's own format with CLAIMWATCH_CONTACT, which every crawl here sets
    return [f"claimwatch's {name} is {getattr(settings, name)!r}, the raw baseline's {value!r}"
            for name, value in POLITENESS.items()
            if name != "USER_AGENT" and hasattr(settings, name) and getattr(settings, name) != value]


def mean_raw(runs: list[Phase]) -> Phase:
    if len(runs) == 1:
        return runs[0]
    seconds = sum(run.seconds for run in runs) / len(runs)
    merged = Phase(f"a: raw Scrapy (mean of {len(runs)})", seconds=seconds, served=runs[0].served,
                   memory=max((run.memory for run in runs if run.memory), key=lambda m: m.largest_mb, default=None),
                   cpu=sum(run.cpu for run in runs) / len(runs), ok=all(run.ok for run in runs))
    merged.note = "runs: " + ", ".join(f"{run.seconds:.1f} s ({run.rate:.0f} pages/s)" for run in runs)
    return merged


def table(phases: list[Phase], raw: Phase | None) -> str:
    head = ("| phase | wall | pages | pages/s | vs (a) | largest process | tree at once | procs | CPU |"
            "\n|---|---|---|---|---|---|---|---|---|")
    rows = [head]
    for phase in phases:
        if phase.skipped:
            rows.append(f"| {phase.name} | skipped: {phase.skipped} | | | | | | | |")
            continue
        ratio = f"{phase.rate / raw.rate:.2f}" if raw and raw.rate and phase is not raw else \
            ("1" if phase is raw else "-")
        memory = phase.memory or TreePeak(0, "-", 0, 0)
        rows.append(f"| {phase.name}{'' if phase.ok else ' (FAILED)'} | {phase.seconds:.1f} s | {phase.pages} | "
                    f"{phase.rate:.1f} | {ratio} | {memory.largest_mb:.0f} MB ({memory.largest_name}) | "
                    f"{memory.sum_mb:.0f} MB | {memory.most_processes} | {phase.cpu:.1f} s |")
    return "\n".join(rows)


def verdicts(phases: dict[str, Phase], raw: Phase | None) -> list[str]:
    lines = []

    def verdict(label: str, value: float, target: float, higher: bool = True, digits: int = 2) -> None:
        met = value >= target if higher else value < target
        lines.append(f"{label}: {value:.{digits}f} (target {'>=' if higher else '<'} {target:g}) "
                     f"{'met' if met else 'MISSED'}")

    first, again = phases.get("first"), phases.get("recrawl")
    if raw and raw.rate:
        if first:
            verdict("b/a", first.rate / raw.rate, 0.6)
        if again:
            verdict("c/a", again.rate / raw.rate, 0.8)
    one, two = phases.get("workers1"), phases.get("workers2")
    if one and two and one.rate and not one.skipped:
        verdict("d: 2 workers / 1 worker pages/s", two.rate / one.rate, 1.6)
    crawls = [phase for phase in (first, again) if phase and phase.memory]
    if crawls:
        largest = max(crawls, key=lambda phase: phase.memory.largest_mb if phase.memory else 0)
        assert largest.memory is not None
        verdict(f"largest crawl process, MB ({largest.memory.largest_name}, {largest.name[:1]})",
                largest.memory.largest_mb, 500, higher=False, digits=0)
    return lines


# --------------------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sites", type=int, default=200, help="sellers, each on its own 127.0.1.N host")
    parser.add_argument("--pages", type=int, default=11, help="pages per seller, home page included")
    parser.add_argument("--skip", action="append", default=[], metavar="STEP",
                        help=f"leave out a step: {', '.join(STEPS)} (repeatable, or comma-separated)")
    parser.add_argument("--parallel", type=int, default=0,
                        help="CLAIMWATCH_MAX_PARALLEL for the claimwatch crawls (default: claimwatch's own)")
    parser.add_argument("--port", type=int, default=PORT, help="the port nginx listens on, on every address")
    parser.add_argument("--no-validators", action="store_true",
                        help="nginx sends no ETag and ignores If-Modified-Since (every re-fetch a full 200)")
    parser.add_argument("--cpus-per-worker", type=int, default=0, metavar="N",
                        help="(d) as machines of N CPUs: worker k runs on CPUs k*N .. k*N+N-1 only (its crawl "
                             "and analysis processes inherit it); default 0: every worker on every CPU")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (and PostgreSQL databases)")
    parser.add_argument("--raw-spider", nargs=3, metavar=("URLS", "STATS", "LOG"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    skipped = {part.strip() for value in args.skip for part in value.split(",") if part.strip()}
    unknown = skipped - set(STEPS)
    if unknown:
        parser.error(f"--skip takes {', '.join(STEPS)}, not {', '.join(sorted(unknown))}")
    if not 1 <= args.sites <= 60_000 or args.pages < 2:
        parser.error("--sites from 1 to 60,000 and --pages of at least 2")
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if args.cpus_per_worker < 0 or (args.cpus_per_worker and 2 * args.cpus_per_worker > len(cpus)):
        parser.error(f"--cpus-per-worker N needs 2 x N CPUs for the two workers; this process may use {len(cpus)}")
    args.steps = [step for step in STEPS if step not in skipped]
    return args


def claimwatch_command() -> str | None:
    beside = Path(sys.executable).parent / "claimwatch"
    return str(beside) if beside.exists() else shutil.which("claimwatch")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.raw_spider:
        return raw_spider_main(*(Path(value) for value in args.raw_spider))
    if nginx_binary() is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    claimwatch = claimwatch_command()
    if claimwatch is None and set(args.steps) - {"raw"}:
        print("the claimwatch command is not installed: run scripts/setup.sh and use .venv/bin/python",
              file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="claimwatch-many-sites-"))
    (work / "logs").mkdir()
    steps = set(args.steps)
    try:
        started = time.perf_counter()
        roots = generate_sites(work / "sites", args.sites, args.pages)
        sizes = [page.stat().st_size for site in roots for page in (site / "shop").glob("*.html")]
        print(f"sites: {args.sites} x {args.pages} pages, {min(sizes) / 1000:.0f}-{max(sizes) / 1000:.0f} KB "
              f"(mean {sum(sizes) / len(sizes) / 1000:.0f} KB), generated in {time.perf_counter() - started:.1f} s"
              f"; {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; work folder {work}")
        print("politeness: " + ", ".join(f"{name}={value}" for name, value in POLITENESS.items()
                                         if name != "USER_AGENT"))
        for warning in check_politeness():
            print(f"warning: {warning}")
        phases: dict[str, Phase] = {}
        raw_runs: list[Phase] = []
        server = NginxSites(work / "nginx", roots, port=args.port, validators=not args.no_validators)
        try:
            server.start()
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        with server:
            bench = Bench(args, work, server, claimwatch or "claimwatch")
            try:
                if "raw" in steps:
                    raw_runs.append(bench.raw("a: raw Scrapy, before"))
                if steps & {"first", "recrawl"}:
                    for phase in bench.first_and_recrawl(steps):
                        phases["first" if phase.name.startswith("b") else "recrawl"] = phase
                    if "raw" in steps:
                        raw_runs.append(bench.raw("a: raw Scrapy, after"))
                if "workers" in steps:
                    why = bench.workers_unavailable()
                    if why:
                        phases["workers1"] = Phase("d: Celery workers", skipped=why)
                        print(f"(d) skipped: {why}")
                    else:
                        phases["workers1"] = bench.workers(1)
                        phases["workers2"] = bench.workers(2)
            finally:
                if not args.keep:
                    bench.drop_databases()
        raw = mean_raw(raw_runs) if raw_runs else None
        ordered = ([raw] if raw else []) + list(phases.values())
        print()
        print(table(ordered, raw))
        print()
        for phase in ordered:
            if phase.note and not phase.skipped:
                print(f"{phase.name}: {phase.note}")
            if phase.served is not None:
                print(f"  served: {phase.served.describe()}")
        print()
        for line in verdicts(phases, raw):
            print(line)
        return 0 if all(phase.ok for phase in ordered) else 1
    finally:
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

"""The crawl process: many sites in one Scrapy process, each with its own crawler.

`claimwatch crawl` (``monitor.crawl``) starts ONE process with the first site it planned:
``python -m crawler --stdin --log FILE [--parallel N] [-s NAME=VALUE ...]`` and writes each plan's path
on its stdin as the site is planned (plan paths may also be given as arguments). Here every
site gets a ``Crawler`` of its own (its scheduler, robots.txt, page budget, host policy, pipelines and run),
all on one reactor, at most ``--parallel`` sites in flight (``CLAIMWATCH_MAX_PARALLEL``); politeness is
Scrapy's own, per domain. A site whose crawl cannot start or raises is recorded as failed on the progress
pipe and the others go on. Page work off the reactor (extraction, the database, WARC records) goes through
``pipelines.services``, shared by all the sites and closed here when the last crawl ends (this module only
runs crawlers: it imports no pipeline at module level).

stdout carries JSON lines for the parent: ``{"site", "done", "queued", "errors"}`` (progress) and
``{"site", "run": {"status", "detail"}}`` (how a site's run ended). SIGTERM or SIGINT stops every crawl
gracefully (sites not started yet are not started; the parent records them as interrupted); a second one
stops the reactor at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from scrapy.settings import Settings as ScrapySettings

from monitor.config import ConfigError, Settings, load_settings
from monitor.crawlplan import CrawlPlan

log = logging.getLogger(__name__)


def scrapy_settings(settings: Settings, extra: Sequence[str] = ()) -> ScrapySettings:
    """crawler/settings.py, with what the user configured laid over it, and ``extra`` ("NAME=VALUE")."""
    scrapy = ScrapySettings()
    scrapy.setmodule("crawler.settings", priority="project")
    scrapy.setdict({
        "USER_AGENT": f"claimwatch/0.1 (+consumer-protection page monitor; contact: {settings.contact})",
        "AUTOTHROTTLE_START_DELAY": settings.throttle_start_delay,
        "DOWNLOAD_TIMEOUT": settings.download_timeout,
        "DOWNLOAD_MAXSIZE": settings.download_maxsize,
        "CLAIMWATCH_RETRY_BACKOFF_BASE": settings.retry_backoff_base,
    }, priority="project")
    for assignment in extra:
        name, _, value = assignment.partition("=")
        scrapy.set(name, _setting_value(value), priority="cmdline")
    return scrapy


def _setting_value(value: str) -> Any:
    """A `-s` value: JSON when it parses as a dict or list, else the text (Scrapy converts the rest)."""
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


def configure_site(scrapy: ScrapySettings, settings: Settings, plan: CrawlPlan) -> None:
    """One site's crawler settings, set on its crawler's own copy of the base (one copy per site: Scrapy
    deep-copies settings, ~0.1 s each at 200 sites): its plan, and for render_js sites Chromium through
    scrapy-playwright, held to the site's host policy (``crawler.browserguard``)."""
    scrapy.set("CLAIMWATCH_PLAN", plan, priority="cmdline")
    scrapy.set("CLAIMWATCH_SETTINGS", settings, priority="cmdline")
    if plan.render_js:
        from monitor.screenshots import chromium_launch_options

        handler = "crawler.browserguard.GuardedPlaywrightHandler"
        scrapy.setdict({
            "DOWNLOAD_HANDLERS": {"http": handler, "https": handler},
            "PLAYWRIGHT_BROWSER_TYPE": "chromium",
            "PLAYWRIGHT_LAUNCH_OPTIONS": chromium_launch_options(settings.chromium_path),
            "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 4,
        }, priority="cmdline")


def report_failed(site: str, detail: str) -> None:
    """A site's crawl that could not start or raised: its run is failed (the others go on)."""
    sys.stdout.write(json.dumps({"site": site, "run": {"status": "failed", "detail": detail}}) + "\n")
    sys.stdout.flush()


class SiteCrawls:
    """The sites of one crawl process, at most ``parallel`` in flight. Plans arrive with ``add`` (from the
    command line, or from stdin while the process runs: the daemon keeps one crawl process for the crawls
    that come due together); ``close`` says no more will come."""

    def __init__(self, settings: Settings, base: ScrapySettings, parallel: int) -> None:
        from scrapy.crawler import CrawlerRunner

        self.settings = settings
        self.base = base
        self.parallel = max(1, parallel)
        self.runner = CrawlerRunner(base)
        self.stopping = False
        self._waiting: list[CrawlPlan | None] = []  # arrived before the loop runs
        self._queue: Any = None

    def add(self, plan: CrawlPlan | None) -> None:
        """A site to crawl (None: no more will come). On the reactor's thread."""
        if self._queue is None:
            self._waiting.append(plan)
        else:
            self._queue.put_nowait(plan)

    def close(self) -> None:
        self.add(None)

    async def run(self) -> None:
        import asyncio

        self._queue = asyncio.Queue()
        for plan in self._waiting:
            self._queue.put_nowait(plan)
        self._waiting.clear()
        semaphore = asyncio.Semaphore(self.parallel)

        async def crawl(plan: CrawlPlan) -> None:
            async with semaphore:
                if not self.stopping:
                    await self._crawl(plan)

        tasks = []
        while (plan := await self._queue.get()) is not None:
            tasks.append(asyncio.ensure_future(crawl(plan)))
        await asyncio.gather(*tasks)

    async def _crawl(self, plan: CrawlPlan) -> None:
        from scrapy.crawler import Crawler
        from scrapy.utils.defer import maybe_deferred_to_future

        from crawler.spiders.site import SiteSpider

        try:
            crawler = Crawler(SiteSpider, self.base)
            configure_site(crawler.settings, self.settings, plan)
            await maybe_deferred_to_future(self.runner.crawl(crawler, plan=plan))
        except Exception as exc:  # noqa: BLE001 - one site's failure must not touch the others
            log.exception("the crawl of %s failed", plan.site)
            report_failed(plan.site, f"the crawl raised {type(exc).__name__}: {exc}")

    def stop(self) -> Any:
        """Stop every running crawl gracefully (each stores what it fetched); start no more."""
        self.stopping = True
        self.close()
        return self.runner.stop()


def _read_plans(path: Path) -> CrawlPlan | None:
    try:
        return CrawlPlan.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError) as exc:
        log.error("cannot read the crawl plan %s: %s", path, exc)
        return None


def main(argv: Sequence[str]) -> int:
    from monitor.processes import die_with_parent, raise_open_files_limit

    die_with_parent()  # a killed `claimwatch crawl` takes its crawl (this process group) with it
    raise_open_files_limit()  # many sites in flight, a few connections each
    parser = argparse.ArgumentParser(prog="python -m crawler", description=__doc__.split("\n", 1)[0])
    parser.add_argument("plans", nargs="*", type=Path, help="crawl plans (JSON, monitor.crawlplan)")
    parser.add_argument("--stdin", action="store_true",
                        help="also read plan paths from stdin, one a line, until it closes")
    parser.add_argument("--log", type=Path, default=None, help="the crawl's log file (default: stderr)")
    parser.add_argument("--parallel", type=int, default=None, help="sites in flight (CLAIMWATCH_MAX_PARALLEL)")
    parser.add_argument("-s", dest="extra", action="append", default=[], metavar="NAME=VALUE",
                        help="a Scrapy setting for every site")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 2
    base = scrapy_settings(settings, args.extra)
    if args.log is not None:
        base.set("LOG_FILE", str(args.log), priority="cmdline")

    from scrapy.utils.log import configure_logging
    from scrapy.utils.reactor import install_reactor

    from crawler.logs import install_log_handler

    base.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")  # one handler for every site's crawler
    configure_logging(base)
    install_log_handler(base)
    install_reactor(base["TWISTED_REACTOR"], base["ASYNCIO_EVENT_LOOP"])
    crawls = SiteCrawls(settings, base, args.parallel or settings.max_parallel_crawls)
    for path in args.plans:
        plan = _read_plans(path)
        if plan is not None:
            crawls.add(plan)
    if not args.stdin:
        crawls.close()
    try:
        _run_reactor(crawls, base, follow_stdin=args.stdin)
    finally:
        from pipelines.services import PageServices

        PageServices.shutdown()  # now, while its storage thread can still close the database
        logging.shutdown()
    return 0


def _run_reactor(crawls: SiteCrawls, base: ScrapySettings, *, follow_stdin: bool) -> None:
    import threading

    from scrapy.utils.defer import deferred_from_coro
    from scrapy.utils.misc import build_from_crawler, load_object
    from twisted.internet import reactor as _reactor

    reactor: Any = _reactor
    resolver = build_from_crawler(load_object(base["TWISTED_DNS_RESOLVER"]), crawls.runner,  # type: ignore[call-overload]
                                  reactor=reactor)
    resolver.install_on_reactor()

    def stop_reactor(_: Any = None) -> None:
        if reactor.running:
            reactor.stop()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if crawls.stopping:  # a second signal: at once
            reactor.callFromThread(stop_reactor)
            return
        reactor.callFromThread(log.info, "received %s: stopping the crawls", signal.Signals(signum).name)
        reactor.callFromThread(lambda: crawls.stop().addBoth(stop_reactor))

    def follow() -> None:
        """Plan paths from stdin, one a line, until it closes (the parent has no more)."""
        for line in sys.stdin:
            plan = _read_plans(Path(line.strip())) if line.strip() else None
            if plan is not None:
                reactor.callFromThread(crawls.add, plan)
        reactor.callFromThread(crawls.close)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)

    def start() -> None:
        done = deferred_from_coro(crawls.run())
        done.addErrback(lambda failure: log.error("the crawl process failed: %s", failure.getTraceback()))
        done.addBoth(stop_reactor)
        if follow_stdin:
            threading.Thread(target=follow, name="plans", daemon=True).start()

    reactor.callWhenRunning(start)
    reactor.run(installSignalHandlers=False)

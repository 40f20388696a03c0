"""Extensions of the crawl process: each site's progress as JSON lines on stdout (read by the `claimwatch
crawl` parent process), each site's log counts of its own, and AutoThrottle reading a 304 as the normal
answer it is. (The log itself: crawler/logs.py.)"""

from __future__ import annotations

import json
import sys
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.extensions.logcount import LogCount
from scrapy.extensions.throttle import AutoThrottle
from twisted.internet import task


class CrawlProgress:
    """Every ``CLAIMWATCH_PROGRESS_INTERVAL`` seconds: {"site", "done", "queued", "errors"} on stdout, when
    it differs from the last line (a site waiting out its politeness delay says nothing new; with hundreds of
    sites in flight, the parent reads only what moved)."""

    def __init__(self, crawler: Crawler, interval: float, site: str = "") -> None:
        self.crawler = crawler
        self.site = site
        self.interval = interval
        self.done = 0
        self.errors = 0
        self.loop: task.LoopingCall | None = None
        self.last: tuple[int, int, int] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlProgress:
        plan = crawler.settings.get("CLAIMWATCH_PLAN")
        extension = cls(crawler, crawler.settings.getfloat("CLAIMWATCH_PROGRESS_INTERVAL", 0.5),
                        plan.site if plan is not None else "")
        crawler.signals.connect(extension.opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.closed, signal=signals.spider_closed)
        crawler.signals.connect(extension.stored, signal=signals.item_scraped)
        return extension

    def stored(self, item: Any, response: Any = None, spider: Any = None) -> None:
        self.done += 1
        if getattr(item, "error", None) or (getattr(item, "status", 200) or 0) >= 400:
            self.errors += 1

    def _queued(self) -> int:
        engine = self.crawler.engine
        if engine is None or engine._slot is None:
            return 0
        try:
            return len(engine._slot.scheduler) + len(engine.downloader.active)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - progress must never break a crawl
            return 0

    def emit(self, final: bool = False) -> None:
        queued = 0 if final else self._queued()
        if not final and (self.done, queued, self.errors) == self.last:
            return
        self.last = (self.done, queued, self.errors)
        line: dict[str, object] = {"site": self.site, "done": self.done, "queued": queued, "errors": self.errors}
        if final:
            line["final"] = True
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()

    def opened(self, spider: Any) -> None:
        self.loop = task.LoopingCall(self.emit)
        self.loop.start(self.interval, now=False)

    def closed(self, spider: Any, reason: str) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        self.emit(final=True)


class SiteLogCount(LogCount):
    """Scrapy's LogCount (the ``log_count/ERROR``... stats), counting only the records of its own site.

    Each crawler's counting handler sits on the root logger; with every site of a crawl in one process, each
    saw every site's records, and a site's stats counted the errors of the others.
    """

    def spider_opened(self, spider: Any) -> None:
        super().spider_opened(spider)
        if self.handler is not None:
            self.handler.addFilter(lambda record: getattr(record, "spider", None) is spider)


class ConditionalAutoThrottle(AutoThrottle):
    """Scrapy's AutoThrottle, with a 304 Not Modified counted as the normal answer it is.

    AutoThrottle lowers a host's delay only after a 200: error pages are small and fast, and would otherwise
    talk it into going faster. But a re-crawl asks conditionally (If-None-Match, If-Modified-Since), and a
    seller whose pages did not change answers nearly every request with a 304: the delay then never left its
    start value (0.5 s), and a re-crawl of an unchanged site took ~4 s for 11 pages where the first crawl's
    200s took ~1 s. A 304 is the server saying, as fast as it can, that the page is as it was: its latency
    measures the server's load as a 200's does, so it adjusts the delay the same way (every other status
    still only raises it). Everything else (start delay, target concurrency, maximum delay) is AutoThrottle's.
    """

    def _adjust_delay(self, slot: Any, latency: float, response: Any) -> None:
        if response.status == 304:
            response = response.replace(status=200)
        super()._adjust_delay(slot, latency, response)

"""render_js crawls: scrapy-playwright's download handler, with Chromium held to the site's host policy.

Chromium fetches a rendered page itself (redirect hops included, which Playwright's request routing never
sees), so its every connection goes through a ``monitor.egress.EgressGuard`` started with the handler: a
connection is made only to a public address or to one of the site's own hosts (``monitor.hosts``), on the
address resolved by the guard. A page that ends on another host is recorded as moved by
``crawler.hostguard.HostGuardMiddleware``. Set by ``monitor.crawl.render_js_settings``.
"""

from __future__ import annotations

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

from crawler.hostguard import site_policy
from monitor.egress import EgressGuard


class GuardedPlaywrightHandler(ScrapyPlaywrightDownloadHandler):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.guard = EgressGuard().start()  # nothing is the site's own until the spider opens
        self.config.launch_options = {**self.config.launch_options, "proxy": {"server": self.guard.server}}
        crawler.signals.connect(self._spider_opened, signal=signals.spider_opened)

    def _spider_opened(self, spider: Spider) -> None:
        self.guard.policy = site_policy(spider)

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self.guard.stop()

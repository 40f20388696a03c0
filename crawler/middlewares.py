"""Downloader middlewares: retries that back off instead of hammering a struggling server; redirect loops
stopped at the first repeated URL; robots.txt obeyed by every request, including those that waited for it."""

from __future__ import annotations

import asyncio
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import Response
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from crawler.failures import RedirectLoop
from monitor.urls import canonical_url


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry middleware, plus an exponential delay before each retry.

    ``CLAIMWATCH_RETRY_BACKOFF_BASE`` seconds before the first retry, doubling each time, at most
    ``CLAIMWATCH_RETRY_BACKOFF_MAX``.
    """

    def __init__(self, settings: Any, base: float = 1.0, maximum: float = 30.0) -> None:
        super().__init__(settings)
        self.base = base
        self.maximum = maximum

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        settings = crawler.settings
        middleware = cls(
            settings,
            base=settings.getfloat("CLAIMWATCH_RETRY_BACKOFF_BASE", 1.0),
            maximum=settings.getfloat("CLAIMWATCH_RETRY_BACKOFF_MAX", 30.0),
        )
        middleware.crawler = crawler
        return middleware

    def _with_delay(self, result: Any) -> Any:
        if isinstance(result, Request):
            times = int(result.meta.get("retry_times", 1))
            result.meta["claimwatch_retry_delay"] = min(self.maximum, self.base * 2 ** (times - 1))
        return result

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Any:
        return self._with_delay(super().process_response(request, response))

    def process_exception(self, request: Request, exception: Exception, spider: Spider | None = None) -> Any:
        return self._with_delay(super().process_exception(request, exception))

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        delay = request.meta.pop("claimwatch_retry_delay", 0)
        if delay:
            await asyncio.sleep(delay)
        return None


class RedirectLoopMiddleware:
    """Refuses a redirected request for a URL already in its redirect chain (``RedirectLoop``, recorded as the
    page's fetch error), instead of following the loop until ``REDIRECT_MAX_TIMES``."""

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        chain: list[str] = request.meta.get("redirect_urls") or []
        if request.url in chain:
            loop = [*chain[chain.index(request.url):], request.url]
            raise RedirectLoop(" -> ".join(map(_shown, loop))[:1000])


def _shown(url: str) -> str:
    """A URL as the fetch error names it: canonical, without credentials."""
    try:
        return canonical_url(url)
    except ValueError:
        return url.split("?", 1)[0]


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's ``RobotsTxtMiddleware``, with every request that waits for its host's robots.txt checked
    against it.

    Scrapy 2.19 has the waiting requests await the host's pending Deferred itself, and turning a Deferred into
    an asyncio future consumes its result: the first waiting request gets the parser, every other one None,
    which Scrapy reads as "no robots.txt" and lets through. A crawl starting with its known pages (up to
    CONCURRENT_REQUESTS of them at once) fetched disallowed pages that way. Each waiter here gets a Deferred
    of its own, fired with the parser, which stays in the shared chain for the next one.
    """

    async def robot_parser(self, request: Request) -> RobotParser | None:
        pending = self._parsers.get(urlparse_cached(request).netloc)
        if not isinstance(pending, Deferred):
            return await super().robot_parser(request)
        mine: Deferred[RobotParser | None] = Deferred()

        def relay(parser: RobotParser | None) -> RobotParser | None:
            mine.callback(parser)
            return parser

        pending.addCallback(relay)
        return await maybe_deferred_to_future(mine)

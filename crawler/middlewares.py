"""Downloader middlewares: retries that back off instead of hammering a struggling server."""

from __future__ import annotations

import asyncio
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response


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

"""A test-only item pipeline that fails one site's crawl (the crawl process imports it by name, from
``-s ITEM_PIPELINES=...``): the other sites of the same crawl process must not notice."""

from __future__ import annotations

from typing import Any


class FailingPipeline:
    """Raises on every page of the site named "boom"."""

    def __init__(self, site: str) -> None:
        self.site = site

    @classmethod
    def from_crawler(cls, crawler: Any) -> FailingPipeline:
        return cls(crawler.settings["CLAIMWATCH_PLAN"].site)

    def process_item(self, item: Any) -> Any:
        if self.site == "boom":
            raise RuntimeError("a pipeline bug on this site")
        return item


class FailingStart:
    """Fails the start of the site named "broken" (its pipelines cannot be built)."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> FailingStart:
        if crawler.settings["CLAIMWATCH_PLAN"].site == "broken":
            raise RuntimeError("this site's crawl cannot start")
        return cls()

    def process_item(self, item: Any) -> Any:
        return item

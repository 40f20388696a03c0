"""ExtractPipeline: statements and page findings, only when the content fingerprint changed.

The extraction itself (``monitor.extract.analyse_page``, the same function ``reextract`` and the demo use)
runs in the crawl's analysis pool (``pipelines.services``): the page's body and blocks go there, its
statements and findings come back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scrapy.crawler import Crawler

from crawler.items import PageItem
from pipelines.normalize import not_analysed
from pipelines.services import PageServices


def analyse(body: bytes, blocks: Sequence[Any], encoding: str | None) -> tuple[list[Any], list[Any], str]:
    """A page's statements, findings and the extractor's version (in a pool process)."""
    from monitor.extract import analyse_page, extractor_version

    analysis = analyse_page(body, blocks, encoding)
    return analysis.statements, analysis.findings, extractor_version()


class ExtractPipeline:
    def __init__(self, services: PageServices) -> None:
        self.services = services

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        services = PageServices.from_crawler(crawler)
        plan = crawler.settings["CLAIMWATCH_PLAN"]
        if not any(seed.fingerprint for seed in plan.seeds):  # nothing analysed yet: every page will be
            services.warm()
        return cls(services)

    async def process_item(self, item: PageItem) -> PageItem:
        content = item.content
        if content is None or content.fingerprint == item.known_fingerprint:
            return item
        try:
            content.statements, content.findings, content.extractor_version = await self.services.analyse(
                analyse, item.body or b"", item.blocks, item.encoding)
        except Exception as exc:  # noqa: BLE001 - one page's failure is that page's, not the crawl's
            return not_analysed(item, exc)
        item.blocks = []  # not needed past this point; keep memory flat
        return item

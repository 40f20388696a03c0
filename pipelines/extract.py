"""ExtractPipeline: statements and page findings, only when the content fingerprint changed."""

from __future__ import annotations

from crawler.items import PageItem
from monitor.extract import analyse_page, extractor_version


class ExtractPipeline:
    def process_item(self, item: PageItem) -> PageItem:
        content = item.content
        if content is None or content.fingerprint == item.known_fingerprint:
            return item
        analysis = analyse_page(item.body or b"", item.blocks, item.encoding)
        content.statements = analysis.statements
        content.findings = analysis.findings
        content.extractor_version = extractor_version()
        item.blocks = []  # not needed past this point; keep memory flat
        return item

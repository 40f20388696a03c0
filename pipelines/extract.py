"""ExtractPipeline: statements and page findings, only when the content fingerprint changed."""

from __future__ import annotations

from crawler.items import PageItem
from monitor.extract import EXTRACTOR_VERSION, extract_statements, page_findings


class ExtractPipeline:
    def process_item(self, item: PageItem) -> PageItem:
        content = item.content
        if content is None or content.fingerprint == item.known_fingerprint:
            return item
        statements = extract_statements(item.blocks)
        content.statements = statements
        content.findings = page_findings(statements)
        content.extractor_version = EXTRACTOR_VERSION
        item.blocks = []  # not needed past this point; keep memory flat
        return item

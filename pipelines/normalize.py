"""NormalizePipeline: visible text as ordered blocks, and the noise-free content fingerprint.

Runs on the reactor's thread (lxml: about a millisecond for a 50 KB page). A body byte-identical to the page's
last fetch is not parsed at all. A page that cannot be parsed is still recorded: its fetch as an error
saying why ("not analysed: ..."), its current snapshot kept; the next crawl tries again.
"""

from __future__ import annotations

import logging

from crawler.items import PageItem
from monitor.noise import text_fingerprint
from monitor.normalize import html_to_blocks
from monitor.store import PageContent

log = logging.getLogger(__name__)


def not_analysed(item: PageItem, exc: BaseException) -> PageItem:
    """Record a page whose analysis failed as an error fetch (the traceback goes to the log)."""
    log.error("page %s could not be analysed: recorded as an error", item.url, exc_info=exc)
    item.error = f"not analysed: {type(exc).__name__}: {exc}"[:1000]
    item.content, item.blocks = None, []
    return item


class NormalizePipeline:
    def process_item(self, item: PageItem) -> PageItem:
        if item.body is None or item.skipped or item.alias_of or item.status is None or item.status >= 300:
            return item
        if item.sha256 is not None and item.sha256 == item.known_sha256:
            return item
        try:
            blocks = html_to_blocks(item.body, item.encoding)
        except Exception as exc:  # noqa: BLE001 - one page's failure is that page's, not the crawl's
            return not_analysed(item, exc)
        item.blocks = blocks
        text = "\n".join(block.text for block in blocks)
        item.content = PageContent(text=text, fingerprint=text_fingerprint(text))
        return item

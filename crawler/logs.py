"""The crawl process's log: one handler for every site's crawler, and each site's lines named.

A crawl process runs a Scrapy crawler per site. Left to Scrapy, every crawler closes the log handler and
opens the log file again (twice: when it is made and when it starts), lists its add-ons, extensions,
middlewares, pipelines and overridden settings (~70 lines, the same for every site) and logs its runtime
lines ("Spider opened", "Dumping Scrapy stats", errors) without saying which site they are about. Here:

- one handler, made once from Scrapy's own log settings (``LOG_FILE``, ``LOG_FILE_APPEND``, ``LOG_ENCODING``,
  ``LOG_FORMAT``, ``LOG_DATEFORMAT``, ``LOG_LEVEL``); ``LOG_INSTALL_ROOT_HANDLER`` is off, so no crawler
  replaces it, and the levels put on the loggers stay there;
- a record logged with a site's spider (Scrapy passes ``extra={"spider": ...}``) starts with the site's
  name in brackets: ``[scrapy.statscollectors] INFO: [acme-shop] Dumping Scrapy stats: ...``;
- the start-up listing is logged for the first site, and again only where a site's differs.
"""

from __future__ import annotations

import logging
from typing import Any

# loggers whose INFO lines list what each crawler was built with: the same for every site of a crawl
_LISTINGS = frozenset({"scrapy.addons", "scrapy.crawler", "scrapy.middleware"})


class SiteLines(logging.Filter):
    """Names the site of each record logged with a site's spider; drops repeated start-up listings."""

    def __init__(self) -> None:
        super().__init__()
        self._listed: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name in _LISTINGS and record.levelno <= logging.INFO:
            listing = record.getMessage()
            if listing in self._listed:
                return False
            self._listed.add(listing)
        plan = getattr(getattr(record, "spider", None), "plan", None)
        site = getattr(plan, "site", None)
        if site and not getattr(record, "claimwatch_site", None):
            record.msg, record.args = f"[{site}] {record.getMessage()}", ()
            record.claimwatch_site = site
        return True


def install_log_handler(settings: Any) -> logging.Handler:
    """The process's log handler on the root logger, with the levels of ``LOG_LEVEL`` on the loggers.

    Call after ``scrapy.utils.log.configure_logging(settings)`` with ``LOG_INSTALL_ROOT_HANDLER`` off (that
    call routes Twisted's and the warnings' output to logging and sets Scrapy's loggers to DEBUG).
    """
    filename = settings.get("LOG_FILE")
    handler: logging.Handler
    if filename:
        mode = "a" if settings.getbool("LOG_FILE_APPEND") else "w"
        handler = logging.FileHandler(filename, mode=mode, encoding=settings.get("LOG_ENCODING"))
    elif settings.getbool("LOG_ENABLED"):
        handler = logging.StreamHandler()
    else:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter(settings.get("LOG_FORMAT"), settings.get("LOG_DATEFORMAT")))
    level = settings.get("LOG_LEVEL") or "DEBUG"
    handler.setLevel(level)
    handler.addFilter(SiteLines())
    logging.root.addHandler(handler)
    # on the loggers, not only the handler: Scrapy's per-page DEBUG calls ("Crawled", "Scraped from") then
    # return at once instead of building a record to be dropped
    logging.root.setLevel(level)
    logging.getLogger("scrapy").setLevel(level)
    return handler

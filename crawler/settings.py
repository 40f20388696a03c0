"""Scrapy settings for claimwatch crawls: polite by default.

These are the defaults. What the user configures (contact address, AutoThrottle's first delay, timeouts,
sizes: ``monitor.config.Settings``, read once from the environment) is laid over them for each crawl by
``crawler.process.scrapy_settings``; nothing here reads the environment.
"""

from __future__ import annotations

from scrapy.settings import default_settings as _defaults

BOT_NAME = "claimwatch"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

USER_AGENT = "claimwatch/0.1 (+consumer-protection page monitor; contact: claimwatch-operator@example.invalid)"

ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
# the pipelines are synchronous (one transaction per page); Scrapy starts this many asyncio workers for
# every response's output, and the default 100 cost ~5 ms a page
CONCURRENT_ITEMS = 1
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_DELAY = 0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 5 * 1024 * 1024
DOWNLOAD_WARNSIZE = 0
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# seconds before the first retry of a request; doubles on every further retry
CLAIMWATCH_RETRY_BACKOFF_BASE = 1.0
CLAIMWATCH_RETRY_BACKOFF_MAX = 30.0
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Scrapy's remote control runs Python code sent over HTTP inside the crawl and writes its token to the
# user's profile folder: never wanted in a process that reads untrusted pages (and aiohttp's import and
# TLS set-up cost every crawl ~0.15 s)
REMOTE_CONTROL_ENABLED = False
HTTPCACHE_ENABLED = False
LOG_LEVEL = "INFO"
# a check for developers that parses the spider's source on the first use of each callback
WARN_ON_GENERATOR_RETURN_VALUE = False
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"

# Components a crawl never uses are taken out of Scrapy's base lists. Switching them off by their own
# settings, or listing them as None below, is not enough: Scrapy imports every component named in these
# dicts before asking whether it is enabled, and the remote control imports aiohttp and builds two TLS
# contexts, the cookies middleware loads tldextract: together ~0.15 s of CPU at every crawl's start.
_UNUSED = {
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",  # COOKIES_ENABLED = False
    "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware",  # HTTPCACHE_ENABLED = False
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware",  # sellers' public pages: no logins
    "scrapy.downloadermiddlewares.retry.RetryMiddleware",  # replaced by BackoffRetryMiddleware
    "scrapy.extensions.remote_control.RemoteControl",  # REMOTE_CONTROL_ENABLED = False
    "scrapy.extensions.telnet.TelnetConsole",  # TELNETCONSOLE_ENABLED = False
    "scrapy.extensions.memdebug.MemoryDebugger",  # a developer's tool
    "scrapy.extensions.feedexport.FeedExporter",  # pages go to the page workers, not to feeds
    "scrapy.extensions.spiderstate.SpiderState",  # no JOBDIR: a crawl's state is in the database
    # "Crawled 0 pages (at 0 pages/min)" as each site starts, then once a minute per site in flight: the
    # crawl's progress lines (crawler/extensions.py) and each site's stats at its end say it
    "scrapy.extensions.logstats.LogStats",
}
DOWNLOADER_MIDDLEWARES_BASE = {
    path: order for path, order in _defaults.DOWNLOADER_MIDDLEWARES_BASE.items() if path not in _UNUSED
}
EXTENSIONS_BASE = {path: order for path, order in _defaults.EXTENSIONS_BASE.items() if path not in _UNUSED}
# AutoThrottle, with a 304 Not Modified lowering a host's delay as a 200 does (crawler/extensions.py says why),
# and log counts per site (many sites share the process's loggers)
_OURS = {"scrapy.extensions.throttle.AutoThrottle": "crawler.extensions.ConditionalAutoThrottle",
         "scrapy.extensions.logcount.LogCount": "crawler.extensions.SiteLogCount"}
EXTENSIONS_BASE = {_OURS.get(path, path): order for path, order in EXTENSIONS_BASE.items()}
# No internal fetches (crawler/hostguard.py, monitor/hosts.py): only the site's own hosts, checked before
# anything else (robots.txt included) and at every redirect hop; connections only to public addresses or
# the site's own hosts, checked on the resolved address at connect time.
DOWNLOADER_MIDDLEWARES = {
    "crawler.hostguard.HostGuardMiddleware": 10,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.hostguard.OffsiteMetaRefreshMiddleware": 580,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.hostguard.OffsiteRedirectMiddleware": 600,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    # a redirect back to a URL of its own chain: recorded as a redirect loop at once (crawler/failures.py)
    "crawler.middlewares.RedirectLoopMiddleware": 50,
    # robots.txt checked for every request, those waiting for it too (Scrapy 2.19 let them through)
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.SharedRobotsTxtMiddleware": 100,
}
TWISTED_DNS_RESOLVER = "crawler.hostguard.GuardedResolver"
# pages are fetched over HTTP(S) only: no file://, s3://, ftp:// or data: handler a URL could reach
DOWNLOAD_HANDLERS_BASE = {scheme: path for scheme, path in _defaults.DOWNLOAD_HANDLERS_BASE.items()
                          if scheme in {"http", "https"}}
# Scrapy's per-request byte counts (each request serialised again to measure it): every fetch is in the
# database, with its status, size and time
DOWNLOADER_STATS = False
# every request and item the spider yields passes each spider middleware: these two only keep statistics
# (crawl depth; meta copied between requests), and a crawl is bounded by max_pages and the path prefixes
SPIDER_MIDDLEWARES = {
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
    "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
}
EXTENSIONS = {
    "crawler.extensions.CrawlProgress": 500,
}
# Evidence (pipelines/archive.py, docs/evidence.md): WARC files rotate past this size; screenshots of pages
# with high/medium changes are taken after each site's crawl unless CLAIMWATCH_SCREENSHOTS=0.
CLAIMWATCH_WARC_MAX_BYTES = 100 * 1024 * 1024
CLAIMWATCH_SCREENSHOTS_ENABLED = True
# seconds between progress lines on stdout (crawler/extensions.py)
CLAIMWATCH_PROGRESS_INTERVAL = 0.5
# archive -> normalise -> extract -> store, one transaction per page (pipelines/); the CPU work of
# extraction goes to the crawl's process pool, database and file writes to its storage thread
# (pipelines/services.py), so the reactor only fetches and parses links
ITEM_PIPELINES = {
    "pipelines.archive.ArchivePipeline": 100,
    "pipelines.normalize.NormalizePipeline": 200,
    "pipelines.extract.ExtractPipeline": 300,
    "pipelines.store.StorePipeline": 400,
}

"""The site spider: fetch a site's seeds, follow in-scope links up to max_pages, one PageItem per URL."""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.failures import Limits, describe_failure
from crawler.items import PageItem
from monitor.crawlplan import CrawlPlan, Seed
from monitor.urls import canonical_link, canonical_query, canonical_url, in_scope, is_canonical_path, site_hosts

# case spelt out rather than re.IGNORECASE: the engine then skips to each "<" in C (3x faster on 50 KB pages)
_HREF = re.compile(r"""<[aA]\s[^>]*?[hH][rR][eE][fF]\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_UNKNOWN: Any = object()  # not in the link memo yet
_SKIP_EXTENSIONS = re.compile(
    r"\.(?:jpe?g|png|gif|webp|svg|ico|css|js|mjs|json|xml|zip|gz|mp[34]|mov|avi|woff2?|ttf)$", re.IGNORECASE
)


class SiteSpider(scrapy.Spider):
    """Crawl one watched site as planned by ``monitor.crawlplan`` (``plan``: the plan, or a path to its JSON).

    A crawl process runs one of these per site (``crawler.process``), each with its own crawler: its own
    scheduler, robots.txt, page budget and run."""

    name = "site"
    # every status reaches the callback except redirects, which Scrapy follows
    handle_httpstatus_list = [304, *range(400, 452), *range(500, 512)]

    def __init__(self, plan: CrawlPlan | str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(plan, CrawlPlan):
            plan = CrawlPlan.from_json(Path(plan).read_text(encoding="utf-8"))
        self.plan = plan
        self.hosts = site_hosts(self.plan.start_urls)
        self.allow = tuple(self.plan.allow)
        self.seen: set[str] = set()
        # a known page may be linked from a page fetched before start() has yielded its own seed: it is
        # still requested with its validators and compared with its last fingerprint
        self._seeds = {seed.url: seed for seed in self.plan.seeds}
        self._links: dict[str, str | None] = {}
        self._origins: dict[str, str] = {}
        self._origin_hosts: dict[str, str] = {}  # canonical origin -> its host[:port], as site_hosts has it
        self._queries: dict[str, str] = {}
        self._done: dict[str, set[str]] = {}  # per host: absolute-path hrefs with nothing left to request
        self._aliases: set[str] = set()  # URLs whose response named another page as theirs (rel=canonical)
        self.scheduled = 0

    async def start(self) -> AsyncIterator[Any]:
        for seed in self.plan.seeds:
            if canonical_url(seed.url) != seed.url:
                # a page stored before its URL's canonical form changed (/x/index.html is /x/ now): fetched
                # in full, its response makes it an alias of the page under its canonical URL
                seed = Seed(seed.url)
            request = self._request(seed.url, seed)
            if request is not None:
                yield request

    def _request(self, url: str, seed: Seed | None = None) -> scrapy.Request | None:
        if url in self.seen or self.scheduled >= self.plan.max_pages:
            return None
        if seed is None:
            seed = self._seeds.get(url)
        self.seen.add(url)
        self.scheduled += 1
        headers: dict[str, str] = {}
        # rendered pages are never conditional: a 304 would leave Chromium with an empty page
        if seed is not None and seed.last_sha256 and not self.plan.render_js:
            if seed.etag:
                headers["If-None-Match"] = seed.etag
            if seed.last_modified:
                headers["If-Modified-Since"] = seed.last_modified
        meta: dict[str, Any] = {"claimwatch_url": url, "claimwatch_seed": seed}
        if self.plan.render_js:
            meta.update(_render_meta())
        return scrapy.Request(url, headers=headers, meta=meta, callback=self.parse, errback=self.failed,
                              dont_filter=True)

    def _item(self, url: str, **fields: Any) -> PageItem:
        return PageItem(url=url, site=self.plan.site, run=self.plan.run_id,
                        fetched_at=datetime.now(UTC), **fields)

    def parse(self, response: Response) -> Iterator[Any]:
        url: str = response.meta["claimwatch_url"]
        headers = {key.decode("latin-1").lower(): (response.headers.get(key) or b"").decode("latin-1")
                   for key in response.headers}
        reasons = response.meta.get("redirect_reasons") or []
        item = self._item(
            url,
            final_url=canonical_url(response.url),
            status=response.status,
            headers=headers,
            body=response.body,
            elapsed_ms=int(response.meta.get("download_latency", 0) * 1000),
            redirect_status=reasons[0] if reasons and isinstance(reasons[0], int) else None,
            not_modified=response.status == 304,
            encoding=getattr(response, "encoding", None),
            response_url=response.url,
            protocol=getattr(response, "protocol", None),
            raw_headers=_header_pairs(response.headers),
            request_headers=_header_pairs(response.request.headers) if response.request else [],
            rendered=bool(response.meta.get("playwright")),
            offsite_target=response.meta.get("claimwatch_offsite"),  # crawler/hostguard.py
        )
        seed = response.meta.get("claimwatch_seed")
        if seed is not None:
            item.known_sha256, item.known_fingerprint = seed.last_sha256, seed.fingerprint
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        is_html = content_type in _HTML_TYPES or (not content_type and b"\0" not in response.body[:1024])
        if response.status < 300 and not is_html:
            item.skipped = f"not HTML ({content_type or 'unknown type'})"
        text = _text(response) if response.status == 200 and is_html else None
        alias_of = item.alias_of = self._alias_of(response, url, item.final_url, text) if text else None
        yield item
        if alias_of is not None and alias_of not in self.seen and in_scope(alias_of, self.hosts, self.allow):
            self.scheduled -= 1  # the alias's place in the page budget goes to the page it names
            request = self._request(alias_of)
            if request is not None:
                yield request
        if text is not None and self.scheduled < self.plan.max_pages:
            yield from self._follow(response, text)

    def _alias_of(self, response: Response, url: str, final_url: str | None, text: str) -> str | None:
        """The page a response belongs to when that is not its own URL: the URL's canonical form, when that
        changed since it was stored (requested only when in scope), or the in-scope page its
        ``<link rel=canonical>`` names. A page named by another alias is left as it is (so two pages naming
        each other are not both lost)."""
        target = canonical_url(url)
        if target == url:
            href = canonical_link(text)
            if href is None:
                return None
            try:
                target = canonical_url(response.urljoin(href))
            except ValueError:
                return None
            if target in {url, final_url} or target in self._aliases or not in_scope(target, self.hosts, self.allow):
                return None
        self._aliases.add(url)
        return target

    def _follow(self, response: Response, text: str) -> Iterator[scrapy.Request]:
        base_dir = response.url.rsplit("/", 1)[0]
        links, seen = self._links, self.seen
        host = _host(response.url)
        # each distinct href once, in page order; a known absolute-path href costs one dict lookup, and
        # the absolute-path hrefs of this host that lead nowhere new (out of scope, or requested already:
        # on a shop's pages, nearly all of them) are left out in one set difference
        done = self._done.setdefault(host, set())
        hrefs = dict.fromkeys(first or second or third for first, second, third in _HREF.findall(text))
        fresh = hrefs.keys() - done
        if not fresh:
            return
        for href in hrefs:
            if href not in fresh:
                continue
            absolute = href.startswith("/") and not href.startswith("//")
            url = links.get(host + href, _UNKNOWN) if absolute else _UNKNOWN
            if url is _UNKNOWN:
                url = self._link(response, base_dir, href)
            if url is None or url in seen:
                if absolute and len(done) < 100_000:
                    done.add(href)
                continue
            request = self._request(url)
            if request is None:
                if self.scheduled >= self.plan.max_pages:
                    return
                continue
            if absolute and len(done) < 100_000:
                done.add(href)  # requested now: seen from here on
            yield request

    def _link(self, response: Response, base_dir: str, href: str) -> str | None:
        """The canonical in-scope URL a link points at, or None; memoised, since shop pages repeat the same
        navigation links on every page (canonicalising ~100 links a page costs more than parsing it)."""
        if href.startswith("/") and not href.startswith("//"):  # the same path on each of the site's hosts
            key = _host(response.url) + href
        else:
            key = f"{base_dir}\0{href}"
        if href.startswith(("?", "#")):
            key = f"{response.url}\0{href}"
        try:
            return self._links[key]
        except KeyError:
            pass
        url: str | None = None
        clean = (html.unescape(href) if "&" in href else href).strip()
        path, _, query = clean.split("#", 1)[0].partition("?")
        if is_canonical_path(path):
            # the common shop link, "/products/p1.html?utm_source=nav": the page's canonical origin, the path
            # as it is, the query without its tracking parameters (the same few queries recur on every page)
            origin = self._origin(response.url)
            url = origin + path
            if _SKIP_EXTENSIONS.search(path) or not self._in_scope(origin, path):
                url = None
            elif query:
                query = self._query(query)
                if query:
                    url = f"{url}?{query}"
        elif clean and not clean.startswith(("#", "mailto:", "tel:", "javascript:", "data:")):
            try:
                url = canonical_url(response.urljoin(clean))
            except ValueError:
                url = None
            if url is not None and (_SKIP_EXTENSIONS.search(url.split("?", 1)[0])
                                    or not in_scope(url, self.hosts, self.allow)):
                url = None
        if len(self._links) < 100_000:
            self._links[key] = url
        return url

    def _in_scope(self, origin: str, path: str) -> bool:
        """``in_scope`` of ``origin + path`` (a canonical origin and path), without parsing the URL again."""
        host = self._origin_hosts.get(origin)
        if host is None:
            host = self._origin_hosts[origin] = origin.split("://", 1)[1].rsplit("@", 1)[-1]
        return host in self.hosts and (not self.allow or path.startswith(self.allow))

    def _query(self, query: str) -> str:
        """``canonical_query``, memoised."""
        try:
            return self._queries[query]
        except KeyError:
            canonical = canonical_query(query)
            if len(self._queries) < 10_000:
                self._queries[query] = canonical
            return canonical

    def _origin(self, url: str) -> str:
        """``scheme://host[:port]`` of a URL, canonical (memoised per origin)."""
        scheme, _, rest = url.partition("://")
        raw = f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0].split('#', 1)[0]}"
        try:
            return self._origins[raw]
        except KeyError:
            origin = self._origins[raw] = canonical_url(raw + "/")[:-1]
            return origin

    def failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        settings = self.settings
        limits = Limits(settings.getint("DOWNLOAD_MAXSIZE"), settings.getint("DOWNLOAD_TIMEOUT"),
                        settings.getint("REDIRECT_MAX_TIMES"))
        # every give-up of a known page (or start URL) is recorded, with its reason (crawler/failures.py)
        why = describe_failure(failure, limits, known=request.meta.get("claimwatch_seed") is not None)
        if why is None:
            return
        url = request.meta.get("claimwatch_url", canonical_url(request.url))
        yield self._item(url, final_url=None, status=why.status, headers={}, body=None, error=why.error)


def _text(response: Response) -> str:
    """The body as text, for its links: decoded directly when it decodes cleanly in its encoding (Scrapy's
    ``response.text`` costs ~7x as much, replacing what does not decode as it goes)."""
    encoding = getattr(response, "encoding", None) or "utf-8"
    try:
        return response.body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return response.text if hasattr(response, "text") else response.body.decode("utf-8", "replace")


def _host(url: str) -> str:
    """The ``host[:port]`` of an absolute URL as written (the link memo's key for absolute paths)."""
    return url.split("/", 3)[2] if "://" in url else ""


def _header_pairs(headers: Any) -> list[tuple[str, str]]:
    """Every (name, value) of Scrapy headers, repeated headers kept (for the WARC records)."""
    return [(key.decode("latin-1"), value.decode("latin-1"))
            for key in headers for value in headers.getlist(key)]


RENDER_SETTLE_MS = 5_000


async def _settle(page: Any) -> None:
    """Let a rendered page finish its scripts: network quiet for 500 ms, or give up after a few seconds."""
    from playwright.async_api import Error as PlaywrightError

    with contextlib.suppress(PlaywrightError):  # a page that keeps polling is taken as it is
        await page.wait_for_load_state("networkidle", timeout=RENDER_SETTLE_MS)


def _render_meta() -> dict[str, Any]:
    """Request meta sending a page through scrapy-playwright (render_js sites only)."""
    from scrapy_playwright.page import PageMethod

    return {
        "playwright": True,
        "playwright_page_goto_kwargs": {"wait_until": "load"},
        "playwright_page_methods": [PageMethod(_settle)],
    }

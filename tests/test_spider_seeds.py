"""The spider: a known page reached by a link before its own seed is still fetched as a known page; an alias
(rel=canonical, or a URL no longer canonical) hands its place to the page it names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crawler.spiders.site import SiteSpider
from monitor.crawlplan import CrawlPlan, Seed


def _spider(tmp_path: Path, max_pages: int = 100, *extra: Seed) -> SiteSpider:
    plan = CrawlPlan(
        site="shop", site_id=1, run_id=2, start_urls=["http://127.0.0.1:1/"], allow=["/"], max_pages=max_pages,
        render_js=False,
        seeds=[Seed("http://127.0.0.1:1/"),
               Seed("http://127.0.0.1:1/p1.html", etag='"v1"', last_modified="Mon, 05 Jan 2026 10:00:00 GMT",
                    last_sha256="ab" * 32, fingerprint="f" * 64), *extra],
    )
    path = tmp_path / "plan.json"
    path.write_text(plan.to_json(), encoding="utf-8")
    return SiteSpider(plan=str(path))


def test_a_known_page_found_by_a_link_first_is_requested_with_its_validators(tmp_path: Path) -> None:
    spider = _spider(tmp_path)
    # what _follow does when the home page links to p1.html before start() has yielded p1's seed
    request = spider._request("http://127.0.0.1:1/p1.html")
    assert request is not None
    assert request.headers.get("If-None-Match") == b'"v1"'
    assert request.headers.get("If-Modified-Since") == b"Mon, 05 Jan 2026 10:00:00 GMT"
    seed = request.meta["claimwatch_seed"]
    assert seed is not None and seed.fingerprint == "f" * 64, "its last fingerprint would be missing"
    # and the seed itself, yielded later, is not requested twice
    assert spider._request("http://127.0.0.1:1/p1.html", seed) is None


def test_a_new_page_found_by_a_link_is_requested_plainly(tmp_path: Path) -> None:
    request = _spider(tmp_path)._request("http://127.0.0.1:1/p2.html")
    assert request is not None
    assert b"If-None-Match" not in request.headers and request.meta["claimwatch_seed"] is None


def _parse(spider: SiteSpider, url: str, body: bytes) -> list[Any]:
    from scrapy.http import HtmlResponse

    request = spider._request(url)
    assert request is not None
    return list(spider.parse(HtmlResponse(url=url, body=body, request=request, encoding="utf-8",
                                          headers={"Content-Type": "text/html"})))


def test_an_alias_hands_its_place_in_the_page_budget_to_the_page_it_names(tmp_path: Path) -> None:
    spider = _spider(tmp_path, 1)
    page = b'<html><head><link rel="canonical" href="/p2.html"></head><body><a href="/p3.html">3</a></body></html>'
    item, *requests = _parse(spider, "http://127.0.0.1:1/p2.html?color=blue", page)
    assert item.alias_of == "http://127.0.0.1:1/p2.html"
    assert [request.url for request in requests] == ["http://127.0.0.1:1/p2.html"]  # and no more: max_pages 1
    # the page itself names itself: a page, not an alias
    item, *requests = _parse(_spider(tmp_path), "http://127.0.0.1:1/p2.html", page)
    assert item.alias_of is None and [request.url for request in requests] == ["http://127.0.0.1:1/p3.html"]


async def _started(spider: SiteSpider) -> list[Any]:
    return [request async for request in spider.start()]


def test_a_page_stored_under_a_url_no_longer_canonical_is_fetched_in_full_as_an_alias(tmp_path: Path) -> None:
    import asyncio

    legacy = Seed("http://127.0.0.1:1/shop/index.html", etag='"v1"', last_sha256="ab" * 32, fingerprint="f" * 64)
    spider = _spider(tmp_path, 100, legacy)
    [request] = [r for r in asyncio.run(_started(spider)) if r.url.endswith("index.html")]
    assert b"If-None-Match" not in request.headers  # a 304 would not say what page it is
    item, *requests = _parse(_spider(tmp_path, 100, legacy), legacy.url, b"<p>Home</p>")
    assert item.alias_of == "http://127.0.0.1:1/shop/"
    assert [request.url for request in requests] == ["http://127.0.0.1:1/shop/"]

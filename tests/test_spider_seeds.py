"""The spider: a known page reached by a link before its own seed is still fetched as a known page."""

from __future__ import annotations

from pathlib import Path

from crawler.spiders.site import SiteSpider
from monitor.crawlplan import CrawlPlan, Seed


def _spider(tmp_path: Path) -> SiteSpider:
    plan = CrawlPlan(
        site="shop", site_id=1, run_id=2, start_urls=["http://127.0.0.1:1/"], allow=["/"], max_pages=100,
        render_js=False,
        seeds=[Seed("http://127.0.0.1:1/"),
               Seed("http://127.0.0.1:1/p1.html", etag='"v1"', last_modified="Mon, 05 Jan 2026 10:00:00 GMT",
                    last_sha256="ab" * 32, fingerprint="f" * 64)],
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

"""URL canonicalisation and scope (issue 15, items 10 and 16): a fixed point, no credentials, no way out of
the allowed prefixes through encoded dot segments, and a folder's index.html is the folder.

The property cases are generated from a fixed seed (hypothesis is not installed): URLs assembled from the
pieces that break naive canonicalisers (escaped dots and slashes, escapes of escapes, backslashes, path
parameters, stray percent signs, non-ASCII, credentials, IPv6 hosts, tracking parameters).
"""

from __future__ import annotations

import posixpath
import random
from urllib.parse import unquote, urlsplit

import pytest

from monitor.urls import canonical_link, canonical_url, in_scope, is_canonical_path, path_allowed, site_hosts

HOSTS = site_hosts(["http://shop.example/products/", "http://[::1]:8080/products/"])
ALLOW = ("/products/",)

PATH_PIECES = [
    "products", "products", "admin", "private", "p1.html", "..", ".", "", "%2e", "%2E", "%2e%2e", ".%2e", "%2E.",
    "%252e%252e", "%25252e", "%2f", "%2F", "..%2f", "..%2F..", "%5c", "..%5cadmin", "\\", "..\\admin", ";", "..;",
    "x;y=1", "index.html", "index.htm", "a b", "café", "%", "%zz", "%41", "%7e", "~", "%25", "x%2fy", "%3B", "[a]",
]
NETLOCS = ["shop.example", "SHOP.Example:80", "user:pass@shop.example", "user@shop.example:8080", "[::1]:8080",
           "u:p@[::1]:8080", "shop.example:443", "other.example", "evil.example@shop.example"]
QUERIES = ["", "?utm_source=x&b=2&a=1", "?a=%2e%2e", "?q=a+b", "?x=%zz", "?a=1&a=2", "?=", "?k", "?a=%26&b=%3D"]


def _random_url(rng: random.Random) -> str:
    pieces = [rng.choice(PATH_PIECES) for _ in range(rng.randint(0, 6))]
    path = rng.choice(["/", "/products/", "/products/"]) + "/".join(pieces) + rng.choice(["", "/"])
    return (f"{rng.choice(['http', 'HTTP', 'https'])}://{rng.choice(NETLOCS)}{path}{rng.choice(QUERIES)}"
            f"{rng.choice(['', '#top', '#a/../b'])}")


_RNG = random.Random(15)
CASES = [_random_url(_RNG) for _ in range(600)]


def _as_a_lenient_server_reads(path: str) -> str:
    """An independent reading of a path by the laxest servers: every escape decoded (repeatedly), ``\\``
    as ``/``, ``;`` parameters dropped, dot segments resolved (posixpath, not the code under test)."""
    for _ in range(5):
        path = unquote(path)
    path = path.replace("\\", "/")
    path = "/".join(segment.split(";", 1)[0] for segment in path.split("/"))
    return posixpath.normpath("/" + path.lstrip("/")) + "/"


@pytest.mark.parametrize("url", CASES)
def test_canonical_urls_are_a_fixed_point_without_credentials_or_escapes_from_the_prefix(url: str) -> None:
    canonical = canonical_url(url)
    assert canonical_url(canonical) == canonical
    parts = urlsplit(canonical)
    assert "@" not in parts.netloc and parts.username is None and parts.password is None
    assert not {".", ".."} & set(parts.path.split("/")), "dot segments left in the path"
    assert not parts.fragment and "utm_source" not in parts.query
    if in_scope(canonical, HOSTS, ALLOW):
        assert parts.path.startswith("/products/")
        assert _as_a_lenient_server_reads(parts.path).startswith("/products/"), canonical
    if is_canonical_path(parts.path):  # the spider's fast path takes such paths as they are
        assert canonical_url(f"http://shop.example{parts.path}") == f"http://shop.example{parts.path}"


@pytest.mark.parametrize(("path", "allowed"), [
    ("/products/%2e%2e/admin", False),
    ("/products/%2E%2E/admin", False),
    ("/products/.%2e/admin", False),
    ("/products/%2e%2e%2fadmin", False),
    ("/products/..%2Fadmin", False),
    ("/products/..%5cadmin", False),
    ("/products/..\\admin", False),
    ("/products/..;/admin", False),
    ("/products/%252e%252e/admin", False),
    ("/products/%25252e%25252e/admin", False),
    ("/products/x/%2e%2e/%2e%2e/admin", False),
    ("/products/%2e%2e", False),
    ("/products", False),
    ("/products/", True),
    ("/products/%2e/p1.html", True),
    ("/products/x/%2e%2e/p1.html", True),
    ("/products/a%2Fb.html", True),
    ("/products/p1.html;jsessionid=1", True),
    ("/products/100%25-natural.html", True),
])
def test_encoded_dot_segments_never_leave_the_allowed_prefix(path: str, allowed: bool) -> None:
    canonical = canonical_url(f"http://shop.example{path}")
    assert in_scope(canonical, HOSTS, ALLOW) is allowed, canonical
    assert path_allowed(urlsplit(canonical).path, ALLOW) is allowed


@pytest.mark.parametrize(("url", "expected"), [
    ("http://shop.example/products/%2e%2e/admin", "http://shop.example/admin"),
    ("http://shop.example/products/%2e%2E/%2E/admin/", "http://shop.example/admin/"),
    ("http://shop.example/a/b/..", "http://shop.example/a/"),
    ("http://shop.example/a%7eb%41", "http://shop.example/a~bA"),
    ("http://shop.example/a%2fb%3b", "http://shop.example/a%2Fb%3B"),
    ("http://shop.example/100%-pure", "http://shop.example/100%25-pure"),
    ("http://shop.example/caf\u00e9 au lait", "http://shop.example/caf%C3%A9%20au%20lait"),
    ("https://user:secret@Shop.Example/products/p1.html", "https://shop.example/products/p1.html"),
    ("http://user@shop.example:8080/", "http://shop.example:8080/"),
    ("http://u:p@[::1]:8080/products/", "http://[::1]:8080/products/"),
    ("http://shop.example/products/index.html?utm_source=x", "http://shop.example/products/"),
    ("http://shop.example/index.htm", "http://shop.example/"),
    ("http://shop.example/products/index.html.bak", "http://shop.example/products/index.html.bak"),
    ("http://shop.example/products/myindex.html", "http://shop.example/products/myindex.html"),
])
def test_canonical_forms(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_credentials_never_make_a_url_out_of_scope_or_a_second_page() -> None:
    assert in_scope(canonical_url("https://user:pass@shop.example/products/p1.html"), site_hosts(
        ["https://shop.example/products/"]), ALLOW)
    assert not in_scope("http://user@shop.example/products/p1.html", HOSTS, ALLOW)  # not canonical: refused


@pytest.mark.parametrize(("page", "expected"), [
    ('<head><link rel="canonical" href="/p.html"></head>', "/p.html"),
    ("<head><link href='/p.html?a=1&amp;b=2' rel='Canonical'>", "/p.html?a=1&b=2"),
    ("<HEAD><LINK REL=canonical HREF=/p.html></HEAD>", "/p.html"),
    ('<head><link rel="stylesheet" href="/s.css"><link rel="canonical" href=" /p.html "></head>', "/p.html"),
    ('<head><link rel="canonical" href="/a.html"><link rel="canonical" href="/b.html"></head>', None),
    ('<head><link rel="canonical" href="/a.html"><link rel="canonical" href="/a.html"></head>', "/a.html"),
    ('<head><link rel="canonical"></head>', None),
    ('<head><link rel="alternate" href="/fr/p.html"></head>', None),
    ('<head></head><body><link rel="canonical" href="/p.html"></body>', None),  # only the head's counts
])
def test_canonical_link(page: str, expected: str | None) -> None:
    assert canonical_link(page) == expected


HOSTILE_LINKS = [
    "/products/%2e%2e/private/secret.html", "%2e%2e/private/secret.html", "/products/%2E%2E%2Fprivate/secret.html",
    "/products/..%2Fprivate/secret.html", "/products/..%5Cprivate/secret.html", "..\\private\\secret.html",
    "/products/..;/private/secret.html", "/products/%252e%252e/private/secret.html",
]


def test_a_crawl_follows_no_link_out_of_its_prefix_and_drops_credentials(run_cli, sqlite_url, site_server,
                                                                         tmp_path, monkeypatch) -> None:
    from crawlkit import crawl, fetches, rows, setup_site

    from monitor.models import Page

    monkeypatch.setenv("CLAIMWATCH_THROTTLE_START_DELAY", "0.05")
    monkeypatch.setenv("CLAIMWATCH_SCREENSHOTS", "0")
    root = tmp_path / "site"
    (root / "products").mkdir(parents=True)
    (root / "private").mkdir()
    (root / "private" / "secret.html").write_text("<p>Cures arthritis.</p>")
    for name in ("p1", "p2"):
        (root / "products" / f"{name}.html").write_text(f"<p>{name}: supports joint comfort.</p>")
    server = site_server(root, noise=False)
    credentials = server.url.replace("http://", "http://user:secret@") + "/products/p1.html"
    links = [*HOSTILE_LINKS, credentials, "/products/p2.html"]
    (root / "products" / "index.html").write_text(
        "<html><body>" + "".join(f'<a href="{link}">link</a>' for link in links) + "</body></html>")
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/products/", "--allow", "/products/")
    crawl(run_cli, sqlite_url)

    requested = [path for _method, path, _headers in server.requests if path != "/robots.txt"]
    assert requested and all(_as_a_lenient_server_reads(path).startswith("/products/") for path in requested), requested
    # the link with credentials is the plain page: one row, fetched without them
    assert sorted(page.url for page in rows(sqlite_url, Page)) == [
        f"{server.url}/products/", f"{server.url}/products/p1.html", f"{server.url}/products/p2.html"]
    assert [f.error for f in fetches(sqlite_url) if f.error] == []
    assert not [h for _m, _p, h in server.requests if "authorization" in {k.lower() for k in h}]

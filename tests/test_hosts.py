"""The host policy (monitor/hosts.py) as tables: which URLs are a site's own, which addresses may be reached,
and the watchlist's `hosts:` field."""

from __future__ import annotations

import json

import pytest

from monitor.hosts import HostError, HostPolicy, is_internal, parse_host_entry, registrable_domain
from monitor.watchlist import WatchlistError, parse_watchlist, specs_to_yaml

SHOP = HostPolicy.for_site(["https://shop.example.com/"], hosts=["cdn.shop-eu.example", "10.0.0.5:8443"])
LOCAL = HostPolicy.for_site(["http://127.0.0.1:8000/"])

URLS = [
    # (policy, url, the site's own?)
    (SHOP, "https://shop.example.com/a", True),
    (SHOP, "http://shop.example.com/a", True),  # http and https: one site
    (SHOP, "https://www.shop.example.com/a", True),  # the registrable domain: example.com
    (SHOP, "https://WWW.SHOP.EXAMPLE.COM./a", True),
    (SHOP, "https://static.example.com:8080/a", True),
    (SHOP, "https://cdn.shop-eu.example/a", True),  # named
    (SHOP, "https://www.cdn.shop-eu.example/a", False),  # named hosts are exact
    (SHOP, "https://10.0.0.5:8443/a", True),
    (SHOP, "https://10.0.0.5/a", False),  # IP addresses: exact port too
    (SHOP, "https://shop.example.com.evil.example/", False),
    (SHOP, "https://evil.example/?u=shop.example.com", False),
    (SHOP, "https://shop.example.com@evil.example/", False),
    (SHOP, "http://169.254.169.254/latest/meta-data/", False),
    (SHOP, "http://localhost/", False),
    (SHOP, "file:///etc/passwd", False),
    (SHOP, "ftp://shop.example.com/", False),
    (SHOP, "javascript:alert(1)", False),
    (SHOP, "https://shop.example.com:99999/", False),  # a bad port
    (LOCAL, "http://127.0.0.1:8000/products/", True),
    (LOCAL, "http://127.0.0.1:5432/", False),  # the site's address, another port: PostgreSQL's
    (LOCAL, "http://127.0.0.2:8000/", False),
    (LOCAL, "http://localhost:8000/", False),  # another name for the address: not the site's host
    (LOCAL, "http://[::1]:8000/", False),
    (LOCAL, "http://2130706433:8000/", False),  # 127.0.0.1 as a number
]


@pytest.mark.parametrize(("policy", "url", "own"), URLS)
def test_which_urls_are_the_sites_own(policy: HostPolicy, url: str, own: bool) -> None:
    assert policy.allows_url(url) is own


ADDRESSES = [
    # (address, internal?)
    ("127.0.0.1", True), ("127.0.0.2", True), ("10.1.2.3", True), ("172.16.0.1", True), ("192.168.1.1", True),
    ("169.254.169.254", True), ("100.64.0.1", True), ("0.0.0.0", True), ("224.0.0.251", True),
    ("240.0.0.1", True), ("255.255.255.255", True), ("::1", True), ("::", True), ("fe80::1", True),
    ("fe80::1%eth0", True), ("fc00::1", True), ("fec0::1", True), ("ff02::1", True),
    ("::ffff:127.0.0.1", True), ("::ffff:169.254.169.254", True), ("2002:7f00:1::", True),  # 6to4 of 127.0.0.1
    ("64:ff9b::a9fe:a9fe", True),  # NAT64 of 169.254.169.254
    ("93.184.216.34", False), ("8.8.8.8", False), ("2606:4700:4700::1111", False), ("::ffff:8.8.8.8", False),
]


@pytest.mark.parametrize(("address", "internal"), ADDRESSES)
def test_internal_addresses(address: str, internal: bool) -> None:
    assert is_internal(address) is internal


def test_internal_addresses_only_for_the_sites_exact_origins() -> None:
    assert LOCAL.allows_address("127.0.0.1", 8000, "127.0.0.1")  # tests and the demo
    assert not LOCAL.allows_address("127.0.0.1", 5432, "127.0.0.1")
    assert not LOCAL.allows_address("localhost", 8000, "127.0.0.1")  # a name that resolves to it
    assert SHOP.allows_address("www.shop.example.com", 443, "93.184.216.34")
    assert not SHOP.allows_address("www.shop.example.com", 443, "127.0.0.1")  # a DNS trick
    assert not SHOP.allows_address("www.shop.example.com", 443, "::ffff:10.0.0.1")
    assert SHOP.allows_address("10.0.0.5", 8443, "10.0.0.5")  # named by the watchlist
    assert SHOP.allows_address("shop.example.com", 80, "10.0.0.7")  # a start URL's own host: the analyst's


def test_registrable_domains_are_read_offline() -> None:
    assert registrable_domain("www.shop.example.co.uk") == "example.co.uk"
    assert registrable_domain("alice.github.io") == "alice.github.io"  # private suffixes count
    assert registrable_domain("co.uk") is None and registrable_domain("localhost") is None
    assert registrable_domain("shop.example") == "shop.example"  # a suffix the list does not know
    assert registrable_domain("127.0.0.1") is None


@pytest.mark.parametrize("entry", ["http://cdn.example", "cdn.example/x", "user@cdn.example", "*.example",
                                   "cdn..example", "-cdn.example", "cdn.example:0", "cdn.example:70000",
                                   "[1.2.3.4]", ""])
def test_bad_host_entries_are_refused(entry: str) -> None:
    with pytest.raises(HostError):
        parse_host_entry(entry)


def test_watchlist_hosts_are_optional_validated_and_kept() -> None:
    plain = parse_watchlist("sites:\n  - name: a\n    start_urls: ['https://a.example/']\n")
    assert plain[0].hosts == ()  # watchlists without the field keep working
    text = ("sites:\n  - name: a\n    start_urls: ['https://a.example/']\n"
            "    hosts: ['CDN.A-eu.example', '[::1]:8080', 'cdn.a-eu.example']\n")
    spec = parse_watchlist(text)[0]
    assert spec.hosts == ("cdn.a-eu.example", "[::1]:8080")
    assert parse_watchlist(specs_to_yaml([spec]))[0] == spec
    with pytest.raises(WatchlistError, match=r"site 'a': field 'hosts': .*http://evil"):
        parse_watchlist(text.replace("'[::1]:8080'", "'http://evil/'"))


def test_sites_add_and_edit_take_hosts(run_cli, sqlite_url: str) -> None:
    assert run_cli("init", db=sqlite_url).exit_code == 0
    bad = run_cli("sites", "add", "a", "--url", "https://a.example/", "--host", "http://evil/", db=sqlite_url)
    assert bad.exit_code != 0 and "field 'hosts'" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    added = run_cli("sites", "add", "a", "--url", "https://a.example/", "--host", "cdn.a.example", db=sqlite_url)
    assert added.exit_code == 0, added.stderr
    edited = run_cli("sites", "edit", "a", "--host", "img.a.example", "--host", "10.0.0.5:8080", db=sqlite_url)
    assert edited.exit_code == 0, edited.stderr
    listed = json.loads(run_cli("sites", "list", "--format", "json", db=sqlite_url).stdout)
    assert listed["sites"][0]["hosts"] == ["img.a.example", "10.0.0.5:8080"]
    assert run_cli("sites", "edit", "a", "--clear-hosts", db=sqlite_url).exit_code == 0
    listed = json.loads(run_cli("sites", "list", "--format", "json", db=sqlite_url).stdout)
    assert listed["sites"][0]["hosts"] == []

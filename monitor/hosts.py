"""Which hosts and addresses a watched site's crawl and its screenshots may reach (no internal fetches).

A site's **own hosts** are the hosts of its start URLs and the hosts its watchlist names (``hosts:``), and
every DNS name under the registrable domain of a start URL's host (``shop.example`` -> ``www.shop.example``;
the public suffix list bundled with tldextract, read offline). An IP address or ``localhost`` is its own only
exactly: same host, same port. Any other host is another site: a link there is not followed, a redirect there
is recorded as a move and never fetched.

An **address** is connected to only when it is public, or when the host asked for is exactly one of the site's
own origins (host and port of a start URL or a named host; tests and the demo serve on 127.0.0.1). Internal
addresses: loopback, private, link-local (169.254.169.254), shared (100.64/10), multicast, reserved and
unspecified ones, IPv4 and IPv6, IPv4 inside IPv6 included (``::ffff:127.0.0.1``, 6to4, NAT64). The check is
made on the resolved address at connect time (``crawler.hostguard``, ``monitor.egress``), so a name that
resolves to 127.0.0.1 is refused unless that name is the site's own.

>>> policy = HostPolicy.for_site(["https://shop.example/"], hosts=["cdn.shop-eu.example"])
>>> policy.allows_url("https://www.shop.example/a"), policy.allows_url("http://169.254.169.254/")
(True, False)
>>> policy.allows_address("www.shop.example", 443, "127.0.0.1")
False
>>> policy.allows_address("shop.example", 443, "93.184.216.34")
True
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443}
#: ``ipaddress`` properties that make an address internal (besides not being global)
INTERNAL_PROPERTIES = ("is_loopback", "is_private", "is_link_local", "is_multicast", "is_reserved",
                       "is_unspecified", "is_site_local")
#: IPv6 prefixes that carry an IPv4 address in their last 32 bits (RFC 6052 NAT64; the local-use prefix)
NAT64_PREFIXES = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_HOST_ENTRY = re.compile(r"(?P<host>\[[0-9a-fA-F:.]+\]|[^:\[\]/]+)(?::(?P<port>[0-9]{1,5}))?")

#: An origin: (host, port); port None for the standard ports (80 and 443 are one origin, as a move from
#: http to https keeps a site on its own host).
Origin = tuple[str, int | None]


class HostError(ValueError):
    """Not a host name or IP address (with an optional port)."""


def is_internal(address: str | IPAddress) -> bool:
    """Whether an IP address is one no crawl may connect to unless it is the site's own.

    >>> [is_internal(a) for a in ("127.0.0.2", "169.254.169.254", "::ffff:10.0.0.1", "::1", "8.8.8.8")]
    [True, True, True, True, False]
    """
    ip = address if isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address) else parse_ip(address)
    if ip is None:
        raise ValueError(f"not an IP address: {address!r}")
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return is_internal(embedded)
    return not ip.is_global or any(getattr(ip, name, False) for name in INTERNAL_PROPERTIES)


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (IPv4-mapped, 6to4, NAT64), or None."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in network for network in NAT64_PREFIXES):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


@functools.lru_cache(maxsize=4096)  # a crawl meets a few hosts, once per request each
def parse_ip(host: str) -> IPAddress | None:
    """The IP address a host is written as (``[::1]``, ``::1%eth0``, ``127.0.0.1``), or None for a name."""
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def normal_host(host: str) -> str:
    """A host as compared here: lower case, no trailing dot, IDNA (punycode), IPv6 without brackets.

    >>> normal_host("WWW.Shop.Example."), normal_host("[::1]"), normal_host("bücher.example")
    ('www.shop.example', '::1', 'xn--bcher-kva.example')
    """
    host = host.strip().lower()
    ip = parse_ip(host)
    if ip is not None:
        return str(ip)
    host = host.rstrip(".") if host.endswith(".") and not host.endswith("..") else host
    if not host.isascii():
        with contextlib.suppress(UnicodeError):  # left as it is: it then matches no ASCII host
            host = host.encode("idna").decode("ascii")
    return host


def _is_exact_only(host: str) -> bool:
    """IP addresses and localhost are a site's own only exactly, never by domain."""
    return parse_ip(host) is not None or host == "localhost" or host.endswith(".localhost")


@functools.cache
def _extractor() -> Any:
    """tldextract over its bundled public suffix list: never a download (built on first use: ~30 ms)."""
    import tldextract

    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True,
                                 include_psl_private_domains=True)


def registrable_domain(host: str) -> str | None:
    """The registrable domain of a DNS name (``www.shop.example.co.uk`` -> ``example.co.uk``), or None
    for IP addresses, localhost, single labels and public suffixes themselves. A name under a suffix the list
    does not know (``shop.example``) counts as under a top-level domain, as the list's own default rule says.

    >>> [registrable_domain(host) for host in ("www.shop.example.co.uk", "foo.github.io", "shop.example")]
    ['example.co.uk', 'foo.github.io', 'shop.example']
    """
    host = normal_host(host)
    if _is_exact_only(host) or "." not in host:
        return None
    parts = _extractor()(host)
    if parts.suffix:
        return parts.top_domain_under_public_suffix or None
    labels = host.split(".")
    return ".".join(labels[-2:]) if all(labels[-2:]) else None


def parse_host_entry(entry: str) -> Origin:
    """A watchlist ``hosts:`` entry: a host name or IP address, with an optional port.

    >>> parse_host_entry("CDN.Shop.example"), parse_host_entry("[::1]:8080"), parse_host_entry("10.0.0.5:443")
    (('cdn.shop.example', None), ('::1', 8080), ('10.0.0.5', None))
    """
    match = _HOST_ENTRY.fullmatch(entry.strip())
    if match is None:
        raise HostError(f"not a host name or IP address (with an optional :port): {entry!r}")
    raw, port_text = match.group("host"), match.group("port")
    bracketed = parse_ip(raw) if raw.startswith("[") else None
    if raw.startswith("[") and (bracketed is None or bracketed.version != 6):
        raise HostError(f"not an IPv6 address: {entry!r}")
    host = normal_host(raw)
    if parse_ip(host) is None and not all(_LABEL.fullmatch(label) for label in host.split(".")):
        raise HostError(f"not a host name or IP address (with an optional :port): {entry!r}")
    port = int(port_text) if port_text else None
    if port is not None and not 0 < port < 65536:
        raise HostError(f"bad port in {entry!r}")
    return host, (None if port in DEFAULT_PORTS.values() else port)


def url_origin(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of an http(s) URL as compared here (port None for 80/443), or None.

    >>> url_origin("HTTPS://User@WWW.Shop.Example:443/a"), url_origin("ftp://x/")
    (('https', 'www.shop.example', None), None)
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, normal_host(parts.hostname), None if port in (None, *DEFAULT_PORTS.values()) else port


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """A site's own hosts: exact origins, and registrable domains whose every DNS name is the site's."""

    origins: frozenset[Origin]
    domains: frozenset[str]

    @classmethod
    def for_site(cls, start_urls: Iterable[str], hosts: Iterable[str] = ()) -> HostPolicy:
        """The policy of a site with these start URLs and named hosts (watchlist ``hosts:``)."""
        origins: set[Origin] = set()
        domains: set[str] = set()
        for url in start_urls:
            origin = url_origin(url)
            if origin is None:
                continue
            _, host, port = origin
            origins.add((host, port))
            domain = registrable_domain(host)
            if domain is not None:
                domains.add(domain)
        origins.update(parse_host_entry(entry) for entry in hosts)
        return cls(frozenset(origins), frozenset(domains))

    def is_own_origin(self, host: str, port: int | None) -> bool:
        """Whether host:port is exactly a start URL's or a named host's (80 and 443 are one)."""
        host = normal_host(host)
        return (host, None if port in (None, *DEFAULT_PORTS.values()) else port) in self.origins

    def allows_host(self, host: str, port: int | None) -> bool:
        """Whether a host (and port) is one of the site's own: an exact origin, or a DNS name under one of
        the registrable domains of its start URLs (any port)."""
        host = normal_host(host)
        if self.is_own_origin(host, port):
            return True
        if _is_exact_only(host):
            return False
        return any(host == domain or host.endswith("." + domain) for domain in self.domains)

    def allows_url(self, url: str) -> bool:
        """Whether an http(s) URL is on one of the site's own hosts (any other scheme: never)."""
        origin = url_origin(url)
        return origin is not None and self.allows_host(origin[1], origin[2])

    def allows_address(self, host: str, port: int | None, address: str | IPAddress) -> bool:
        """Whether a connection to ``address``, resolved for ``host:port``, may be made: a public address,
        or an internal one when host:port is exactly one of the site's own origins."""
        return not is_internal(address) or self.is_own_origin(host, port)

    def refusal(self, url: str) -> str | None:
        """Why a URL may not be fetched for this site, or None when it may."""
        if url_origin(url) is None:
            return f"not an http(s) URL: {url}"
        if not self.allows_url(url):
            return f"another host than the site's own: {url}"
        return None


#: The policy of nothing: no origin is anyone's own, every internal address is refused.
NO_HOSTS = HostPolicy(frozenset(), frozenset())

"""URL canonicalisation: one page is one row, whatever tracking parameters or fragments point at it."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

_TRACKING = re.compile(
    r"^(?:utm_[a-z_]+|gclid|dclid|fbclid|msclkid|mc_cid|mc_eid|yclid|_ga|_gl|igshid|ref_src|"
    r"srsltid|wbraid|gbraid|_hsenc|_hsmi|mkt_tok|oly_anon_id|oly_enc_id|vero_id|trk|clickid)$",
    re.IGNORECASE,
)
_SLASHES = re.compile(r"/{2,}")
_NEEDS_QUOTING = re.compile(r"[^A-Za-z0-9/:@!$&'()*+,;=._~-]")
# an absolute path canonical_url leaves as it is: safe characters only, no "%", "//" or dot segments
_CANONICAL_PATH = re.compile(r"/[A-Za-z0-9_~!$&'()*+,;=:@/-]*(?:\.[A-Za-z0-9_~!$&'()*+,;=:@-]+)*\Z")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str) -> str:
    """Canonical form of a URL.

    Lower-case scheme and host, no default port, no fragment, no tracking parameters (utm_*, gclid,
    fbclid...), remaining query parameters sorted, duplicate slashes and dot segments folded.

    >>> canonical_url("HTTP://Shop.Example:80//products//a.html?utm_source=x&b=2&a=1#top")
    'http://shop.example/products/a.html?a=1&b=2'
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host
    if port and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    path = _SLASHES.sub("/", parts.path or "/")
    if "/." in path:
        trailing = path.endswith("/")
        path = posixpath.normpath(path)
        if trailing and not path.endswith("/"):
            path += "/"
    if "%" in path or _NEEDS_QUOTING.search(path):  # (quoting a path of safe characters changes nothing)
        path = quote(unquote(path), safe="/%:@!$&'()*+,;=-._~")
    return urlunsplit((scheme, netloc, path, canonical_query(parts.query), ""))


def is_canonical_path(path: str) -> bool:
    """Whether ``canonical_url`` keeps an absolute path exactly as it is.

    >>> is_canonical_path("/products/p1.html"), is_canonical_path("/a//b"), is_canonical_path("/a/../b")
    (True, False, False)
    """
    return _CANONICAL_PATH.match(path) is not None and "//" not in path and "/." not in path


def canonical_query(query: str) -> str:
    """A query string without tracking parameters, the rest sorted (as in ``canonical_url``).

    >>> canonical_query("utm_source=mail&b=2&a=1")
    'a=1&b=2'
    """
    if not query:
        return ""
    return urlencode(sorted((k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not _TRACKING.match(k)))


def in_scope(url: str, hosts: frozenset[str], allow: tuple[str, ...]) -> bool:
    """Whether a canonical URL is on one of the site's hosts and under an allowed path prefix."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        return False
    netloc = parts.netloc.rsplit("@", 1)[-1]
    if netloc not in hosts:
        return False
    return not allow or any(parts.path.startswith(prefix) for prefix in allow)


def site_hosts(start_urls: list[str] | tuple[str, ...]) -> frozenset[str]:
    return frozenset(urlsplit(canonical_url(url)).netloc for url in start_urls)

"""URL canonicalisation: one page is one row, whatever tracking parameters or fragments point at it.

Canonical forms are a fixed point (``canonical_url(canonical_url(u)) == canonical_url(u)``), never carry
credentials, and hold no dot segments, percent-encoded ones included, so a path prefix check on them means
what it says (``in_scope`` also checks the path as a server that decodes ``%2F`` or ``..;`` would read it).
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

_TRACKING = re.compile(
    r"^(?:utm_[a-z_]+|gclid|dclid|fbclid|msclkid|mc_cid|mc_eid|yclid|_ga|_gl|igshid|ref_src|"
    r"srsltid|wbraid|gbraid|_hsenc|_hsmi|mkt_tok|oly_anon_id|oly_enc_id|vero_id|trk|clickid)$",
    re.IGNORECASE,
)
_SLASHES = re.compile(r"/{2,}")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_LONE_PERCENT = re.compile(r"%(?![0-9A-F]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"  # what a path may hold as it is (RFC 3986 pchar, "/" and escapes)
# the page a folder's URL serves: /x/index.html is /x/
_INDEX_PAGES = ("/index.html", "/index.htm")
# an absolute path canonical_url leaves as it is: safe characters only, no "%", "//" or dot segments
_CANONICAL_PATH = re.compile(r"/[A-Za-z0-9_~!$&'()*+,;=:@/-]*(?:\.[A-Za-z0-9_~!$&'()*+,;=:@-]+)*\Z")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LINK_TAG = re.compile(r"<link\s[^>]*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_HEAD_END = re.compile(r"</head\s*>|<body[\s>]", re.IGNORECASE)


def canonical_url(url: str) -> str:
    """Canonical form of a URL.

    Lower-case scheme and host, no credentials, no default port, no fragment, no tracking parameters
    (utm_*, gclid, fbclid...), remaining query parameters sorted, the path as ``canonical_path`` has it.

    >>> canonical_url("HTTP://user:pw@Shop.Example:80//products//a.html?utm_source=x&b=2&a=1#top")
    'http://shop.example/products/a.html?a=1&b=2'
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()  # (without the user name and password: never sent, never stored)
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    port = parts.port
    netloc = host
    if port and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{port}"
    return urlunsplit((scheme, netloc, canonical_path(parts.path), canonical_query(parts.query), ""))


def canonical_path(path: str) -> str:
    """A URL path normalised as RFC 3986 (section 6.2.2) has it, plus what browsers and servers agree on.

    Escapes of unreserved characters decoded (``%2e`` is ``.``, ``%7E`` is ``~``), other escapes in upper
    case, other characters outside the path's own set escaped (UTF-8); ``\\`` read as ``/``, as browsers
    do; duplicate slashes folded; dot segments removed; a folder's ``index.html`` (or ``.htm``) is the folder.

    >>> canonical_path("/products/%2e%2e/admin"), canonical_path("/a//b/./index.html"), canonical_path("/a%2fb c")
    ('/admin', '/a/b/', '/a%2Fb%20c')
    """
    if is_canonical_path(path):  # the common case: nothing to do
        return path
    path = path.replace("\\", "/")
    if "%" in path:
        path = _LONE_PERCENT.sub("%25", _ESCAPE.sub(_unescape_unreserved, path))
    path = quote(path, safe=_PATH_SAFE)
    path = _SLASHES.sub("/", "/" + path.lstrip("/"))
    if "/." in path:
        path = _without_dot_segments(path)
    if path.endswith(_INDEX_PAGES):
        path = path.rsplit("/", 1)[0] + "/"
    return path


def _unescape_unreserved(match: re.Match[str]) -> str:
    character = chr(int(match.group(1), 16))
    return character if character in _UNRESERVED else "%" + match.group(1).upper()


def _without_dot_segments(path: str) -> str:
    """RFC 3986's remove_dot_segments for an absolute path: ``/a/b/../c/.`` is ``/a/c/``."""
    segments = path.split("/")
    kept: list[str] = []
    for segment in segments[1:]:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    if segments[-1] in {".", ".."}:
        kept.append("")  # what the last dot segment named is a folder
    return "/" + "/".join(kept)


def is_canonical_path(path: str) -> bool:
    """Whether ``canonical_url`` keeps an absolute path exactly as it is.

    >>> is_canonical_path("/products/p1.html"), is_canonical_path("/a//b"), is_canonical_path("/a/../b")
    (True, False, False)
    """
    return (_CANONICAL_PATH.match(path) is not None and "//" not in path and "/." not in path
            and not path.endswith(_INDEX_PAGES))


def canonical_query(query: str) -> str:
    """A query string without tracking parameters, the rest sorted (as in ``canonical_url``).

    >>> canonical_query("utm_source=mail&b=2&a=1")
    'a=1&b=2'
    """
    if not query:
        return ""
    return urlencode(sorted((k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not _TRACKING.match(k)))


def in_scope(url: str, hosts: frozenset[str], allow: tuple[str, ...]) -> bool:
    """Whether a canonical URL is on one of the site's hosts and under an allowed path prefix (``path_allowed``)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or "@" in parts.netloc:
        return False
    if parts.netloc not in hosts:
        return False
    return not allow or path_allowed(parts.path, allow)


def path_allowed(path: str, allow: tuple[str, ...]) -> bool:
    """Whether a canonical path is under one of the ``allow`` prefixes, also as a server that decodes escapes
    (``%2F``, twice encoded ``%252e``...), reads ``\\`` as ``/`` or drops path parameters (``..;/``) before
    resolving dot segments would read it.

    >>> path_allowed("/products/p1.html", ("/products/",)), path_allowed("/products/..%2Fadmin", ("/products/",))
    (True, False)
    """
    if not path.startswith(allow):
        return False
    read = _as_servers_read(path)
    return read is not None and read.startswith(allow)


def _as_servers_read(path: str) -> str | None:
    """The path decoded (escapes of escapes too, as servers that decode twice see them), ``\\`` as ``/``,
    without path parameters and dot segments; None when it is still escaped after three decodings."""
    for _ in range(3):
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    else:
        if unquote(path) != path:
            return None
    path = "/".join(segment.split(";", 1)[0] for segment in path.replace("\\", "/").split("/"))
    return _without_dot_segments(_SLASHES.sub("/", path))


def site_hosts(start_urls: list[str] | tuple[str, ...]) -> frozenset[str]:
    return frozenset(urlsplit(canonical_url(url)).netloc for url in start_urls)


def canonical_link(page: str) -> str | None:
    """The address a page's ``<link rel="canonical" href="...">`` names (as written, entities decoded), or None
    when its head has none, or several that disagree (as search engines, which then ignore them all).

    >>> canonical_link('<head><LINK href="/p?a=1&amp;b=2" rel="Canonical"></head><body>')
    '/p?a=1&b=2'
    """
    end = _HEAD_END.search(page)
    hrefs = set()
    for tag in _LINK_TAG.finditer(page, 0, end.start() if end else len(page)):
        attributes = {name.lower(): first or second or third
                      for name, first, second, third in _ATTRIBUTE.findall(tag.group(0))}
        if "canonical" in attributes.get("rel", "").lower().split() and attributes.get("href", "").strip():
            hrefs.add(html.unescape(attributes["href"]).strip())
    return hrefs.pop() if len(hrefs) == 1 else None

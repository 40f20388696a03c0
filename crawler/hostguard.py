"""The crawl's fences (``monitor.hosts``): only the site's own hosts, never an internal address.

- ``HostGuardMiddleware``, the first downloader middleware: a request for another host never goes out
  (``OffsiteRequest``, logged), robots.txt included; a host of the site's domain that is not one of its exact
  origins (``www.shop.example`` for ``shop.example``) is resolved first, and refused with a clear error when it
  resolves only to internal addresses (``InternalAddressRefused``, recorded as the page's fetch error).
- ``OffsiteRedirectMiddleware`` and ``OffsiteMetaRefreshMiddleware``, Scrapy's redirect middlewares except
  that a hop to another host (or to a non-HTTP URL) is not followed: the redirecting response goes to the
  spider with the target in its meta (``OFFSITE_TARGET``), and the store records the page as moved there.
- ``GuardedResolver`` (``TWISTED_DNS_RESOLVER``): every connection's name resolution, with the addresses the
  policy refuses left out, so the check holds at connect time, whatever the DNS said a moment before.

A crawl process crawls many sites, each with its own crawler: the middlewares hold their site's policy
(``spider.plan.host_policy()``, set when the spider opens; until then, and for a spider without a plan,
nothing is the site's own). The resolver is the process's: it lets through an internal address only for a
host:port that is exactly one of the origins of a site being crawled (what each middleware already checked
for its own site).
"""

from __future__ import annotations

import logging
from typing import Any, cast
from urllib.parse import urljoin
from urllib.request import getproxies

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.resolver import CachingHostnameResolver
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IAddress, IHostResolution, IResolutionReceiver
from w3lib.url import safe_url_string
from zope.interface import implementer

from monitor.hosts import DEFAULT_PORTS, NO_HOSTS, HostPolicy, parse_ip, url_origin
from monitor.urls import canonical_url

log = logging.getLogger(__name__)

#: request meta: the URL on another host that a redirect or meta refresh of this request pointed at
OFFSITE_TARGET = "claimwatch_offsite"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class OffsiteRequest(IgnoreRequest):
    """A request for another host than the site's own: never sent."""


class InternalAddressRefused(Exception):  # noqa: N818 - the name says what happened, as Scrapy's do
    """The request's host resolves only to internal addresses and is not exactly one of the site's own."""


def site_policy(spider: Spider | None) -> HostPolicy:
    """The host policy of the site a spider crawls (``NO_HOSTS`` for a spider without a crawl plan)."""
    plan = getattr(spider, "plan", None)
    return plan.host_policy() if plan is not None else NO_HOSTS


def mark_offsite(request: Request, response: Response, target: str) -> Response:
    """Hand a response that points at another host to the spider as it is (whatever its status), with the
    target in its meta, instead of following it."""
    try:
        shown = canonical_url(target)  # no credentials; the form page URLs are stored in
    except ValueError:
        shown = target
    request.meta[OFFSITE_TARGET] = shown[:2048]
    request.meta["handle_httpstatus_list"] = [*request.meta.get("handle_httpstatus_list", ()), response.status]
    log.warning("%s points at another host, %s: recorded as moved, not followed", response.url, shown)
    return response


class HostGuardMiddleware:
    """Refuses requests for other hosts, and hosts of the site's domain that resolve to internal addresses;
    installs the site's policy in the ``GuardedResolver``."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.policy = NO_HOSTS

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostGuardMiddleware:
        middleware = cls(crawler)
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def spider_opened(self, spider: Spider) -> None:
        self.policy = site_policy(spider)
        resolver = installed_resolver()
        if resolver is None:
            log.warning("the DNS resolver is not crawler.hostguard.GuardedResolver: internal addresses are not "
                        "checked at connect time (TWISTED_DNS_RESOLVER)")
        else:
            resolver.policies.append(self.policy)

    def spider_closed(self, spider: Spider) -> None:
        resolver = installed_resolver()
        if resolver is not None and self.policy in resolver.policies:
            resolver.policies.remove(self.policy)

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        refusal = self.policy.refusal(request.url)
        if refusal is not None:
            log.warning("not fetched: %s", refusal)
            raise OffsiteRequest(refusal)
        origin = url_origin(request.url)
        assert origin is not None
        scheme, host, port = origin
        resolver = installed_resolver()
        if resolver is None or self.policy.is_own_origin(host, port) or parse_ip(host) is not None:
            return  # own origins may be internal; other IP addresses are not the site's (refused above)
        # a host of the site's domain: resolved now (and cached for the connection, which checks again) to
        # say why, rather than fail later with "DNS lookup failed"
        number = port or DEFAULT_PORTS[scheme]
        resolver.refused.pop((host, number), None)
        addresses = await resolve(host, number)
        refused = resolver.refused.get((host, number))
        if not addresses and refused:
            raise InternalAddressRefused(
                f"{host} resolves to {', '.join(refused)}: internal addresses are refused for hosts that are "
                f"not exactly one of the site's own (start URLs, watchlist hosts)")

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        # a response from another host: a browser followed a redirect (render_js sites)
        if OFFSITE_TARGET not in request.meta and not self.policy.allows_url(response.url):
            return mark_offsite(request, response, response.url)
        return response


class _PolicyFromSpider:
    """The site's policy, read when the spider opens (for Scrapy's redirect middlewares)."""

    crawler: Crawler
    policy: HostPolicy = NO_HOSTS

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Any:
        middleware = super().from_crawler(crawler)  # type: ignore[misc]
        crawler.signals.connect(middleware._spider_opened, signal=signals.spider_opened)
        return middleware

    def _spider_opened(self, spider: Spider) -> None:
        self.policy = site_policy(spider)


class OffsiteRedirectMiddleware(_PolicyFromSpider, RedirectMiddleware):
    """Scrapy's ``RedirectMiddleware``; a redirect to another host or scheme is handed to the spider."""

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Request | Response:
        target = self._target(request, response)
        if target is not None and not self.policy.allows_url(target):
            return mark_offsite(request, response, target)
        return super().process_response(request, response)

    def _target(self, request: Request, response: Response) -> str | None:
        """Where Scrapy's middleware would redirect to (whatever the scheme), or None."""
        raw = response.headers.get(b"Location")
        if (not raw or response.status not in REDIRECT_STATUSES or request.meta.get("dont_redirect")
                or request.meta.get("handle_httpstatus_all")
                or response.status in request.meta.get("handle_httpstatus_list", ())
                or response.status in getattr(self.crawler.spider, "handle_httpstatus_list", ())):
            return None
        location = safe_url_string(raw)
        if raw.startswith(b"//"):
            location = urlparse_cached(request).scheme + "://" + location.lstrip("/")
        return urljoin(request.url, location)


class OffsiteMetaRefreshMiddleware(_PolicyFromSpider, MetaRefreshMiddleware):
    """Scrapy's ``MetaRefreshMiddleware``; a refresh to another host is handed to the spider."""

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Request | Response:
        try:
            result = super().process_response(request, response)
        except ValueError:  # a refresh to what is no URL at all ("javascript:...", hostile pages): not followed
            return response
        if isinstance(result, Request) and not self.policy.allows_url(result.url):
            return mark_offsite(request, response, result.url)
        return result


@implementer(IResolutionReceiver)
class _AllowedAddresses:
    """Passes on the addresses the resolver's policy allows for host:port, notes the others."""

    def __init__(self, receiver: Any, resolver: GuardedResolver, host: str, port: int) -> None:
        # (Any: mypy reads zope interfaces' methods as taking no self)
        self.receiver, self.resolver, self.host, self.port = receiver, resolver, host, port
        self.refused: list[str] = []

    def resolutionBegan(self, resolution: IHostResolution) -> None:  # noqa: N802 - Twisted's interface
        self.receiver.resolutionBegan(resolution)

    def addressResolved(self, address: IAddress) -> None:  # noqa: N802
        ip = str(getattr(address, "host", ""))
        if self.resolver.allows(self.host, self.port, ip):
            self.receiver.addressResolved(address)
        else:
            self.refused.append(ip)

    def resolutionComplete(self) -> None:  # noqa: N802
        if self.refused:
            self.resolver.note_refused(self.host, self.port, self.refused)
        self.receiver.resolutionComplete()


@implementer(IResolutionReceiver)
class _Collect:
    def __init__(self) -> None:
        self.addresses: list[str] = []
        self.done: Deferred[list[str]] = Deferred()

    def resolutionBegan(self, resolution: IHostResolution) -> None:  # noqa: N802
        pass

    def addressResolved(self, address: IAddress) -> None:  # noqa: N802
        self.addresses.append(str(getattr(address, "host", "")))

    def resolutionComplete(self) -> None:  # noqa: N802
        self.done.callback(self.addresses)


class GuardedResolver(CachingHostnameResolver):
    """Scrapy's caching resolver (IPv4 and IPv6) that leaves out every internal address, except for a
    host:port that is exactly an origin of one of the sites being crawled (``policies``: one per open site);
    a host with no address left fails to connect ("DNS lookup failed").

    Configured HTTP(S) proxies (``http_proxy``...) may be connected to; behind one, the proxy resolves the
    page hosts and only the host check applies.
    """

    def __init__(self, reactor: Any, cache_size: int) -> None:
        super().__init__(reactor, cache_size)
        self.policies: list[HostPolicy] = []
        self.refused: dict[tuple[str, int], list[str]] = {}  # (host, port) -> addresses left out, latest
        self.proxies = frozenset(
            (origin[1], origin[2]) for origin in map(url_origin, getproxies().values()) if origin is not None)

    def allows(self, host: str, port: int, address: str) -> bool:
        if (host, None if port in (80, 443) else port) in self.proxies:
            return True
        try:
            return (NO_HOSTS.allows_address(host, port, address)
                    or any(policy.is_own_origin(host, port) for policy in self.policies))
        except ValueError:
            return False  # not an IP address

    def note_refused(self, host: str, port: int, addresses: list[str]) -> None:
        if len(self.refused) < 10_000:
            self.refused[(host, port)] = addresses
        log.warning("connection to %s:%s refused: %s is internal and %s is not one of the site's own hosts",
                    host, port, ", ".join(addresses), host)

    def resolveHostName(self, resolutionReceiver: IResolutionReceiver, hostName: str,  # noqa: N802, N803
                        portNumber: int = 0, addressTypes: Any = None,  # noqa: N803
                        transportSemantics: str = "TCP") -> IHostResolution:  # noqa: N803
        receiver = cast(IResolutionReceiver, _AllowedAddresses(resolutionReceiver, self, hostName, portNumber))
        return super().resolveHostName(receiver, hostName, portNumber, addressTypes, transportSemantics)


def installed_resolver() -> GuardedResolver | None:
    """The reactor's resolver when it is a ``GuardedResolver``."""
    from twisted.internet import reactor

    resolver = getattr(reactor, "nameResolver", None)
    return resolver if isinstance(resolver, GuardedResolver) else None


async def resolve(host: str, port: int) -> list[str]:
    """The addresses the reactor's resolver gives for host:port (after the guard's filter)."""
    from twisted.internet import reactor

    collect = _Collect()
    reactor.nameResolver.resolveHostName(collect, host, port)
    return await maybe_deferred_to_future(collect.done)

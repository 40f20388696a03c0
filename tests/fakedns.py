"""A DNS for the crawl tests: ``crawler.hostguard.GuardedResolver`` over a table of names instead of the
system's resolver (the guard's filter is the real one). ``CLAIMWATCH_TEST_DNS`` holds the table as JSON,
name -> list of answers, each answer a list of addresses; a name's answers are given in turn, the last one
repeated (so a name can change its answer between two lookups, as a rebinding DNS does). Names not in the
table go to the system's resolver. Used as ``-s TWISTED_DNS_RESOLVER=tests.fakedns.FakeDNSResolver``.

``PolicyOnlyMiddleware`` stands in for ``HostGuardMiddleware`` to test the connect-time check alone."""

from __future__ import annotations

import json
import os
from typing import Any

from scrapy.resolver import HostResolution
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IHostnameResolver, IHostResolution, IResolutionReceiver
from zope.interface import implementer

from crawler.hostguard import GuardedResolver, HostGuardMiddleware


@implementer(IHostnameResolver)
class _TableResolver:
    def __init__(self, table: dict[str, list[list[str]]], fallback: IHostnameResolver) -> None:
        self.table, self.fallback = table, fallback
        self.asked: dict[str, int] = {}

    def resolveHostName(self, resolutionReceiver: IResolutionReceiver, hostName: str,  # noqa: N802, N803
                        portNumber: int = 0, addressTypes: Any = None,  # noqa: N803
                        transportSemantics: str = "TCP") -> IHostResolution:  # noqa: N803
        answers = self.table.get(hostName)
        if answers is None:
            return self.fallback.resolveHostName(resolutionReceiver, hostName, portNumber, addressTypes,
                                                 transportSemantics)
        turn = self.asked[hostName] = self.asked.get(hostName, 0) + 1
        resolution = HostResolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        for address in answers[min(turn, len(answers)) - 1]:
            kind = IPv6Address if ":" in address else IPv4Address
            resolutionReceiver.addressResolved(kind("TCP", address, portNumber))
        resolutionReceiver.resolutionComplete()
        return resolution


class FakeDNSResolver(GuardedResolver):
    def __init__(self, reactor: Any, cache_size: int) -> None:
        super().__init__(reactor, cache_size)
        table = json.loads(os.environ.get("CLAIMWATCH_TEST_DNS", "{}"))
        self.original_resolver = _TableResolver(table, self.original_resolver)


class PolicyOnlyMiddleware(HostGuardMiddleware):
    """``HostGuardMiddleware`` without its check of each request: only the resolver's, at connect time (what
    a DNS answer that changes between the check and the connection would leave)."""

    async def process_request(self, request: Any, spider: Any = None) -> None:
        return None

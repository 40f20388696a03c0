"""What a request Scrapy gave up on becomes: the error its page's fetch row records (``FetchFailure``), or
nothing for a link that was never a page (robots.txt or the host guard refused it).

Scrapy reports most give-ups as ``IgnoreRequest``, told apart only by their message (Scrapy 2.19):
``RedirectMiddleware`` "max redirections reached" (after ``REDIRECT_MAX_TIMES`` hops),
``HttpCompressionMiddleware`` "... exceeded DOWNLOAD_MAXSIZE (...) during decompression",
``RobotsTxtMiddleware`` "Forbidden by robots.txt"; ``HttpErrorMiddleware`` raises ``HttpError`` for a status
the spider does not handle. A redirect loop is ours (``RedirectLoop``, crawler/middlewares.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from scrapy.exceptions import CannotResolveHostError, DownloadConnectionRefusedError, IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as net
from twisted.python.failure import Failure

from monitor.fetch_errors import (
    DECOMPRESSED_TOO_LARGE,
    REDIRECT_LOOP,
    ROBOTS_DISALLOWED,
    TOO_MANY_REDIRECTS,
    unreachable,
)

# connection failures: the server was never reached (a whole run of them is an unreachable site); Scrapy
# 2.19 wraps Twisted's refused and DNS errors in its own exceptions, the others come as they are
UNREACHABLE_ERRORS: tuple[tuple[type[BaseException], str], ...] = (
    (CannotResolveHostError, "unknown host"),
    (net.DNSLookupError, "unknown host"),
    (DownloadConnectionRefusedError, "connection refused"),
    (net.ConnectionRefusedError, "connection refused"),
    (net.NoRouteError, "no route to host"),
    (net.TCPTimedOutError, "connection timed out"),
    (net.ConnectError, "could not connect"),  # any other (timeouts, ConnectErrors too, are told apart first)
)


class RedirectLoop(IgnoreRequest):
    """A redirect back to a URL already in the request's redirect chain."""


@dataclass(frozen=True, slots=True)
class FetchFailure:
    error: str
    status: int | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """The settings a failure is described with: DOWNLOAD_MAXSIZE, DOWNLOAD_TIMEOUT, REDIRECT_MAX_TIMES."""

    maxsize: int
    timeout: int
    redirects: int


def describe_failure(failure: Failure, limits: Limits, *, known: bool) -> FetchFailure | None:
    """The fetch error for a failed request; None when it is not worth a row: a link (not a ``known`` page or
    start URL) that robots.txt or the host guard refused."""
    if failure.check(IgnoreRequest):
        return _ignored(failure, limits, known)
    message = failure.getErrorMessage() or failure.type.__name__
    name = failure.type.__name__
    if "maxsize" in message.lower() or "DOWNLOAD_MAXSIZE" in message or (
        name in {"CancelledError", "DownloadCancelledError"} and limits.maxsize
    ):
        return FetchFailure(f"response larger than DOWNLOAD_MAXSIZE ({limits.maxsize} bytes): not stored")
    if failure.check(net.TimeoutError) or "timeout" in name.lower():
        return FetchFailure(f"timeout after {limits.timeout} s")
    for kind, reason in UNREACHABLE_ERRORS:
        if failure.check(kind):
            return FetchFailure(unreachable(reason, message))
    return FetchFailure(f"{name}: {message}")


def _ignored(failure: Failure, limits: Limits, known: bool) -> FetchFailure | None:
    value = failure.value
    message = str(value)
    if isinstance(value, HttpError):
        status = value.response.status
        return FetchFailure(f"HTTP {status}: not a status the crawler follows or stores", status)
    if isinstance(value, RedirectLoop):
        return FetchFailure(f"{REDIRECT_LOOP} ({message})")
    if "max redirections" in message:
        return FetchFailure(f"{TOO_MANY_REDIRECTS} (more than {limits.redirects}, REDIRECT_MAX_TIMES)")
    if "decompression" in message:
        return FetchFailure(f"{DECOMPRESSED_TOO_LARGE} (more than {limits.maxsize} bytes, DOWNLOAD_MAXSIZE): "
                            "not stored")
    if not known:
        return None  # a link robots.txt (or the host guard) refused: never a page
    if "robots.txt" in message:
        return FetchFailure(ROBOTS_DISALLOWED)
    return FetchFailure(f"not fetched: {message or type(value).__name__}")

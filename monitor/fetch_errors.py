"""Why a fetch was given up on, as ``fetch.error`` says it: the fixed phrases the crawl writes and the run
summary reads (standard library only: the crawl process imports it).

>>> unreachable("connection refused", "127.0.0.1:9")
'unreachable: connection refused (127.0.0.1:9)'
>>> unreachable_reason([(None, "unreachable: connection refused (127.0.0.1:9)")])
'connection refused'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

UNREACHABLE = "unreachable: "
DECOMPRESSED_TOO_LARGE = "body over the size limit after decompression"
REDIRECT_LOOP = "redirect loop"
TOO_MANY_REDIRECTS = "too many redirects"
ROBOTS_DISALLOWED = "disallowed by robots.txt"


def unreachable(reason: str, detail: str) -> str:
    """The error of a fetch that never reached the server (``reason``: "connection refused", ...)."""
    return f"{UNREACHABLE}{reason} ({detail})" if detail else f"{UNREACHABLE}{reason}"


def unreachable_reason(fetched: Iterable[tuple[int | None, str | None]]) -> str | None:
    """The reason a whole run could not reach its site, from its fetches' ``(status, error)``: the most
    common one when every fetch failed to connect, None when any got an answer (or failed otherwise)."""
    reasons: Counter[str] = Counter()
    for status, error in fetched:
        if status is not None or not error or not error.startswith(UNREACHABLE):
            return None
        reasons[error[len(UNREACHABLE):].split(" (", 1)[0]] += 1
    return reasons.most_common(1)[0][0] if reasons else None

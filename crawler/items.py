"""PageItem: what the spider hands to the pipelines for every fetched (or failed) URL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class PageItem:
    url: str  # canonical URL requested
    final_url: str | None
    status: int | None
    headers: dict[str, str]
    body: bytes | None
    fetched_at: datetime
    site: str
    run: int | None
    # filled by the spider and the pipelines on the way to the store
    error: str | None = None
    elapsed_ms: int | None = None
    encoding: str | None = None
    redirect_status: int | None = None
    not_modified: bool = False
    skipped: str | None = None
    sha256: str | None = None
    warc_path: str | None = None
    warc_offset: int | None = None
    known_sha256: str | None = None  # body hash of the page's last fetch: same bytes, nothing to parse
    known_fingerprint: str | None = None  # content fingerprint of the page's current snapshot
    content: Any = None  # monitor.store.PageContent once normalised
    # the HTTP exchange as sent and received, for the WARC archive (pipelines/archive.py)
    response_url: str | None = None  # URL the response came from, as fetched (not canonicalised)
    protocol: str | None = None
    raw_headers: list[tuple[str, str]] = field(default_factory=list)  # every response header value
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    rendered: bool = False  # body is Chromium's DOM after scripts ran (render_js sites)
    blocks: list[Any] = field(default_factory=list)
    outcome: str | None = None  # what the store made of the fetch: new, changed, unchanged, error...
    # the canonical URL of the page this response is an alias of (its <link rel=canonical>, or the URL it
    # was stored under before canonicalisation changed): not analysed, the page is fetched as that URL
    alias_of: str | None = None
    # the URL on another host a redirect or meta refresh sent this page to (crawler/hostguard.py): never
    # fetched, the page is recorded as moved there
    offsite_target: str | None = None

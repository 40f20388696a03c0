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
    blocks: list[Any] = field(default_factory=list)

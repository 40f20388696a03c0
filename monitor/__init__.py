"""claimwatch's domain core and application: no Scrapy here (the crawler calls into it)."""

from __future__ import annotations

__version__ = "0.1.0"

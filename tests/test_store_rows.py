"""The statements of a snapshot are stored exactly as extracted, on SQLite and PostgreSQL.

The store writes statement rows straight on the DBAPI cursor and remembers the JSON of attributes and
matched phrases that recur from page to page; values that compare equal in Python but are not the same
JSON (1, 1.0, True, "1") must each keep their own.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from monitor.models import Site
from monitor.sites import upsert_sites
from monitor.statements import Statement
from monitor.store import FetchResult, PageContent, snapshot_statements, store_page
from monitor.watchlist import SiteSpec

TRICKY = [{"days": 1}, {"days": 1.0}, {"days": True}, {"days": "1"}, {}, {"days": 90, "refund": "full"},
          {"terms": ["arthritis", "gout"]}, {"days": None}]


def _statements(attributes: list[dict]) -> list[Statement]:  # type: ignore[type-arg]
    return [
        Statement("guarantee", "money_back", f"Try it for {index} days.", f"try it for {index} days",
                  attributes=value, position=index, rule="guarantee.money_back",
                  matched=("1",) if index % 2 else (f"{index} days", "refund"))
        for index, value in enumerate(attributes)
    ]


def test_statement_attributes_and_matched_phrases_come_back_exactly(sessions) -> None:
    with sessions.begin() as session:
        upsert_sites(session, [SiteSpec("shop", ("http://127.0.0.1:1/",))])
        site_id = session.scalars(select(Site.id)).one()
    stored = []
    for page in range(3):  # the same values again on later pages: remembered encodings are reused
        statements = _statements(TRICKY if page != 1 else list(reversed(TRICKY)))
        with sessions.begin() as session:
            outcome = store_page(session, FetchResult(
                site_id=site_id, run_id=None, url=f"http://127.0.0.1:1/p{page}.html",
                fetched_at=datetime(2026, 1, 1, tzinfo=UTC), status=200, content_type="text/html",
                body=f"<p>page {page}</p>".encode(),
            ), PageContent(text=f"page {page}", fingerprint=f"fp{page}", statements=statements))
        assert outcome.outcome == "new" and outcome.snapshot_id is not None
        stored.append((statements, outcome.snapshot_id))
    with sessions.begin() as session:
        for statements, snapshot_id in stored:
            back = snapshot_statements(session, snapshot_id)
            assert [(s.attributes, s.matched) for s in back] == [(s.attributes, s.matched) for s in statements]
            # equal in Python is not enough: True must not come back as 1, nor 1.0 as 1
            assert [[type(v) for v in s.attributes.values()] for s in back] == \
                [[type(v) for v in s.attributes.values()] for s in statements]

"""The statements of a snapshot are stored exactly as extracted, on SQLite and PostgreSQL.

The store hands a new snapshot's statement rows to the driver encoded ahead of the page's transaction
(``monitor.page_repository.StatementInsert``, JSON included): values that compare equal in Python but are
not the same JSON (1, 1.0, True, "1") must each keep their own, and rows encoded for another database are
encoded again.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import sqlite

from monitor.models import Site, Snapshot, StatementRow
from monitor.sites import upsert_sites
from monitor.statements import Statement
from monitor.store import FetchResult, PageContent, load_body, prepare_content, snapshot_statements, store_page
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


@pytest.mark.parametrize("prepared", ["no", "yes", "for-sqlite"],
                         ids=["in-transaction", "prepared-before", "prepared-for-sqlite"])
def test_statement_attributes_and_matched_phrases_come_back_exactly(sessions, prepared: str) -> None:
    # the page workers prepare a new snapshot's rows before taking the write lock (prepare_content)
    with sessions.begin() as session:
        upsert_sites(session, [SiteSpec("shop", ("http://127.0.0.1:1/",))])
        site_id = session.scalars(select(Site.id)).one()
    stored = []
    for page in range(3):  # the same values again on later pages: remembered encodings are reused
        statements = _statements(TRICKY if page != 1 else list(reversed(TRICKY)))
        body = f"<p>page {page}</p>".encode()
        content = PageContent(text=f"page {page}", fingerprint=f"fp{page}", statements=statements)
        if prepared != "no":
            dialect = sqlite.dialect() if prepared == "for-sqlite" else sessions.kw["bind"].dialect
            prepare_content(content, body, dialect)
            assert content.prepared is not None and content.prepared.statement_rows
        with sessions.begin() as session:
            outcome = store_page(session, FetchResult(
                site_id=site_id, run_id=None, url=f"http://127.0.0.1:1/p{page}.html",
                fetched_at=datetime(2026, 1, 1, tzinfo=UTC), status=200, content_type="text/html",
                body=body, sha256=f"{page:064x}",
            ), content)
        assert outcome.outcome == "new" and outcome.snapshot_id is not None
        stored.append((statements, outcome.snapshot_id, body, page))
    with sessions.begin() as session:
        for statements, snapshot_id, body, page in stored:
            assert load_body(session, f"{page:064x}") == body
            back = snapshot_statements(session, snapshot_id)
            assert [s.position for s in back] == list(range(len(statements)))
            assert all(row.snapshot_id == snapshot_id for row in session.scalars(
                select(StatementRow).where(StatementRow.snapshot_id == snapshot_id)))
            assert [(s.attributes, s.matched) for s in back] == [(s.attributes, s.matched) for s in statements]
            # equal in Python is not enough: True must not come back as 1, nor 1.0 as 1
            assert [[type(v) for v in s.attributes.values()] for s in back] == \
                [[type(v) for v in s.attributes.values()] for s in statements]


def test_a_snapshots_text_is_stored_whether_prepared_or_not(sessions) -> None:
    from monitor.compression import decompress

    with sessions.begin() as session:
        upsert_sites(session, [SiteSpec("shop", ("http://127.0.0.1:1/",))])
        site_id = session.scalars(select(Site.id)).one()
    for page, prepared in enumerate((False, True)):
        content = PageContent(text=f"90-day money-back guarantee {page}", fingerprint=f"fp{page}",
                              statements=_statements([{}]))
        if prepared:
            prepare_content(content, b"<p>x</p>", sessions.kw["bind"].dialect)
        with sessions.begin() as session:
            outcome = store_page(session, FetchResult(
                site_id=site_id, run_id=None, url=f"http://127.0.0.1:1/t{page}.html",
                fetched_at=datetime(2026, 1, 1, tzinfo=UTC), status=200, body=b"<p>x</p>"), content)
        with sessions.begin() as session:
            snapshot = session.get(Snapshot, outcome.snapshot_id)
            assert snapshot is not None and decompress(snapshot.text_z).decode() == content.text


def test_the_crawls_store_goes_on_after_its_connection_is_dropped(migrated, tmp_path) -> None:
    # the crawl's storage thread keeps one connection for the crawl: when the server drops it (a PostgreSQL
    # restart, an idle timeout), the next page is stored on a new one, and nothing is lost or stored twice
    import dataclasses

    from crawlkit import shop_database, shop_page

    from crawler.items import PageItem
    from monitor.config import load_settings
    from monitor.crawlplan import CrawlPlan
    from monitor.models import Fetch
    from pipelines.services import PageServices
    from pipelines.store import StorePipeline

    engine, sessions, site_id = shop_database(migrated)
    settings = dataclasses.replace(load_settings({"CLAIMWATCH_DATA": str(tmp_path)}, db_url=migrated),
                                   crawl_workers=0)
    services = PageServices(settings)
    plan = CrawlPlan(site="shop", site_id=site_id, run_id=0, start_urls=["http://127.0.0.1:1/"], allow=[],
                     max_pages=10, render_js=False)
    store = StorePipeline(services, plan)

    def page(number: int) -> PageItem:
        item = shop_page(f"p{number}.html", text=f"Supports healthy joints {number}.*")
        item.sha256 = f"{number:064x}"
        item.content = PageContent(text=f"page {number}", fingerprint=f"fp{number}", statements=_statements([{}]))
        return item

    def drop() -> None:  # on the storage thread, as the store itself
        connection = services.connection()
        if engine.dialect.name == "postgresql":
            backend = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            connection.rollback()
            with engine.connect() as other:
                assert other.exec_driver_sql(f"SELECT pg_terminate_backend({int(backend)})").scalar()
        else:
            connection.connection.driver_connection.close()  # type: ignore[union-attr]

    try:
        assert services.io.submit(store.store, page(1)).result().outcome == "new"
        services.io.submit(drop).result()
        assert services.io.submit(store.store, page(2)).result().outcome == "new"
        assert services.io.submit(store.store, page(3)).result().outcome == "new"
    finally:
        services.close()
    with sessions.begin() as session:
        page_ids = list(session.scalars(select(Fetch.page_id)))
        assert len(page_ids) == 3 and len(set(page_ids)) == 3
    engine.dispose()


def test_every_compressed_value_is_a_frame_of_its_own_from_any_thread() -> None:
    # one compressor is kept per thread: each stored body or text must still decompress alone, in any
    # order, however many threads compress at once (the daemon runs crawls in threads)
    import random
    import threading
    import zlib

    from monitor.compression import compress, decompress

    rng = random.Random(7)
    inputs = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 3000))) * rng.randrange(1, 20)
              for _ in range(40)] + [b"", b"90-day money-back guarantee"]
    results: dict[int, bytes] = {}

    def work(offset: int) -> None:
        for index in range(offset, len(inputs), 4):
            results[index] = compress(inputs[index])

    threads = [threading.Thread(target=work, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index in rng.sample(range(len(inputs)), len(inputs)):
        assert decompress(results[index]) == inputs[index]
    assert decompress(zlib.compress(b"stored before zstd")) == b"stored before zstd"

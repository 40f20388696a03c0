"""Store throughput: milliseconds per page for ``monitor.store.store_page`` on SQLite, by path.

Each page is stored the way a page worker stores it (``pipelines/store.py``): one connection for the whole
run, one transaction per page with a Session joined to it, a new snapshot's rows made before the
transaction (``prepare_content``, timed apart). The pages are bench-sized: a ~50 KB body, ~15 KB of text,
65 statements (a third with attributes). Paths, each over the same N pages, in this order:

- new: a first crawl (page, fetch, body, snapshot, statements);
- same body: a re-crawl that got the same bytes (the chain analyses nothing: ``content`` None);
- same text: new bytes, the same noise-free fingerprint (only a fingerprint to compare);
- 304: a conditional request answered Not Modified;
- changed: two statements reworded (the previous snapshot's statements loaded, a diff, change rows);

and a snapshot's 65 statement rows alone, inserted with Core's executemany ("rows: Core") and the way the
store inserts them ("rows: kept", ``monitor.page_repository.StatementInsert``), "prepare" being then the
CPU time of encoding the rows.

    python bench/store.py [--pages 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Connection, Engine, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from monitor.db import make_engine, upgrade  # noqa: E402
from monitor.models import Site, Snapshot  # noqa: E402
from monitor.sites import upsert_sites  # noqa: E402
from monitor.statements import Statement  # noqa: E402
from monitor.store import FetchResult, PageContent, StoreRules, prepare_content, sha256_hex, store_page  # noqa: E402
from monitor.watchlist import SiteSpec  # noqa: E402

STATEMENTS = 65
WORDS = ("supports", "healthy", "restful", "sleep", "joints", "energy", "focus", "calm", "muscles", "heart", "immune",
         "daily", "balance", "comfort", "natural", "formula", "blend", "magnesium", "turmeric", "zinc", "elderberry",
         "capsules", "customers", "morning", "evening")
KINDS = (("claim", "structure_function"), ("claim", "efficacy"), ("claim", "testimonial"),
         ("guarantee", "money_back"), ("disclaimer", "fda"), ("claim", "disease"))


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randrange(8, 16))).capitalize() + "."


def _statements(rng: random.Random, page: int) -> list[Statement]:
    out = []
    for position in range(STATEMENTS):
        kind, type_ = KINDS[position % len(KINDS)]
        text = f"{_sentence(rng)} ({page}.{position})"
        attributes: dict[str, Any] = {}
        if kind == "guarantee":
            attributes = {"days": rng.choice((30, 60, 90)), "refund": "full"}
        elif type_ == "disease":
            attributes = {"terms": ["arthritis"]}
        out.append(Statement(kind, type_, text, text.lower(), severity="medium", attributes=attributes,
                             position=position, rule=f"{kind}.{type_}", matched=(rng.choice(WORDS),)))
    return out


class Pages:
    """The bench's pages: body, text and statements of each, made once."""

    def __init__(self, count: int) -> None:
        rng = random.Random(16)
        self.urls = [f"http://shop.example/products/p{n}.html" for n in range(count)]
        self.statements = [_statements(rng, n) for n in range(count)]
        self.texts = ["\n".join([s.text for s in statements] + [_sentence(rng) for _ in range(100)])
                      for statements in self.statements]
        self.bodies = [(f"<html><body><main>{text}</main>" + "<!-- markup -->" * 2200 + "</body></html>").encode()
                       for text in self.texts]
        self.shas = [sha256_hex(body) for body in self.bodies]


def _store(connection: Connection, result: FetchResult, content: PageContent | None, rules: StoreRules) -> str:
    """One page's transaction, as a page worker runs it."""
    transaction = connection.begin()
    session = Session(bind=connection, expire_on_commit=False, autoflush=False)
    try:
        outcome = store_page(session, result, content, rules)
        session.flush()
        transaction.commit()
    except BaseException:
        transaction.rollback()
        raise
    finally:
        session.close()
    return outcome.outcome


def run(count: int) -> dict[str, tuple[float, float, float]]:
    """Store ``count`` pages down every path once; ms/page by path: the store's wall-clock and CPU time, and
    the preparation's (wall-clock) time."""
    pages = Pages(count)
    rules = StoreRules()
    figures: dict[str, tuple[float, float, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        upgrade(engine)
        with Session(engine) as session, session.begin():
            upsert_sites(session, [SiteSpec("bench", ("http://shop.example/",))])
        with Session(engine) as session:
            site_id = session.scalars(select(Site.id)).one()
        start = datetime(2026, 12, 1, tzinfo=UTC)

        def path(name: str, expected: str, day: int,
                 make: Callable[[int, datetime], tuple[FetchResult, PageContent | None]]) -> None:
            at = start + timedelta(days=day)
            made = [make(n, at) for n in range(count)]
            prepared = time.perf_counter()
            for result, content in made:
                if content is not None and content.statements is not None:
                    prepare_content(content, result.body, engine.dialect)
            stored, cpu = time.perf_counter(), time.process_time()
            with engine.connect() as connection:
                outcomes = {_store(connection, result, content, rules) for result, content in made}
            done, cpu = time.perf_counter(), time.process_time() - cpu
            assert outcomes == {expected}, (name, outcomes)
            figures[name] = ((done - stored) * 1000 / count, cpu * 1000 / count, (stored - prepared) * 1000 / count)

        def fetch(n: int, at: datetime, body: bytes | None, **fields: Any) -> FetchResult:
            return FetchResult(site_id=site_id, run_id=None, url=pages.urls[n], fetched_at=at, status=200,
                               content_type="text/html", body=body, sha256=sha256_hex(body) if body else None,
                               elapsed_ms=12, etag=None, **fields)

        def first(n: int, at: datetime) -> tuple[FetchResult, PageContent | None]:
            return fetch(n, at, pages.bodies[n]), PageContent(
                text=pages.texts[n], fingerprint=f"fp{n}", statements=pages.statements[n])

        def same_body(n: int, at: datetime) -> tuple[FetchResult, PageContent | None]:
            return fetch(n, at, pages.bodies[n]), None

        def same_text(n: int, at: datetime) -> tuple[FetchResult, PageContent | None]:
            return fetch(n, at, pages.bodies[n] + b"<!-- a new nonce -->"), PageContent(
                text=pages.texts[n], fingerprint=f"fp{n}")

        def not_modified(n: int, at: datetime) -> tuple[FetchResult, PageContent | None]:
            result = fetch(n, at, None, not_modified=True)
            result.status = 304
            return result, None

        def changed(n: int, at: datetime) -> tuple[FetchResult, PageContent | None]:
            statements = list(pages.statements[n])
            for index in (3, 40):
                old = statements[index]
                text = old.text.replace(".", ", now with more zinc.", 1)
                statements[index] = Statement(old.kind, old.type, text, text.lower(), old.severity, old.attributes,
                                              old.position, old.rule, old.matched)
            body = pages.bodies[n] + b"<p>changed</p>"
            return fetch(n, at, body), PageContent(text=pages.texts[n] + "\nchanged", fingerprint=f"fp{n}b",
                                                   statements=statements)

        path("new", "new", 0, first)
        path("same body", "unchanged", 1, same_body)
        path("same text", "unchanged", 2, same_text)
        path("304", "not_modified", 3, not_modified)
        path("changed", "changed", 4, changed)
        figures.update(statement_rows(engine, pages))
        engine.dispose()
    return figures


def statement_rows(engine: Engine, pages: Pages) -> dict[str, tuple[float, float, float]]:
    """A snapshot's statement rows inserted the standard way (Core executemany, SQLAlchemy's JSON
    processing) and the way the store does (``StatementInsert``: encoded beforehand, one driver call), each
    page's rows in a transaction rolled back; the CPU time of the insert, and of the encoding apart."""
    try:
        from monitor.page_repository import statement_insert
    except ImportError:  # the code before issue 16 had no StatementInsert
        return {}
    from monitor.store import insert_statements, statement_rows

    with engine.connect() as connection:
        snapshot_id = connection.execute(select(Snapshot.id).limit(1)).scalar_one()
    core = insert_statements()
    fast = statement_insert(engine.dialect)
    figures: dict[str, tuple[float, float, float]] = {}
    for name, encode, insert in (
        ("rows: Core", lambda s: statement_rows(snapshot_id, s),
         lambda c, rows: c.execute(core, rows)),
        ("rows: kept", fast.encode, lambda c, rows: fast.run(c, rows, snapshot_id)),
    ):
        encoding = time.process_time()
        encoded = [encode(statements) for statements in pages.statements]
        encoding = time.process_time() - encoding
        with engine.connect() as connection:
            wall, cpu = time.perf_counter(), time.process_time()
            for rows in encoded:
                with connection.begin() as transaction:
                    insert(connection, rows)
                    transaction.rollback()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        count = len(encoded)
        figures[name] = (wall * 1000 / count, cpu * 1000 / count, encoding * 1000 / count)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = [run(args.pages) for _ in range(args.repeat)]
    print(f"{args.pages} pages, SQLite, ms/page, median of {args.repeat} runs (the store's CPU time of each run "
          "in brackets)")
    print(f"{'path':<10} {'store':>8} {'store CPU':>10} {'prepare':>8}")
    for name in runs[0]:
        walls, cpus, prepares = ([figures[name][index] for figures in runs] for index in range(3))
        shown = ", ".join(f"{value:.3f}" for value in cpus)
        print(f"{name:<10} {statistics.median(walls):>8.3f} {statistics.median(cpus):>10.3f} "
              f"{statistics.median(prepares):>8.3f}   [{shown}]")


if __name__ == "__main__":
    main()

"""Web app speed on a large database: 200 sellers, 5,000 pages, 100,000 statements (two versions of every
page, ten statements each), 20,000 changes and 1,000 page events in PostgreSQL; the inbox and searches
answered through the real app (its test client: query, rendering, headers), each timed several times.

    CLAIMWATCH_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1/postgres python bench/webapp.py

Prints the median and the slowest of each request (target: under 300 ms). Not a test.
"""

from __future__ import annotations

import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from monitor.compression import compress
from monitor.config import load_settings
from monitor.db import make_engine, make_session_factory, upgrade
from monitor.models import Change, Event, Fetch, Page, Site, Snapshot, StatementRow
from monitor.web import users
from monitor.web.app import create_app

SELLERS, PAGES_PER_SELLER, VERSIONS, STATEMENTS = 200, 25, 2, 10
CHANGES_PER_PAGE, EVENTS = 4, 1000
RUNS = 7
DISEASES = ("arthritis", "diabetes", "insomnia", "anxiety", "hypertension", "eczema", "migraine", "obesity")
VERBS = ("supports", "helps relieve", "cures", "reverses", "soothes", "promotes", "boosts", "eases")
THINGS = ("healthy joints", "restful sleep", "calm focus", "daily energy", "immune defence", "clear skin")
KINDS = (("claim", "structure_function"), ("claim", "disease"), ("guarantee", "money_back"), ("disclaimer", "fda"),
         ("claim", "testimonial"), ("claim", "clinical"))


def sentence(rng: random.Random) -> tuple[str, str, str]:
    kind, type_ = rng.choice(KINDS)
    if type_ == "disease":
        words = f"{rng.choice(VERBS).capitalize()} {rng.choice(DISEASES)} in {rng.randint(2, 90)} days"
    elif type_ == "money_back":
        words = f"{rng.randint(14, 365)}-day money-back guarantee, {rng.choice(('full refund', 'less shipping'))}"
    elif type_ == "fda":
        words = "These statements have not been evaluated by the Food and Drug Administration"
    else:
        mineral = rng.choice(("zinc", "magnesium", "turmeric"))
        words = f"{rng.choice(VERBS).capitalize()} {rng.choice(THINGS)} with {mineral}"
    return kind, type_, f"{words} #{rng.randint(1, 10**6)}."


def populate(db_url: str) -> None:
    rng = random.Random(17)
    engine = make_engine(db_url)
    upgrade(engine)
    now = datetime.now(UTC)
    empty = compress(b"")
    sites, pages, fetches, snapshots, statements, changes, events = [], [], [], [], [], [], []
    page_id = fetch_id = snapshot_id = statement_id = change_id = 0
    for s in range(1, SELLERS + 1):
        sites.append({"id": s, "name": f"seller-{s:03d}", "start_urls": [f"https://seller-{s}.example/"], "allow": [],
                      "max_pages": 50, "schedule": "0 6 * * *", "render_js": False, "recipients": [],
                      "enabled": True, "hosts": [], "created_at": now, "updated_at": now})
        for _p in range(PAGES_PER_SELLER):
            page_id += 1
            versions = []
            for v in range(VERSIONS):
                when = now - timedelta(days=60 * (VERSIONS - v), minutes=rng.randint(0, 10**4))
                fetch_id += 1
                snapshot_id += 1
                fetches.append({"id": fetch_id, "page_id": page_id, "fetched_at": when, "status": 200,
                                "outcome": "changed", "sha256": uuid.uuid4().hex * 2})
                snapshots.append({"id": snapshot_id, "page_id": page_id, "fetch_id": fetch_id, "created_at": when,
                                  "fingerprint": "f" * 64, "statements_hash": "h" * 64, "text_z": empty,
                                  "extractor_version": "bench", "findings": []})
                for position in range(STATEMENTS):
                    statement_id += 1
                    kind, type_, words = sentence(rng)
                    statements.append({"id": statement_id, "snapshot_id": snapshot_id, "position": position,
                                       "kind": kind, "type": type_, "text": words, "key": words.lower(),
                                       "attributes": {}, "severity": rng.choice(("low", "medium", "high")),
                                       "rule": "", "matched": []})
                versions.append((snapshot_id, when))
            pages.append({"id": page_id, "site_id": s, "url": f"https://seller-{s}.example/p/{page_id}",
                          "state": "active", "first_seen": versions[0][1], "last_seen": now,
                          "current_snapshot_id": versions[-1][0], "failures": 0, "gone_count": 0, "outage_seen": 0})
            for _c in range(CHANGES_PER_PAGE):
                change_id += 1
                kind, type_, words = sentence(rng)
                changes.append({"id": change_id, "page_id": page_id, "site_id": s, "before_snapshot_id": versions[0][0],
                                "after_snapshot_id": versions[-1][0], "change": "added", "kind": kind, "type": type_,
                                "after": words, "severity": rng.choice(("info", "low", "medium", "high")),
                                "delta": {}, "inline": [], "detected_at": versions[-1][1]})
    for e in range(1, EVENTS + 1):
        events.append({"id": e, "page_id": rng.randint(1, page_id), "site_id": 1, "event": "gone", "detail": "404",
                       "at": now - timedelta(minutes=e)})
    for event in events:
        event["site_id"] = (event["page_id"] - 1) // PAGES_PER_SELLER + 1
    with make_session_factory(engine).begin() as session:
        session.execute(insert(Site), sites)
        pages_without_snapshot = [{**page, "current_snapshot_id": None} for page in pages]
        session.execute(insert(Page), pages_without_snapshot)
        for model, rows in ((Fetch, fetches), (Snapshot, snapshots), (StatementRow, statements), (Change, changes),
                            (Event, events)):
            for start in range(0, len(rows), 5000):
                session.execute(insert(model), rows[start:start + 5000])
        session.execute(text("UPDATE page SET current_snapshot_id = (SELECT max(id) FROM snapshot "
                             "WHERE snapshot.page_id = page.id)"))
        users.HASHER_OPTIONS.update(time_cost=1, memory_cost=1024, parallelism=1)
        users.add_user(session, "bench", "bench password 123", "analyst", actor="bench")
    with engine.begin() as connection:
        for table in ("site", "page", "fetch", "snapshot", "statement", "change", "event"):
            connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                    f'(SELECT max(id) FROM "{table}"))'))
        connection.execute(text("ANALYZE"))
    engine.dispose()
    print(f"{SELLERS} sellers, {page_id} pages, {statement_id} statements, {change_id} changes, {EVENTS} events",
          file=sys.stderr)


def timed(client, path: str) -> tuple[float, float, int]:
    times = []
    size = 0
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
        size = len(response.data)
    return statistics.median(times), max(times), size


def main() -> None:
    base = os.environ.get("CLAIMWATCH_BENCH_PG_URL") or os.environ.get("CLAIMWATCH_TEST_PG_URL")
    if not base:
        sys.exit("set CLAIMWATCH_BENCH_PG_URL (e.g. postgresql+psycopg://postgres@127.0.0.1/postgres)")
    url = make_url(base).set(drivername="postgresql+psycopg")
    name = f"cw_bench_web_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    db_url = url.set(database=name).render_as_string(hide_password=False)
    try:
        started = time.perf_counter()
        populate(db_url)
        print(f"populated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        with tempfile.TemporaryDirectory() as folder:
            settings = load_settings({"CLAIMWATCH_DATA": folder, "CLAIMWATCH_SECRET_KEY": "b" * 48}, db_url=db_url)
            app = create_app(settings)
            client = app.test_client()
            page = client.get("/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            client.post("/login", data={"name": "bench", "password": "bench password 123", "csrf_token": token})
            print(f"{'request':<58} {'median':>8} {'slowest':>8} {'bytes':>8}")
            for path in ("/inbox", "/inbox?severity=high", "/inbox?site=seller-100", "/inbox?page=40",
                         "/inbox?kind=claim&type=disease&state=all",
                         "/search?q=arthritis", "/search?q=cures+arthritis",
                         "/search?q=arthritis&type=disease&site=seller-007",
                         "/search?q=money+back+guarantee&since=2020-01-01", "/sellers/seller-042", "/pages/2500"):
                median, slowest, size = timed(client, path)
                mark = "" if median < 300 else "  (over 300 ms)"
                print(f"{path:<58} {median:7.0f}ms {slowest:7.0f}ms {size:8d}{mark}")
            app.extensions["claimwatch"].close()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()

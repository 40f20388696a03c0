"""`claimwatch demo`: the whole loop, offline, on the bundled example sellers.

Serve version 1 of three invented shops on 127.0.0.1, crawl them into a fresh SQLite database, switch the
server to version 2 (a guarantee cut, an FDA disclaimer removed, a disease claim added, plus noise), crawl
again, and write what changed.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Settings
from monitor.crawl import RunSummary, crawl_sites
from monitor.db import make_engine, make_session_factory, upgrade
from monitor.export import changes_table, export_pages, query_changes
from monitor.sites import upsert_sites
from monitor.siteserver import SiteServer
from monitor.watchlist import parse_watchlist

DEMO_SITES = Path(__file__).resolve().parent / "demo_sites"


@dataclass
class DemoResult:
    folder: Path
    db_url: str
    rounds: list[list[RunSummary]] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    changes: int = 0
    events: int = 0
    seconds: float = 0.0
    table: str = ""


def demo_watchlist(base_url: str) -> str:
    return (DEMO_SITES / "watchlist.yaml").read_text(encoding="utf-8").replace("{base}", base_url)


def run_demo(folder: Path, settings: Settings, say: Callable[[str], None] = print) -> DemoResult:
    """Run the demo in ``folder`` (its database and data are recreated) and return what it made."""
    started = time.monotonic()
    folder = folder.resolve()
    if folder.exists():
        for name in ("claimwatch-demo.db", "claimwatch-demo.db-wal", "claimwatch-demo.db-shm"):
            (folder / name).unlink(missing_ok=True)
        shutil.rmtree(folder / "data", ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{folder / 'claimwatch-demo.db'}"
    from dataclasses import replace

    settings = replace(settings, db_url=db_url, data_dir=folder / "data")
    engine = make_engine(db_url)
    result = DemoResult(folder, db_url)
    try:
        upgrade(engine)
        sessions = make_session_factory(engine)
        with SiteServer(DEMO_SITES / "v1", validators=True, noise=True) as server:
            specs = parse_watchlist(demo_watchlist(server.url), "demo watchlist")
            with sessions.begin() as session:
                upsert_sites(session, specs)
            names = [spec.name for spec in specs]
            say(f"serving {len(names)} example sellers (version 1) at {server.url}")
            result.rounds.append(crawl_sites(sessions, settings, names, parallel=3))
            for summary in result.rounds[-1]:
                say("  " + summary.line())
            server.set_root(DEMO_SITES / "v2")
            say("the sellers changed their pages (version 2); crawling again")
            result.rounds.append(crawl_sites(sessions, settings, names, parallel=3))
            for summary in result.rounds[-1]:
                say("  " + summary.line())
        with sessions.begin() as session:
            pages = export_pages(session)
            changes = query_changes(session)
        result.changes, result.events = len(changes["changes"]), len(changes["events"])
        result.table = changes_table(changes)
        result.files["export"] = folder / "export.json"
        result.files["export"].write_text(json.dumps(pages, indent=2, ensure_ascii=False), encoding="utf-8")
        result.files["changes"] = folder / "changes.json"
        result.files["changes"].write_text(json.dumps(changes, indent=2, ensure_ascii=False), encoding="utf-8")
        result.files.update(_write_reports(sessions, settings, folder))
    finally:
        engine.dispose()
    say(f"web app: claimwatch --db {db_url} users add ME --role admin, then claimwatch --db {db_url} serve")
    result.seconds = time.monotonic() - started
    return result


def _write_reports(sessions: sessionmaker[Session], settings: Settings, folder: Path) -> dict[str, Path]:
    """The demo's report as HTML and .eml, once report rendering is available."""
    try:
        from monitor.demo_report import write_demo_reports
    except ImportError:
        return {}
    return write_demo_reports(sessions, settings, folder)

"""Noise soak: 20 re-crawls of a 200-page noisy site must record 0 changes (and 0 new snapshots).

Generates a 200-page seller site (bench/sitegen.py: timestamps, CSRF tokens, stock and viewer counters,
prices and shuffled review carousels on every page), serves it WITHOUT validators (so every response is a
full, freshly noised body), crawls it once as the baseline, then re-crawls it N times with real
`claimwatch` crawls into SQLite, and prints the changes, snapshots and bodies each round added.

    python bench/noise_soak.py [--pages 200] [--rounds 20]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sitegen import generate_site  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from monitor.config import load_settings  # noqa: E402
from monitor.crawl import crawl_sites  # noqa: E402
from monitor.db import make_engine, make_session_factory, upgrade  # noqa: E402
from monitor.models import Body, Change, Fetch, Snapshot  # noqa: E402
from monitor.sites import upsert_sites  # noqa: E402
from monitor.siteserver import SiteServer  # noqa: E402
from monitor.watchlist import SiteSpec  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="claimwatch-soak-"))
    try:
        paths = generate_site(work / "site", args.pages, seed=7)
        settings = replace(load_settings(), db_url=f"sqlite:///{work / 'soak.db'}", data_dir=work / "data")
        engine = make_engine(settings.db_url)
        upgrade(engine)
        sessions = make_session_factory(engine)

        def count(model: type) -> int:
            with sessions() as session:
                return int(session.scalar(select(func.count()).select_from(model)) or 0)

        with SiteServer(work / "site", validators=False, noise=True) as server:
            with sessions.begin() as session:
                upsert_sites(session, [SiteSpec("soak", (f"{server.url}/shop/",), ("/shop/",),
                                                max_pages=len(paths) + 10)])
            started = time.perf_counter()
            baseline = crawl_sites(sessions, settings, ["soak"])[0]
            print(f"baseline: {baseline.pages} pages, {count(Snapshot)} snapshots, "
                  f"{time.perf_counter() - started:.1f} s")
            base_changes, base_snapshots, base_bodies = count(Change), count(Snapshot), count(Body)
            for round_number in range(1, args.rounds + 1):
                started = time.perf_counter()
                summary = crawl_sites(sessions, settings, ["soak"])[0]
                if summary.status != "finished":
                    raise SystemExit(f"round {round_number} failed: {summary.line()}")
                print(f"round {round_number:>2}: {summary.pages} pages in {time.perf_counter() - started:5.1f} s, "
                      f"+{count(Change) - base_changes} changes, +{count(Snapshot) - base_snapshots} snapshots, "
                      f"+{count(Body) - base_bodies} bodies (cumulative)")
        changes, snapshots = count(Change) - base_changes, count(Snapshot) - base_snapshots
        print(f"\nnoise soak: {args.rounds} re-crawls of {len(paths)} noisy pages ({count(Fetch)} fetches): "
              f"{changes} changes, {snapshots} new snapshots (target 0)")
        engine.dispose()
        return 0 if changes == 0 and snapshots == 0 else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

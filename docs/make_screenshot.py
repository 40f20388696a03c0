"""Make docs/report-example.png: the example digest (tests/report_fixtures.py) rendered in headless Chromium.

Usage (from the repository root):

    python docs/make_screenshot.py [--chromium /usr/bin/chromium] [--out docs/report-example.png]

It builds a throw-away SQLite database with three invented sellers and a day of changes, renders the
digest exactly as it is mailed (CSS inlined), and screenshots the HTML part with the same flags as
tests/test_report_screenshot.py. Nothing touches the network.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from report_fixtures import make_database, populate_example  # noqa: E402

from monitor.report import build_report, render_report  # noqa: E402

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars")
# A fixed moment, so the screenshot does not change with the day it is made.
MOMENT = datetime(2026, 5, 4, 7, 0, tzinfo=UTC)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report-example.png")
    parser.add_argument("--size", default="740,1900", help="window WIDTH,HEIGHT in CSS pixels")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="claimwatch-shot-") as folder:
        work = Path(folder)
        sessions = make_database(work / "example.db")
        with sessions.begin() as session:
            example = populate_example(session, MOMENT)
        with sessions() as session:
            html = render_report(build_report(session, since=example.since, until=MOMENT)).html
        page = work / "report.html"
        page.write_text(html, encoding="utf-8")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        command = [args.chromium, *FLAGS, f"--user-data-dir={work / 'profile'}",
                   f"--screenshot={args.out.resolve()}", f"--window-size={args.size}", page.as_uri()]
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

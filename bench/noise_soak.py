"""Noise soak (scaffolding): 20 re-renderings of a 200-page noisy site must record 0 changes.

This version is crawler-free: it renders the noise fixture pages (tests/sites/changes/noise_*) through
``SiteServer._render`` (fresh timestamps, tokens, counters, prices and shuffles on every call), then runs
normalisation, the content fingerprint, extraction and the statement diff, and counts what would be
recorded. TODO(lead): swap ``render_site`` for a real ``claimwatch crawl`` of the served site into a
database and count rows in ``change`` / ``snapshot``.

    python bench/noise_soak.py [--pages 200] [--rounds 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.diff import diff_statements  # noqa: E402
from monitor.extract import extract_statements  # noqa: E402
from monitor.noise import content_fingerprint  # noqa: E402
from monitor.normalize import html_to_blocks  # noqa: E402
from monitor.siteserver import SiteServer  # noqa: E402

CASES = ("noise_timestamps", "noise_tokens_counters", "noise_carousel")


def site_pages(count: int) -> list[bytes]:
    """``count`` distinct noisy pages: the noise fixtures, each copy numbered in its title and heading."""
    folder = ROOT / "tests" / "sites" / "changes"
    templates = [(folder / case / "v1" / "index.html").read_bytes() for case in CASES]
    pages = []
    for number in range(count):
        html = templates[number % len(templates)]
        html = html.replace(b"<h1>RestWell", b"<h1>RestWell No. %d" % number, 1)
        pages.append(html.replace(b"<title>", b"<title>Item %d " % number, 1))
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    server = SiteServer(ROOT / "tests" / "sites" / "changes", noise=True, seed=11)
    pages = site_pages(args.pages)
    previous: list[tuple[str, list]] = []
    snapshots = changes = 0
    start = time.perf_counter()
    for round_number in range(args.rounds):
        current = []
        for raw in pages:
            blocks = html_to_blocks(server._render(raw))
            current.append((content_fingerprint(blocks), extract_statements(blocks)))
        if round_number:
            for (old_fp, old_statements), (new_fp, new_statements) in zip(previous, current, strict=True):
                snapshots += old_fp != new_fp
                changes += len(diff_statements(old_statements, new_statements))
        previous = current
    elapsed = time.perf_counter() - start
    print(f"noise soak: {args.pages} pages x {args.rounds} renderings in {elapsed:.1f}s: "
          f"{snapshots} new snapshots, {changes} changes (both must be 0)")
    return 0 if snapshots == changes == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

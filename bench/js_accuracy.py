"""Extraction on JavaScript-built pages: statements that only a script writes into the DOM.

Run: ``python bench/js_accuracy.py [--split test|train|all]`` (needs Debian's chromium)

Each blind page (the test split by default, every house style) is turned into a page whose body is empty
until a script fills it (``innerHTML`` from a JSON string, as a client-rendered shop
does), served on 127.0.0.1, rendered in Chromium through Playwright with the same launch options as
claimwatch's render_js crawls, and the rendered DOM analysed like any page. Prints the scores of the
rendered pages beside those of the original static HTML (the same statements, so the same scores are the
goal) and of the unrendered JavaScript page (what a crawl without render_js sees).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

from scoring import Scores, all_pages, score

from monitor.extract.corpus import LabelledPage
from monitor.normalize import html_to_blocks
from monitor.screenshots import chromium_launch_options
from monitor.siteserver import SiteServer

_BODY = re.compile(r"(<body[^>]*>)(.*)(</body>)", re.IGNORECASE | re.DOTALL)


def js_version(html: str) -> str:
    """The same page with an empty body that a script fills in."""
    match = _BODY.search(html)
    if not match:
        raise ValueError("no <body>")
    inner = json.dumps(match.group(2)).replace("</", "<\\/")
    script = f'<div id="app"></div><script>document.getElementById("app").innerHTML = {inner};</script>'
    return html[: match.start(2)] + script + html[match.end(2) :]


def _line(name: str, scores: Scores) -> str:
    p, r, f = scores.kinds.prf()
    return f"{name:22s} P {p:.3f}  R {r:.3f}  F1 {f:.3f}  claim recall {scores.claim_recall:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["test", "train", "all"], default="test")
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        print("Debian's chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    pages = [p for p in all_pages(seeds=False)
             if p.source == "blind" and (args.split == "all" or p.split == args.split)]
    from playwright.sync_api import sync_playwright

    rendered: list[LabelledPage] = []
    unrendered: list[LabelledPage] = []
    with tempfile.TemporaryDirectory() as folder, SiteServer(Path(folder)) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(**chromium_launch_options(chromium))
        for page in pages:
            built = js_version(page.html)
            (Path(folder) / f"{page.name}.html").write_text(built, encoding="utf-8")
            tab = browser.new_page()
            tab.goto(f"{server.url}/{page.name}.html", wait_until="load")
            dom = tab.content()
            tab.close()
            rendered.append(LabelledPage(page.name, page.source, page.split, html_to_blocks(dom), page.gold,
                                         page.ignore, dom, page.meta))
            unrendered.append(LabelledPage(page.name, page.source, page.split, html_to_blocks(built), page.gold,
                                           page.ignore, built, page.meta))
        browser.close()
    print(f"{len(pages)} blind {args.split} pages built by JavaScript, "
          f"{sum(len(p.gold) for p in pages)} labels")
    print(_line("static HTML", score(pages)))
    print(_line("rendered in Chromium", score(rendered)))
    print(_line("JS page, not rendered", score(unrendered)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Extraction throughput: normalise + extract ~50 KB pages on one core.

Run: ``python bench/extract.py [--pages N] [--size KB] [--source corpus|seeds|shop] [--rounds N]``

Pages are built by concatenating the bodies of the corpus pages (tests/corpus/pages/) in rotating
order until each is about ``--size`` KB of HTML, so every page is different and realistic (nav,
scripts, testimonials, footers), though far denser in statements than real pages. Prints pages/s
(CPU time of this process) for normalisation, for extraction with the classification cache cleared
before every page ("cold": the honest worst case) and with it kept ("warm": a crawl of one site,
whose pages share templates; the bench pages share all their sentences, so this is the best case), and for
``analyse_page`` cold (the page's product names from its head too: what the crawl runs for every page).
Target: >= 100 pages/s end to end (the crawl hot path must keep ~130 pages/s overall). Also prints how long
the statement model takes to load in a fresh process (target: under 2 s).
"""

from __future__ import annotations

import argparse
import html
import re
import subprocess
import sys
import time
from pathlib import Path

from monitor.extract import analyse_page, extract_statements, page_findings
from monitor.extract import clear_caches as clear_cache
from monitor.normalize import html_to_blocks

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "pages"
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL | re.IGNORECASE)


def _seed_bodies() -> list[str]:
    """The seed pages (plain text, ../shared/seeds/) as HTML paragraphs: real editorial density."""
    seeds = CORPUS.parents[2].parent / "shared" / "seeds"
    bodies = []
    for path in sorted(seeds.glob("*.txt")):
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        bodies.append("".join(f"<p>{html.escape(line)}</p>" for line in lines))
    return bodies


def _shop_pages(count: int) -> list[bytes]:
    """Pages of the benchmark shop (bench/sitegen.py): ~50 KB of HTML with a real shop's share of
    markup (~15 KB of visible copy, ~60 statements)."""
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from sitegen import generate_site

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        paths = generate_site(root, count + 1)
        return [(root / path.lstrip("/")).read_bytes() for path in paths[1:]]


def build_pages(count: int, size_kb: int, source: str = "corpus") -> list[bytes]:
    """``count`` distinct pages of about ``size_kb`` KB each, made of corpus (or seed) page bodies."""
    if source == "shop":
        return _shop_pages(count)
    bodies = []
    if source == "seeds":
        bodies = _seed_bodies()
    for path in sorted(CORPUS.glob("*.html")) if source == "corpus" else []:
        match = _BODY.search(path.read_text(encoding="utf-8"))
        if match:
            bodies.append(match.group(1))
    if not bodies:
        raise SystemExit(f"no {source} pages found")
    pages = []
    for index in range(count):
        parts: list[str] = []
        length = 0
        offset = index
        while length < size_kb * 1024:
            body = bodies[offset % len(bodies)]
            parts.append(f"<section id='part{offset}'>{body}</section>")
            length += len(body)
            offset += 1
        html = (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>page {index}</title></head>"
            f"<body>{''.join(parts)}</body></html>"
        )
        pages.append(html.encode("utf-8"))
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300, help="pages to process (default 300)")
    parser.add_argument("--size", type=int, default=50, help="page size in KB (default 50)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure each phase this many times and keep the fastest (a shared machine's CPU "
                             "speed drifts by 10-30%% between runs of the same code; default 1)")
    parser.add_argument(
        "--source",
        choices=["corpus", "seeds", "shop"],
        default="corpus",
        help="corpus pages (dense in statements, default), the seed pages (editorial density) or the "
        "benchmark shop's pages (bench/sitegen.py: a real shop's share of markup)",
    )
    args = parser.parse_args(argv)
    # the model's load time, in a fresh interpreter (imports included): the first page of every crawl pays it
    probe = ("import time; t = time.perf_counter(); from monitor.extract import extractor_version; "
             "v = extractor_version(); print(f'{time.perf_counter() - t:.2f}', v)")
    load = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    print(f"model load (fresh process, imports included): {load[0]} s ({load[1]})")
    pages = build_pages(args.pages, args.size, args.source)
    # warm up: compile the rule tables once, as the first page of a crawl would
    extract_statements(html_to_blocks(pages[0]))

    rounds = max(1, args.rounds)
    # CPU time of this process: the machine may be shared, wall time would measure the neighbours
    normalise = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        all_blocks = [html_to_blocks(page) for page in pages]
        normalise = min(normalise, time.process_time() - started)

    def run(cold: bool) -> tuple[float, int]:
        statements = 0
        clear_cache()
        begin = time.process_time()
        for blocks in all_blocks:
            if cold:
                clear_cache()
            found = extract_statements(blocks)
            page_findings(found)
            statements += len(found)
        return time.process_time() - begin, statements

    cold, statements = min(run(cold=True) for _ in range(rounds))
    warm = min(run(cold=False)[0] for _ in range(rounds))
    # what the crawl calls: the page's product names (its head, read by lxml) and the extraction, cold
    analyse = float("inf")
    for _ in range(rounds):
        begin = time.process_time()
        for page, blocks in zip(pages, all_blocks, strict=True):
            clear_cache()
            analyse_page(page, blocks)
        analyse = min(analyse, time.process_time() - begin)
    n = len(pages)
    size = sum(len(page) for page in pages) / n / 1024
    print(f"{n} {args.source} pages of {size:.1f} KB, {statements / n:.0f} statements/page")
    print(
        f"normalise (monitor.normalize):  {n / normalise:8.1f} pages/s  ({normalise / n * 1000:.2f} ms/page)"
    )
    print(f"extract, cold cache per page:   {n / cold:8.1f} pages/s  ({cold / n * 1000:.2f} ms/page)")
    print(f"extract, warm (site templates): {n / warm:8.1f} pages/s  ({warm / n * 1000:.2f} ms/page)")
    print(f"normalise+extract, cold:        {n / (normalise + cold):8.1f} pages/s  (target >= 100)")
    print(f"normalise+extract, warm:        {n / (normalise + warm):8.1f} pages/s")
    print(f"analyse_page (names + extract), cold: {n / analyse:6.1f} pages/s  ({analyse / n * 1000:.2f} ms/page)")
    print(f"normalise+analyse_page, cold:   {n / (normalise + analyse):8.1f} pages/s  (what a crawl's page costs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Diff throughput: page pairs per second on one core (target >= 1,000).

Each pair is a page of ~100 statements and its next version with a few changes: one guarantee shortened,
one claim reworded, one claim added, one disclaimer removed, and the rest reordered (as a redesign would).
Also prints the content fingerprint's cost for a ~50 KB page's blocks (it runs on every fetch).

    python bench/diff.py [--pairs 2000] [--statements 100]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.diff import diff_statements  # noqa: E402
from monitor.noise import content_fingerprint, strip_noise  # noqa: E402
from monitor.normalize import html_to_blocks  # noqa: E402
from monitor.statements import Block, Statement  # noqa: E402

WORDS = [
    "supports", "healthy", "restful", "sleep", "joints", "energy", "focus", "calm", "muscles", "heart",
    "immune", "daily", "balance", "comfort", "natural", "formula", "blend", "magnesium", "turmeric",
    "zinc", "elderberry", "capsules", "customers", "morning", "evening", "routine", "active", "adults",
    "clinically", "studied", "gentle", "fast", "easy", "flexible", "strong", "bright", "clear",
    "steady",
]
GUARANTEE = "Backed by our %d-day money-back guarantee for a full refund."
DSHEA = ("These statements have not been evaluated by the Food and Drug Administration. This product is not "
         "intended to diagnose, treat, cure, or prevent any disease.")
TYPES = [("claim", "structure_function"), ("claim", "efficacy"), ("claim", "testimonial"),
         ("claim", "social_proof"), ("disclaimer", "results_vary"), ("claim", "clinical")]


def statement(kind: str, type_: str, text: str, position: int, **attributes: object) -> Statement:
    return Statement(kind, type_, text, strip_noise(text), "low", dict(attributes), position)


def make_page(rng: random.Random, size: int) -> list[Statement]:
    page = []
    for position in range(size - 2):
        kind, type_ = rng.choice(TYPES)
        # a unique tail; one statement in four carries a number ("62%", "90-day"), as on real pages
        tail = f"{position}" if position % 4 == 0 else "x" + "".join(chr(97 + int(d)) for d in str(position))
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 16))).capitalize() + f" {tail}."
        page.append(statement(kind, type_, text, position))
    page.append(statement("guarantee", "money_back", GUARANTEE % 90, size - 2, days=90, refund="full"))
    page.append(statement("disclaimer", "fda", DSHEA, size - 1, verbatim=True))
    return page


def next_version(rng: random.Random, page: list[Statement]) -> list[Statement]:
    new = list(page)
    new[-2] = statement("guarantee", "money_back", GUARANTEE % 30, new[-2].position, days=30, refund="full")
    victim = rng.randrange(len(new) - 3)
    words = new[victim].text.split()
    words[len(words) // 2] = "remarkably"
    new[victim] = statement(new[victim].kind, new[victim].type, " ".join(words), new[victim].position)
    disease = "Reverses arthritis in two weeks."
    new.append(statement("claim", "disease", disease, len(new), terms=["arthritis"]))
    del new[-2]  # the DSHEA disclaimer (the guarantee moved up one)
    rng.shuffle(new)
    return new


def bench_diff(pairs: int, size: int) -> tuple[float, float]:
    """(cold, warm) page pairs/s. Cold: every statement text is new to the process (the worst case: its
    key is folded for the first time). Warm: the same pairs again, as when a page's previous snapshot was
    the new side of the previous diff (keys folded then are remembered)."""
    rng = random.Random(4)
    data = []
    for _ in range(pairs):
        page = make_page(rng, size)
        data.append((page, next_version(rng, page)))
    rates = []
    for subset in (data, data[-400:]):  # 400 pages' keys fit the key cache (monitor.diff._fold)
        diff_statements(*subset[0])
        start = time.perf_counter()
        total = 0
        for before, after in subset:
            total += len(diff_statements(before, after))
        rates.append(len(subset) / (time.perf_counter() - start))
        assert total == 4 * len(subset), total  # modified guarantee and claim, added disease, removed DSHEA
    return rates[0], rates[1]


def bench_fingerprint(repeats: int = 300) -> tuple[int, int, float, float]:
    """(html bytes, text chars, cold ms, warm ms) for a ~50 KB product page."""
    corpus = sorted((ROOT / "tests" / "corpus" / "pages").glob("*.html"))
    texts = [block.text for path in corpus for block in html_to_blocks(path.read_bytes())]
    rows, size, index = [], 0, 0
    while size < 50_000:
        stamp = f"Updated 2024-01-0{index % 9 + 1} 10:1{index % 10}:00"
        row = (f'<div class="row"><div class="col-md-6"><p class="copy text-muted small">'
               f"{texts[index % len(texts)]} <span>{stamp}</span></p></div></div>\n")
        rows.append(row)
        size += len(row)
        index += 1
    html = "<html><body><main>" + "".join(rows) + "</main></body></html>"
    blocks = html_to_blocks(html)
    chars = sum(len(block.text) for block in blocks)
    # cold: every run sees texts it never saw (no cache helps)
    variants = [[Block(text=f"{block.text} v{run}") for block in blocks] for run in range(repeats)]
    start = time.perf_counter()
    for variant in variants:
        content_fingerprint(variant)
    cold = (time.perf_counter() - start) / repeats * 1000
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        content_fingerprint(blocks)
        timings.append(time.perf_counter() - start)
    return len(html), chars, cold, statistics.median(timings) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--statements", type=int, default=100)
    args = parser.parse_args(argv)
    rate, warm = bench_diff(args.pairs, args.statements)
    print(f"diff: {rate:,.0f} page pairs/s with new texts, {warm:,.0f} with texts seen before "
          f"({args.statements} statements, 4 changes each, one core; target >= 1,000)")
    html_bytes, chars, cold, warm = bench_fingerprint()
    print(f"fingerprint: {html_bytes / 1000:.0f} KB page, {chars:,} text chars: {cold:.3f} ms fresh text, "
          f"{warm:.3f} ms same text (median)")
    return 0 if rate >= 1000 else 1


if __name__ == "__main__":
    sys.exit(main())

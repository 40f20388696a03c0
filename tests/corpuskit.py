"""The labelled corpus (tests/corpus, and the seed pages when ../shared/seeds is there), loaded once per
test process: normalising its ~900 pages takes ~15 s, and several test modules read it."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from monitor.extract.corpus import LabelledPage, load_corpus

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus"
SEEDS = ROOT.parent / "shared" / "seeds"


@cache
def all_pages() -> tuple[LabelledPage, ...]:
    """Every labelled page, the seed pages last (when they are there: ``load_corpus`` skips them otherwise)."""
    return tuple(load_corpus(CORPUS, SEEDS))


def corpus_pages() -> tuple[LabelledPage, ...]:
    """The pages of tests/corpus (own, blind and regulator), in ``load_corpus``'s order."""
    return tuple(page for page in all_pages() if page.source != "seed")

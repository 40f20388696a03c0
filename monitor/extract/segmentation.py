"""Blocks -> units: the sentences, bullets and kept-together groups that statements are made of.

Kept together: a testimonial (every block of one quote card: quote + attribution), a small guarantee
box (a short run of blocks whose container names a guarantee), and the two-sentence DSHEA disclaimer
(merged later, in ``extract_statements``, once both halves are recognised). Everything else is split
into sentences, with abbreviations ("Dr.", "U.S.", "mg.") and footnote markers ("cramps.2 Next")
handled, and on line breaks and inline bullet separators (" \u2022 ", " \u00b7 ", " | ").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from monitor.extract.lexicon import ABBREVIATIONS
from monitor.statements import Block

MAX_TESTIMONIAL_CHARS = 1200
MAX_GUARANTEE_BOX_CHARS = 450
MAX_GUARANTEE_BOX_BLOCKS = 4
_TESTIMONIAL_CONTEXT = frozenset({"testimonial", "blockquote"})


@dataclass(slots=True)  # not frozen: a page makes ~200 of them, and frozen fields cost ~3x to set
class Unit:
    """A candidate statement: its text and where it came from."""

    text: str
    block: int
    tag: str = "p"
    region: str = "main"
    testimonial: bool = False
    guarantee_box: bool = False


@cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    # a sentence end: punctuation, closing quotes, optional footnote marker, space, then a capital/digit/quote
    boundary = re.compile(
        r"[.!?]+[\"'\u201d\u2019)\]]*(?:\d{1,3}|[*\u2020\u2021\u00b9\u00b2\u00b3\u2074-\u2079]+)?\s+"
        r"(?=[\"'\u201c\u2018(\[]?[A-Z0-9\u00a9$#*\u2020])"
    )
    separators = re.compile(r"\n+|\s+[\u2022\u00b7|]\s+|^\s*[\u2022\u00b7]\s*")
    return boundary, separators


_MAY_SEPARATE = re.compile("[\n\u2022\u00b7|]")


def _ends_with_abbreviation(text: str, end: int) -> bool:
    start = text.rfind(" ", 0, end) + 1
    word = text[start:end].lstrip("(\"'\u201c").casefold()
    if not word:
        return False
    if word in ABBREVIATIONS:
        return True
    # initials ("H. pylori", "J. Smith") and dotted acronyms ("N.N.I")
    return (
        len(word) == 1
        and word.isalpha()
        or ("." in word and len(word) <= 6 and word.replace(".", "").isalpha())
    )


def split_sentences(text: str) -> list[str]:
    """Split a block's text into sentences and inline bullets.

    >>> split_sentences("Dr. Lee uses 5 mg. of it daily. Results vary. \u2022 Ships free")
    ['Dr. Lee uses 5 mg. of it daily.', 'Results vary.', 'Ships free']
    """
    return list(_split_cached(text))


@lru_cache(maxsize=16384)
def _split_cached(text: str) -> tuple[str, ...]:
    return tuple(_split(text))


def _split(text: str) -> list[str]:
    boundary, separators = _patterns()
    pieces: list[str] = []
    # most blocks hold no line break or bullet: skip the separator scan (it tries every space)
    chunks = separators.split(text) if _MAY_SEPARATE.search(text) else (text,)
    for chunk in chunks:
        chunk = chunk.strip()
        if not chunk:
            continue
        if "." not in chunk and "!" not in chunk and "?" not in chunk:
            pieces.append(chunk)
            continue
        start = 0
        for match in boundary.finditer(chunk):
            end_of_punct = match.start()
            if chunk[end_of_punct] == "." and _ends_with_abbreviation(chunk, end_of_punct):
                continue
            sentence = chunk[start : match.end()].strip()
            if sentence:
                pieces.append(sentence)
            start = match.end()
        rest = chunk[start:].strip()
        if rest:
            pieces.append(rest)
    return pieces


def _join(blocks: Sequence[Block]) -> str:
    return " ".join(" ".join(block.text.split()) for block in blocks)


def segment(blocks: Sequence[Block]) -> list[Unit]:
    """Cut a page's blocks into units, in page order."""
    units: list[Unit] = []
    count = len(blocks)
    index = 0
    while index < count:
        block = blocks[index]
        context = block.context
        if block.group >= 0 and not _TESTIMONIAL_CONTEXT.isdisjoint(context):
            end = index + 1
            while end < count and blocks[end].group == block.group:
                end += 1
            card = blocks[index:end]
            text = _join(card)
            if len(text) <= MAX_TESTIMONIAL_CHARS:
                units.append(Unit(text, index, block.tag, block.region, testimonial=True))
                index = end
                continue
        if "guarantee" in context and "testimonial" not in context:
            end = index + 1
            while (
                end < count
                and end - index < MAX_GUARANTEE_BOX_BLOCKS + 1
                and "guarantee" in blocks[end].context
                and blocks[end].region == block.region
            ):
                end += 1
            run = blocks[index:end]
            text = _join(run)
            if end - index <= MAX_GUARANTEE_BOX_BLOCKS and len(text) <= MAX_GUARANTEE_BOX_CHARS:
                units.append(Unit(text, index, block.tag, block.region, guarantee_box=True))
                index = end
                continue
        for sentence in _split_cached(block.text):
            units.append(Unit(sentence, index, block.tag, block.region))
        index += 1
    return units

"""Statement extraction: a page's blocks -> every claim, guarantee and disclaimer on it.

    >>> from monitor.statements import Block
    >>> [(s.kind, s.type) for s in extract_statements([Block("Supports joint comfort.*"),
    ...                                                 Block("Shipping is free.")])]
    [('claim', 'structure_function')]

Pure functions, no I/O. Stages, one module each: ``segmentation`` (blocks -> units), ``classification``
(units -> kind/type + rule + matched words, by the tables in ``lexicon``), ``attributes``, ``severity``,
``findings`` (page level), ``keys`` (the cross-snapshot key). See docs/extraction.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from monitor.extract.attributes import dshea_attributes, guarantee_attributes
from monitor.extract.classification import Classification, classify_cached
from monitor.extract.findings import page_findings
from monitor.extract.keys import counter_free_key, fold, statement_key
from monitor.extract.segmentation import Unit, segment
from monitor.extract.severity import statement_severity
from monitor.statements import Block, Statement

__all__ = ["EXTRACTOR_VERSION", "clear_caches", "extract_statements", "page_findings", "statement_key"]

# bump whenever rules, lexicons or segmentation change: stored statements are re-extracted under it
EXTRACTOR_VERSION = "2024.1"


def _merge(
    first: tuple[Unit, Classification], second: tuple[Unit, Classification]
) -> tuple[Unit, Classification]:
    unit, found = first
    text = f"{unit.text} {second[0].text}"
    merged_unit = Unit(text, unit.block, unit.tag, unit.region, unit.testimonial, unit.guarantee_box)
    is_dshea = found.kind == "disclaimer"
    attributes = dshea_attributes(text) if is_dshea else guarantee_attributes(fold(text))
    merged = Classification(found.kind, found.type, found.rule, found.matched + second[1].matched, attributes)
    return merged_unit, merged


def _keeps_together(previous: tuple[Unit, Classification], current: tuple[Unit, Classification]) -> bool:
    (prev_unit, prev), (unit, found) = previous, current
    # the two-sentence DSHEA disclaimer, even when split over two blocks
    if prev.rule == "dshea_evaluated" and found.rule == "dshea_not_intended":
        return unit.block - prev_unit.block <= 1
    # a guarantee and the terms that follow it in the same paragraph
    return (
        prev.kind == "guarantee"
        and found.kind == "guarantee"
        and unit.block == prev_unit.block
        and not prev_unit.guarantee_box
        and found.type == "money_back"
        and found.attributes.get("days") is None
    )


@lru_cache(maxsize=16384)
def _key(text: str, counter_free: bool) -> str:
    return counter_free_key(text) if counter_free else statement_key(text)


def clear_caches() -> None:
    """Forget every cached segmentation, classification and key (after changing rules at run time)."""
    from monitor.extract.classification import clear_cache
    from monitor.extract.segmentation import _split_cached

    clear_cache()
    _split_cached.cache_clear()
    _key.cache_clear()


def extract_statements(blocks: Sequence[Block]) -> list[Statement]:
    """Every claim, guarantee and disclaimer of a page, in page order (positions 0..n-1)."""
    found: list[tuple[Unit, Classification]] = []
    for unit in segment(blocks):
        # classification.classify(unit), without a call per unit (a page has ~250 units)
        classification = classify_cached(unit.text, unit.tag, unit.region, unit.testimonial)
        if classification is None:
            continue
        current = (unit, classification)
        if found and _keeps_together(found[-1], current):
            found[-1] = _merge(found[-1], current)
        else:
            found.append(current)
    statements: list[Statement] = []
    for position, (unit, classification) in enumerate(found):
        text = unit.text
        kind, type_ = classification.kind, classification.type
        key = _key(text, type_ == "social_proof")
        severity = statement_severity(kind, type_, classification.rule, classification.attributes, text)
        # positional: a frozen dataclass's keyword arguments double its ~1 us of construction, ~65 a page
        statements.append(Statement(kind, type_, text, key, severity, dict(classification.attributes), position,
                                    classification.rule, classification.matched))
    return statements

"""The data that flows between the pure stages of the core.

``Block`` is what normalisation makes of a page (visible text, in reading order), ``Statement`` is what
extraction makes of blocks, ``Finding`` is a page-level compliance observation. All three are plain,
immutable values: no I/O, no database, no Scrapy.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Any

KINDS: tuple[str, ...] = ("claim", "guarantee", "disclaimer")
TYPES: dict[str, tuple[str, ...]] = {
    "claim": (
        "disease",
        "structure_function",
        "efficacy",
        "clinical",
        "authority",
        "testimonial",
        "social_proof",
    ),
    "guarantee": ("money_back", "satisfaction", "other"),
    "disclaimer": ("fda", "results_vary", "medical_advice", "educational", "other"),
}
SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high")


def severity_rank(severity: str) -> int:
    """Order severities: ``severity_rank("high") > severity_rank("low")``; unknown names rank lowest."""
    try:
        return SEVERITIES.index(severity)
    except ValueError:
        return -1


#: a block's ``tag`` when it is a heading (context for the sentences under it)
HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


@dataclass(slots=True)  # not frozen: normalisation makes ~150 a page, and frozen fields cost ~3x to set
class Block:
    """One visible block of a page: a paragraph, list item, heading, table cell, quote...

    ``region`` is where it sits on the page ("main", "header", "nav", "footer", "aside");
    ``context`` holds hints from enclosing elements (e.g. "blockquote", "testimonial", "faq",
    "guarantee", "list", "table", "heading", "modal"); ``group`` numbers the nearest card-like
    container (blockquote, figure, article, an element whose class names a testimonial or review)
    so that a quote and its attribution can be kept together; ``-1`` when there is none.
    """

    text: str
    tag: str = "p"
    region: str = "main"
    context: frozenset[str] = frozenset()
    group: int = -1

    def __reduce__(self) -> tuple[type[Block], tuple[Any, ...]]:
        # pickled as its constructor's arguments: half the cost of the dataclass's per-field state, and a
        # crawl sends ~150 blocks a page to and from its analysis processes
        return Block, (self.text, self.tag, self.region, self.context, self.group)


@dataclass(frozen=True, slots=True)
class Statement:
    """A claim, guarantee or disclaimer found on a page.

    ``key`` is the normalised text used to match the same statement across snapshots (case,
    whitespace, punctuation, quotes and footnote markers folded). ``rule`` and ``matched`` say why
    it was classified so, for the analyst.
    """

    kind: str
    type: str
    text: str
    key: str
    severity: str = "low"
    attributes: dict[str, Any] = field(default_factory=dict)
    position: int = 0
    rule: str = ""
    matched: tuple[str, ...] = ()

    def __reduce__(self) -> tuple[builtins.type[Statement], tuple[Any, ...]]:
        # as its constructor's arguments (see Block): the analysis processes send ~100 a page back
        return Statement, (self.kind, self.type, self.text, self.key, self.severity, self.attributes,
                           self.position, self.rule, self.matched)


@dataclass(frozen=True, slots=True)
class Finding:
    """A page-level compliance observation, e.g. ``code="sf_claim_without_dshea"``."""

    code: str
    severity: str
    detail: str
    positions: tuple[int, ...] = ()

    def __reduce__(self) -> tuple[type[Finding], tuple[Any, ...]]:
        return Finding, (self.code, self.severity, self.detail, self.positions)

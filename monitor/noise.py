"""Noise that is not content: timestamps, tokens, counters, prices, shuffled order, markup.

``strip_noise`` folds one text to what survives noise; ``content_fingerprint`` decides whether a fetched
page says anything new: two renderings that differ only by noise get the same fingerprint, so an unchanged
page costs no new snapshot, and any real sentence change gives a new fingerprint.

What counts as noise (the patterns are data: ``NOISE_PATTERNS``):

- dates and times: ISO timestamps, ``01/05/2024``, ``5 January 2024``, ``Jan 5, 2024``, ``10:32 pm``,
  weekday names, ``3 minutes ago``, countdowns (``ends in 2h 14m``), copyright years;
- tokens: long hex or mixed letter-digit strings (CSRF tokens, nonces, session ids, UUIDs) and
  ``token=...``/``sid=...`` pairs;
- counters: ``12 people are viewing this``, ``Only 3 left``, ``7 bottles left in stock``, ``bought 9 times
  today``, ``41 sold in the last 24 hours`` (the number goes, the phrase stays);
- prices and discounts: ``$49.95``, ``USD 49``, ``39,95 €``, ``save 40%``, ``25% off``;
- case, whitespace, punctuation, quotes, ``&nbsp;``, zero-width characters and Unicode compatibility forms;
- order: the fingerprint is a *set* of sentences, so reordered blocks, shuffled carousels, carousel clones
  and markup that splits or joins blocks at sentence boundaries give the same fingerprint.

Numbers that carry meaning stay: ``90-day guarantee``, ``62%`` in a clinical claim, ``3 capsules a day``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from functools import cache

from monitor.statements import Block

__all__ = ["NOISE_PATTERNS", "strip_noise", "content_fingerprint", "fingerprint_units"]

_MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)"
)
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_WHO = r"(?:people|persons|shoppers|customers|visitors|others|users|buyers|readers)"

#: (name, regex) of everything removed before comparing; matched case-insensitively, replaced by a space.
NOISE_PATTERNS: tuple[tuple[str, str], ...] = (
    # --- dates and times
    ("iso_datetime", r"\b\d{4}-\d{2}-\d{2}(?:[t ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:z|[+-]\d{2}:?\d{2})?)?"),
    ("clock", r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\b\.?)?"),
    ("numeric_date", r"\b\d{1,4}[/.]\d{1,2}[/.]\d{2,4}\b"),
    ("month_day", _MONTH + r"\.?\s+\d{1,2}(?:st|nd|rd|th)?\b(?:,?\s+\d{4}\b)?"),
    ("day_month", r"\b\d{1,2}(?:st|nd|rd|th)?\s+" + _MONTH + r"\b\.?(?:,?\s+\d{4}\b)?"),
    ("month_year", _MONTH + r"\.?\s+\d{4}\b"),
    ("weekday", r"\b" + _WEEKDAY + r"\b"),
    ("ago", r"\b\d+\s+(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?)\s+ago\b"),
    ("countdown", r"\b\d+\s*(?:d|days?)?\s*\d*\s*h(?:rs?|ours?)?\s*\d+\s*m(?:ins?|inutes?)?(?:\s*\d+\s*s(?:ecs?|econds?)?)?\b"),
    ("copyright", r"(?:©|\(c\)|\bcopyright\b)\s*\d{4}(?:\s*[-–]\s*\d{4})?"),
    # --- tokens, nonces, session ids
    ("token_pair", r"\b(?:csrf|xsrf|nonce|token|session[ _-]?id|sessid|sid|request[ _-]?id)[\w-]*\s*[:=]\s*[\w.~+/-]+"),
    ("hex", r"\b[0-9a-f]{16,}\b"),
    ("mixed_token", r"\b(?=[a-z_-]*\d)(?=[\d_-]*[a-z])[a-z\d_-]{20,}\b"),
    # --- counters (only the number goes)
    ("people_counter", r"\b\d[\d,]*\+?(?=\s+" + _WHO + r"\s+(?:are\s+|have\s+|just\s+|recently\s+)?"
     r"(?:viewing|watching|looking|browsing|shopping|bought|purchased|ordered|added|checking|this|it)\b)"),
    ("only_left", r"\bonly\s+\d+(?=\s+(?:[a-z-]+\s+){0,2}?(?:left|remaining|in\s+stock)\b)"),
    ("left", r"\b\d+(?=\s+(?!(?:days?|weeks?|months?|years?)\b)(?:[a-z-]+\s+){0,2}?(?:left|remaining)\b)"),
    ("in_stock", r"\b\d+(?=\s+(?:units?\s+|items?\s+|bottles?\s+)?in\s+stock\b)"),
    ("sold_recently", r"\b\d[\d,]*(?=\s+(?:sold|bought|orders?|purchases?)\s+(?:today|this\s+(?:week|hour|morning)"
     r"|in\s+(?:the\s+)?(?:last|past)|within)\b)"),
    ("times_counter", r"\b(?:viewed|bought|purchased|ordered|sold)\s+\d[\d,]*\s+times\b"),
    # --- prices and discounts
    ("price", r"(?:[$€£¥₹]|\b(?:us|ca|au|nz)\$|\b(?:usd|eur|gbp|cad|aud)\b)\s?\d[\d,]*(?:[.,]\d{1,2})?"),
    ("price_after", r"\b\d[\d,]*(?:[.,]\d{1,2})?\s?(?:[€£]|\b(?:usd|eur|gbp|cad|aud)\b)"),
    ("discount", r"\bsave\s+(?:up\s+to\s+)?\d+\s?%|\b\d+\s?%\s+off\b"),
)


@cache
def _noise_pattern() -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{regex})" for _name, regex in NOISE_PATTERNS), re.IGNORECASE)


# Sentence ends (., !, ? with closing quotes/brackets) and line breaks separate fingerprint units.
_SENTENCE_END = re.compile(r"""[.!?]+["'”’)\]]*\s+|\n+""")
_NON_WORD = re.compile(r"[^\w\n]+")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_HAS_NOISE_CHAR = re.compile(r"[\d$€£¥₹©]|\bcopyright\b|day\b|[a-f]{16}", re.IGNORECASE)


def _unicode_fold(text: str) -> str:
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", text.translate(_ZERO_WIDTH))


def _remove_noise(text: str) -> str:
    # Most prose has no digit, currency sign or weekday: skip the long alternation for it.
    if _HAS_NOISE_CHAR.search(text) is None:
        return text
    return _noise_pattern().sub(" ", text)


def _fold(text: str) -> str:
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


def strip_noise(text: str) -> str:
    """Fold a text to what survives noise: case, punctuation and whitespace go, and so does noise.

    >>> strip_noise("Only 3 left! Updated 2024-05-01 10:32:07 - $49.95")
    'only left updated'
    >>> strip_noise("Try it for 90 days - a FULL refund.")
    'try it for 90 days a full refund'
    """
    return _fold(_remove_noise(_unicode_fold(text)))


def fingerprint_units(blocks: Sequence[Block]) -> set[str]:
    """The set of folded, noise-free sentences of a page: what ``content_fingerprint`` hashes."""
    text = _remove_noise(_unicode_fold("\n".join(block.text for block in blocks)))
    text = _SENTENCE_END.sub("\n", text)
    units = {" ".join(line.split()) for line in _NON_WORD.sub(" ", text.casefold()).split("\n")}
    units.discard("")
    return units


def content_fingerprint(blocks: Sequence[Block]) -> str:
    """An order-insensitive SHA-256 of a page's sentences with noise removed.

    Same for renderings that differ only by noise, order or markup; different when a sentence changes.
    """
    digest = hashlib.sha256()
    for unit in sorted(fingerprint_units(blocks)):
        digest.update(unit.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()

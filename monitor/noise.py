"""Noise that is not content: timestamps, tokens, counters, prices, shuffled order, markup.

``strip_noise`` folds one text to what survives noise; ``content_fingerprint`` decides whether a fetched
page says anything new: two renderings that differ only by noise get the same fingerprint, so an unchanged
page costs no new snapshot, and any real sentence change gives a new fingerprint.

What counts as noise:

- dates and times: ISO timestamps, ``01/05/2024``, ``5 January 2024``, ``Monday, Jan 5, 2024``,
  ``10:32 pm``, ``3 minutes ago``, countdowns (``2h 14m 05s``, ``02:14:33``), copyright years;
- tokens: long hex or letter-digit strings (CSRF tokens, nonces, session ids, UUIDs);
- counters: ``12 people are viewing this``, ``Only 3 left``, ``7 bottles left in stock``, ``bought 9 times``,
  ``41 sold in the last 24 hours`` (the number goes, the phrase stays);
- prices and discounts: ``$49.95``, ``USD 49``, ``39,95 €``, ``save 40%``, ``25% off``;
- case, whitespace, punctuation, quotes, ``&nbsp;``, zero-width characters, Unicode compatibility forms;
- order: the fingerprint is a *set* of sentences, so reordered blocks, shuffled carousels, carousel clones
  and markup that splits or joins blocks at sentence boundaries give the same fingerprint.

Numbers that carry meaning stay: ``90-day guarantee``, ``62%`` in a clinical claim, ``3 capsules a day``,
``4.8 stars from 3,120 reviews``.

Speed: this runs on every fetch. The noise rules form one regular expression that starts with a character
class, so the engine skips in C to digits, currency signs and ``©`` and tries the rules only there;
folding uses ``bytes.translate``; no Python code runs per character or per word.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from monitor.statements import Block

__all__ = ["strip_noise", "remove_noise", "content_fingerprint", "fingerprint_units", "text_fingerprint"]

# --- rules as data ---------------------------------------------------------------------------------------

_MONTH_NAMES = "january february march april may june july august september october november december"
MONTHS: frozenset[str] = frozenset(
    (_MONTH_NAMES + " jan feb mar apr jun jul aug sep sept oct nov dec").split()
)
_WEEKDAY_NAMES = "monday tuesday wednesday thursday friday saturday sunday"
WEEKDAYS: frozenset[str] = frozenset(
    (_WEEKDAY_NAMES + " mon tue tues wed thu thur thurs fri sat sun").split()
)
#: A number after one of these words is noise when "times" follows: "viewed 120 times".
TIMES_VERBS: frozenset[str] = frozenset(
    {"viewed", "bought", "purchased", "ordered", "sold", "booked", "claimed"}
)
#: A number after one of these words is a price: "USD 49".
CURRENCY_WORDS: frozenset[str] = frozenset(
    {"usd", "eur", "gbp", "cad", "aud", "nzd", "chf", "us", "ca", "au"}
)
COPYRIGHT_WORDS: frozenset[str] = frozenset({"copyright", "(c)", "©"})

_MONTH_RX = "|".join(sorted(MONTHS, key=len, reverse=True))
_WHO = r"(?:people|persons|shoppers|customers|visitors|others|users|buyers|readers|families)"
_UNIT_WORDS = r"(?:units?|items?|bottles?|jars?|packs?|pouches?|boxes?|kits?|bags?|tubs?|spots?|pieces?)"

# Every rule starts at a digit, a currency sign or "©": the whole pattern begins with that character class,
# so the regex engine skips to those characters in C and only tries the rules there. A rule's regex is
# written from its SECOND character on; ``_START`` says what the first one is and what may stand before it.
_AT_WORD_START = r"(?<![\w-].)(?<=[0-9])"  # a digit that starts a word (the lookbehind spans 2 chars)
_START = {"digit": _AT_WORD_START, "currency": r"(?<=[$€£¥₹])", "copyright": r"(?<=©)"}


#: Marks a start guard that needs a space before the digit: such guards share one cheap test of that space
#: (``_noise_regex``), so a digit with none fails once instead of trying every word's lookbehind.
_SPACED = "(?<= [0-9])"


def _after(words: Sequence[str]) -> str:
    """A digit right after one of ``words`` and a space ("save 40%"): fixed-width lookbehinds, ORed."""
    return _SPACED + "(?:" + "|".join(rf"(?<=\b{re.escape(word)} [0-9])" for word in words) + ")"


#: (name, start, regex from the second character on) of everything removed before comparing.
NOISE_RULES: tuple[tuple[str, str, str], ...] = (
    # --- dates and times
    ("iso_datetime", "digit",
     r"\d{3}-\d{2}-\d{2}(?:[t ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:z|[+-]\d{2}:?\d{2})?)?\b"),
    ("clock", "digit", r"\d?:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\b\.?)?"),
    ("numeric_date", "digit", r"\d{0,3}[/.]\d{1,2}[/.]\d{2,4}\b"),
    ("day_month", "digit", r"\d?(?:st|nd|rd|th)?\s+(?:" + _MONTH_RX + r")\b\.?(?:,?\s+\d{4}\b)?"),
    ("ago", "digit", r"\d*\s*(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?)\s+ago\b"),
    ("countdown", "digit",
     r"\d{0,2}\s?[dhm]\s*\d{1,2}\s?[hms]\b(?:\s*\d{1,2}\s?[ms]\b)?(?:\s*\d{1,2}\s?s\b)?"),
    ("copyright", "copyright", r"\s*(?:\d{4}(?:\s*[-–]\s*\d{4})?)?"),
    ("copyright_word", _after(("copyright", "(c)")), r"\d{3}(?:\s*[-–]\s*\d{4})?\b"),
    # --- prices and discounts
    ("price", "currency", r"\s?\d[\d,]*(?:[.,]\d{1,2})?"),
    ("price_after", "digit", r"[\d,]*(?:[.,]\d{1,2})?\s?(?:[€£]|(?:usd|eur|gbp)\b)"),
    ("price_word", _after(("usd", "eur", "gbp", "cad", "aud", "us", "ca", "au")), r"[\d,]*(?:[.,]\d{1,2})?"),
    ("discount", _after(("save", "save up to")), r"\d*\s?%"),
    ("percent_off", "digit", r"\d*\s?%(?=\s+off\b)"),
    # --- counters: only the number goes
    ("people_counter", "digit", r"[\d,]*\+?(?=\s+" + _WHO + r"\s+(?:are\s+|have\s+|just\s+|recently\s+)?"
     r"(?:viewing|watching|looking|browsing|shopping|bought|purchased|ordered|added|checking|this|it)\b)"),
    ("left", "digit", r"\d*(?=\s+(?!(?:days?|weeks?|months?|years?|hours?|minutes?)\b)(?:[a-z-]+\s+){0,2}?"
     r"(?:left|remaining)\b)"),
    ("in_stock", "digit", r"\d*(?=\s+(?:" + _UNIT_WORDS + r"\s+)?(?:in\s+stock|available)\b)"),
    ("sold_recently", "digit",
     r"[\d,]*(?=\s+(?:" + _UNIT_WORDS + r"\s+)?(?:sold|bought|orders?|purchases?|claimed)\s+"
     r"(?:today|tonight|this\s+(?:week|hour|morning)|in\s+(?:the\s+)?(?:last|past)|within|recently)\b)"),
    ("times_counter", _after(sorted(TIMES_VERBS)), r"[\d,]*\s+times\b"),
    # --- tokens, nonces, session ids (hex, UUIDs, long letter-digit ids)
    ("hex_token", "digit", r"[0-9a-f-]{15,}\b"),
    ("mixed_token", "digit", r"[\w-]{19,}\b"),
    # a token whose first characters are letters: from its first digit on; the letters go afterwards
    ("token_tail", r"(?<=[a-z_-][0-9])", r"[\w-]{11,}\b"),
    # month first ("Jan 5, 2024", "Monday, March 3"): the number here, the month and weekday afterwards.
    # The lookbehind only sees the month's last three letters (lookbehinds have a fixed width): the
    # replacement checks the whole word.
    ("month_day",
     _SPACED + "(?:(?<=(?:" + "|".join(sorted({month[-3:] for month in MONTHS})) + ") [0-9])"
     "|(?<=(?:" + "|".join(sorted(m for m in MONTHS if len(m) == 3)) + r")\. [0-9]))",
     r"\d?(?:st|nd|rd|th)?\b(?:,?\s+\d{4}\b)?|\d{3}\b"),
)


def _noise_regex() -> re.Pattern[str]:
    # Rules that share a start guard share one test of it: a digit inside a word fails once, not per rule.
    grouped: dict[str, list[str]] = {}
    for name, start, rest in NOISE_RULES:
        # only the rules whose replacement differs are named: fewer groups, less work per attempt
        rule = f"(?P<{name}>{rest})" if name in ("token_tail", "month_day") else f"(?:{rest})"
        grouped.setdefault(_START.get(start, start), []).append(rule)
    branches = [f"{guard}(?:{'|'.join(rules)})" for guard, rules in grouped.items() if not guard.startswith(_SPACED)]
    spaced = [f"{guard.removeprefix(_SPACED)}(?:{'|'.join(rules)})" for guard, rules in grouped.items()
              if guard.startswith(_SPACED)]
    if spaced:
        branches.append(_SPACED + "(?:" + "|".join(spaced) + ")")
    return re.compile("[0-9$€£¥₹©](?:" + "|".join(branches) + ")", re.IGNORECASE)


_NOISE = _noise_regex()
_MAY_BE_NOISE = re.compile("[0-9$€£¥₹©]")
_TOKEN_MARK, _DATE_MARK = "\x01", "\x02"
_TRAILING_LETTERS = re.compile(r"[A-Za-z_-]*\Z")
_TRAILING_DATE_WORDS = re.compile(
    r"(?:\b(?:" + "|".join(sorted(WEEKDAYS, key=len, reverse=True)) + r")\b\.?,?\s+)?"
    r"\b(?:" + _MONTH_RX + r")\b\.?\s*\Z",
    re.IGNORECASE,
)

# Folding: ASCII through a byte table (lowercase; ".", "!", "?" and line breaks end a unit; other
# punctuation is a space); non-ASCII runs through NFKC and casefold.
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _ascii_fold_table() -> bytes:
    table = bytearray(range(256))
    for byte in range(128):
        char = chr(byte)
        if char.isupper():
            table[byte] = ord(char.lower())
        elif char in ".!?\n":
            table[byte] = 0x0A
        elif not char.isalnum():
            table[byte] = 0x20
    return bytes(table)


_ASCII_FOLD = _ascii_fold_table()


# --- noise removal ---------------------------------------------------------------------------------------


def _replace(match: re.Match[str]) -> str:
    rule = match.lastgroup
    if rule == "token_tail":
        return _TOKEN_MARK
    if rule == "month_day":
        start = match.start()
        before = match.string[max(0, start - 12) : start].split()
        if not before or before[-1].lower().rstrip(".") not in MONTHS:
            return match.group()  # "just 7 days": not a date
        return _DATE_MARK
    return " "


def _trim_before(text: str, mark: str, trailing: re.Pattern[str]) -> str:
    """Remove what ``trailing`` matches at the end of the text before each ``mark`` (rare: no full scan)."""
    pieces = text.split(mark)
    for index in range(len(pieces) - 1):
        piece = pieces[index]
        cut = max(0, len(piece) - 40)
        pieces[index] = piece[:cut] + trailing.sub("", piece[cut:])
    return " ".join(pieces)


def remove_noise(text: str) -> str:
    """Replace every noise span of ``text`` by a space; the rest is kept as it is.

    >>> remove_noise("Only 3 left - 12 people are viewing this - Updated Jan 5, 2024")
    'Only   left -   people are viewing this - Updated  '
    """
    text = _NOISE.sub(_replace, text)
    if _TOKEN_MARK in text:
        text = _trim_before(text, _TOKEN_MARK, _TRAILING_LETTERS)
    if _DATE_MARK in text:
        text = _trim_before(text, _DATE_MARK, _TRAILING_DATE_WORDS)
    return text


# --- folding ---------------------------------------------------------------------------------------------


_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


@lru_cache(maxsize=4096)
def _fold_run(run: str) -> str:
    folded = unicodedata.normalize("NFKC", run.translate(_ZERO_WIDTH)).casefold()
    return "".join(char if char.isalnum() else " " for char in folded)


def _fold_non_ascii(match: re.Match[str]) -> str:
    return _fold_run(match.group())  # the same quotes, dashes and accents recur on every page


_ASCII_BYTES = bytes(range(128))


def _is_stable(char: str) -> bool:
    """A character folded alone as it is folded within any run of non-ASCII characters.

    True for Latin-1 (U+00A0-U+00FF), general punctuation (U+2000-U+206F), currency signs (U+20A0-U+20CF)
    and letterlike symbols (U+2100-U+214F): no combining marks among them and none that composes with a
    character before it, so NFKC of a run of them is the NFKC of each (a test checks every pair).
    """
    code = ord(char)
    return 0xA0 <= code <= 0xFF or 0x2000 <= code <= 0x206F or 0x20A0 <= code <= 0x20CF or 0x2100 <= code <= 0x214F


def _fold_units(text: str) -> str:
    """Lowercase; sentence ends and line breaks become newlines, other punctuation spaces."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_FOLD).decode("ascii")
    data = text.encode("utf-8").translate(_ASCII_FOLD)
    folded = data.decode("utf-8")
    # the page's non-ASCII characters, found by deleting every ASCII byte (a regex scan of the whole text
    # costs ~15 ns a character): shop pages use a handful (dashes, quotes, middle dots, (c))
    others = set(data.translate(None, _ASCII_BYTES).decode("utf-8"))
    if all(_is_stable(char) for char in others):
        for char in others:  # each folds to spaces and alphanumerics that fold to themselves
            folded = folded.replace(char, _fold_run(char))
        return folded
    return _NON_ASCII.sub(_fold_non_ascii, folded)


def strip_noise(text: str) -> str:
    """Fold a text to what survives noise: case, punctuation, whitespace and noise go.

    >>> strip_noise("Only 3 left! Updated 2024-05-01 10:32:07 - $49.95")
    'only left updated'
    >>> strip_noise("Try it for 90\u00a0days \u2013 a \u201cFULL\u201d refund.")
    'try it for 90 days a full refund'
    """
    if _MAY_BE_NOISE.search(text) is not None:
        text = remove_noise(text)
    if text.isascii():  # the common case, kept short: this folds every statement key
        return " ".join(text.encode("ascii").translate(_ASCII_FOLD).decode("ascii").split())
    return " ".join(_fold_units(text).split())


def fingerprint_units(blocks: Sequence[Block]) -> set[str]:
    """The set of folded, noise-free sentences of a page: what ``content_fingerprint`` hashes."""
    return _units("\n".join(block.text for block in blocks))


def _units(text: str) -> set[str]:
    lines = set(_fold_units(remove_noise(text)).split("\n"))
    units = {" ".join(line.split()) for line in lines}
    units.discard("")
    return units


def content_fingerprint(blocks: Sequence[Block]) -> str:
    """An order-insensitive SHA-256 of a page's sentences with noise removed.

    The same for renderings that differ only by noise, order or markup; different when a sentence changes
    (a sentence repeated on the page counts once).
    """
    return text_fingerprint("\n".join(block.text for block in blocks))


def text_fingerprint(text: str) -> str:
    """``content_fingerprint`` of the blocks whose texts, joined by newlines, are ``text``."""
    return hashlib.sha256("\n".join(sorted(_units(text))).encode("utf-8")).hexdigest()

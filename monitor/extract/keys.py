"""Text folding: the matching form of a unit and the cross-snapshot key of a statement."""

from __future__ import annotations

import re
from functools import lru_cache

_FOLD_TABLE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u202f": " ",
        "\u2009": " ",
        "\u2007": " ",
        "\u200b": "",
        "\u2605": " stars ",
        "\u00ae": "",
        "\u2122": "",
        "\u00a9": " ",
    }
)
# footnote markers too: asterisks, daggers, section signs, superscript digits
_KEY_TABLE = str.maketrans(
    {
        **{chr(code): value for code, value in _FOLD_TABLE.items()},
        **{
            c: " "
            for c in "*\u2020\u2021\u00a7\u00b6\u00b9\u00b2\u00b3\u2070\u2074\u2075\u2076\u2077\u2078\u2079"
        },
    }
)
# reference digits glued to sentence punctuation ("cramps.12") or trailing a sentence ("agricultural 6")
_REF_DIGITS = re.compile(r"(?<=[A-Za-z)\]][.!?,;:\"'])\d{1,3}(?=\s|$)|(?<=[a-z])\s\d{1,2}$")
_HAS_DIGIT = re.compile(r"\d").search
_NON_WORD = re.compile(r"[\W_]+")
# ASCII punctuation and common symbols -> space, so most keys need no regex at all
_PUNCTUATION = str.maketrans({c: " " for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\u00b0\u00b7\u2022\u2026"})
_NUMBER = re.compile(r"\d[\d ]*")


@lru_cache(maxsize=65536)  # a unit is folded by segmentation, the rules, the features and the attributes
def fold(text: str) -> str:
    """Casefold, ASCII quotes/dashes, no ``&nbsp;``, collapsed whitespace: the form rules match on.

    >>> fold("It\u2019s \u201cgreat\u201d \u2014 really")
    'it\\'s "great" - really'
    """
    return " ".join(text.translate(_FOLD_TABLE).casefold().split())


def statement_key(text: str) -> str:
    """The normalised text that identifies a statement across snapshots.

    Case, whitespace, smart quotes, dashes, ``&nbsp;``, punctuation, footnote markers (asterisks,
    daggers, superscripts) and trailing reference numbers are folded away; other digits stay
    ("30-day" and "90-day" differ).

    >>> statement_key("\u201cSupports  joint comfort\u201d*\u00b9")
    'supports joint comfort'
    >>> statement_key("Nearly 40% of adults have cramps.2")
    'nearly 40 of adults have cramps'
    """
    text = text.translate(_KEY_TABLE).strip()
    if _HAS_DIGIT(text):
        text = _REF_DIGITS.sub("", text)
    text = text.casefold().translate(_PUNCTUATION)
    if not text.isascii():
        text = _NON_WORD.sub(" ", text)
    return " ".join(text.split())


def counter_free_key(text: str) -> str:
    """``statement_key`` with every number replaced by ``#``: for social proof and counters, whose
    numbers tick over between fetches without the statement changing ("4.9 stars from 28,114 buyers")."""
    return " ".join(_NUMBER.sub("# ", statement_key(text)).split())

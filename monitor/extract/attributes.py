"""Attribute parsers: guarantee terms, DSHEA wording, disease terms, authority."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from monitor.extract import lexicon as lx
from monitor.extract.keys import statement_key
from monitor.extract.rules import compiled

_NUMBER_WORD = "|".join(sorted(lx.NUMBER_WORDS, key=len, reverse=True))
_UNIT = "day|night|week|month|year"


@cache
def _duration_patterns() -> tuple[
    re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str]
]:
    word = rf"(?:{_NUMBER_WORD})(?:[- ](?:{_NUMBER_WORD}))?"  # "ninety", "forty-five"
    number = rf"(?:\d+|a(?= (?:full |whole )?(?:year|month|week))|{word}(?: hundred(?:(?: and)?[- ]{word})?)?)"
    # "90-day", "ninety day", "365-night", "eight-week", "one year", "for 60 days", "within 45 days"
    duration = re.compile(
        rf"(?<![\w$.])(?P<lead>(?:within|for|after|of|in|a full|full|up to|first)\s+)?(?P<n>{number})"
        rf"(?:[- ]|\s+)(?:full\s+|whole\s+|(?P<business>business\s+))?(?P<unit>{_UNIT})s?(?![\w])(?P<tail>\s+\w+)?"
    )
    # durations that are not the guarantee window: processing, shipping, renewal, notice periods
    # (within the clause: "pay $5.95 shipping; after 14 days you are enrolled" is a trial's window)
    not_window = re.compile(
        r"(?:process\w*|ship(?!ments?\b)\w*|send(?!\s+back)|sent(?!\s+back)|valid\w*|reply|replies|respond|issued|deliver(?:ed|y)?|arrive"
        r"|renew\w*|business|before|ago|(?<!within the )last)[^\w;.!?]+(?:\w+[^\w;.!?]+){0,4}$"
        r"|(?:every|each)\s+(?:\d+,?\s+(?:or\s+)?){0,3}$"  # "every 30 days", "every 1, 2 or 3 months"
        r"|at\s+least\s+$"  # "use it for at least 60 days": a condition, not the window
    )
    # ... unless the period is one to cancel or claim in: "don't cancel within 14 days", "refunds are issued
    # within ninety days of delivery" (a month or more from delivery is no handling time)
    window_anyway = re.compile(
        r"cancel\w*\s+(?:\w+\s+){0,1}$|(?:issued|processed)\s+$"
    )
    lifetime = re.compile(
        r"(?<![\w])(?:lifetime|for life|forever|any ?time[^.]{0,30}(?:years|ever)|no time limit|no expiry"
        r"|no expiration|never expires?)(?![\w])"
    )
    business = re.compile(r"^\s*business\b")
    return duration, not_window, window_anyway, lifetime, business


def _number_value(words: str) -> int | None:
    words = words.strip()
    if words.isdigit():
        return int(words)
    total = 0
    current = 0
    for word in re.split(r"[- ]+", words):
        if word == "a":
            current += 1
            continue
        if word == "and":
            continue
        if word == "hundred":
            current = max(current, 1) * 100
            continue
        value = lx.NUMBER_WORDS.get(word)
        if value is None:
            return None
        current += value
    total += current
    return total or None


_FROM_DELIVERY = re.compile(r"s?\s+(?:of|from|after)\s+(?:the\s+|your\s+)?(?:delivery|purchase|receipt|order)")


def _window_anyway(match: re.Match[str], before: str, folded: str, window_anyway: re.Pattern[str]) -> bool:
    """A period that reads as handling time by its lead words but is a window to cancel or claim in."""
    if (match.group("lead") or "").strip() != "within" or not (found := window_anyway.search(before)):
        return False
    if found.group(0).startswith("cancel"):
        return True
    value = _number_value(match.group("n")) or 0
    long_enough = match.group("unit") != "day" or value >= 30
    return long_enough and _FROM_DELIVERY.match(folded, match.end("unit")) is not None


def guarantee_days(folded: str) -> tuple[int | None, bool]:
    """(days, lifetime) of a guarantee's window, from digits or words.

    >>> guarantee_days("a ninety-day money-back guarantee")
    (90, False)
    >>> guarantee_days("eight-week guarantee")
    (56, False)
    >>> guarantee_days("love it or your money back - for life")
    (None, True)
    """
    duration, not_window, window_anyway, lifetime, business = _duration_patterns()
    if "(" in folded:
        folded = _SPELLED_OUT.sub("", folded)  # "one hundred and eighty (180) days"
    found: int | None = None
    trial: int | None = None
    for match in duration.finditer(folded):
        before = folded[max(0, match.start() - 60) : match.start()]
        if not_window.search(before) and not _window_anyway(match, before, folded, window_anyway):
            continue
        if match.group("unit") == "day" and (match.group("business") or business.match(folded[match.end("unit") :])):
            # "processed within 5-7 business days" is handling time; "up to 90 business days" is a window
            short = _number_value(match.group("n"))
            if short is None or short <= 10:
                continue
        tail = (match.group("tail") or "").strip()
        if tail in {"ago", "before", "supply"}:
            continue
        value = _number_value(match.group("n"))
        if value is None or value <= 0:
            continue
        if match.group("unit") == "month" and value % 12 == 0:
            days = value // 12 * 365  # "twelve months" is a year, not 360 days
        else:
            days = value * lx.UNIT_DAYS[match.group("unit")]
        if tail in {"sample", "trial"}:
            trial = days if trial is None else trial  # a sample's or trial's length: the last resort
            continue
        if (match.group("lead") or "").startswith("after") or _AFTER.search(before):
            # "after sixty days, unopened bottles can still be returned within 120 days": what comes after a
            # period is the window, when the statement names one; alone ("after 14 days you are enrolled")
            # the period is the window
            found = days if found is None else found
            continue
        return days, False
    if found is not None or trial is not None:
        return found if found is not None else trial, False
    if (by_day := _BY_DAY.search(folded)) and (value := _number_value(by_day.group(1))):
        return value, False  # "sleep through the night by day thirty or your next bottle is on us"
    if lifetime.search(folded):
        return None, True
    return None, False


@cache
def _refund_patterns() -> tuple[
    re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str]
]:
    reducers = re.compile(rf"(?<![\w])(?:{lx.REFUND_REDUCERS})")
    hundred = re.compile(lx.REFUND_100)
    full = re.compile(lx.REFUND_FULL)
    money = re.compile(r"money[- ]?back|refund|your money")
    conditions = re.compile(
        "|".join(f"(?P<c{i}>{fragment})" for i, (_n, fragment) in enumerate(lx.GUARANTEE_CONDITIONS))
    )
    return reducers, hundred, full, money, conditions


def guarantee_conditions(folded: str) -> list[str]:
    """The conditions a guarantee states, e.g. ``["less shipping", "restocking fee 15%"]``."""
    found: list[str] = []
    *_, conditions = _refund_patterns()
    for match in conditions.finditer(folded):
        name = lx.GUARANTEE_CONDITIONS[int(str(match.lastgroup)[1:])][0]
        if name == "restocking fee":
            percent = re.search(r"(\d+) ?%", match.group(0))
            name = f"restocking fee {percent.group(1)}%" if percent else name
        if name not in found:
            found.append(name)
    return found


def guarantee_refund(folded: str) -> str | None:
    """The refund the statement itself promises: "100%", "full", "partial" or None.

    >>> guarantee_refund("a full refund, minus a 15% restocking fee")
    'partial'
    """
    reducers, hundred, full, money, _conditions = _refund_patterns()
    promises_money = money.search(folded) is not None
    if (
        promises_money
        and reducers.search(folded)
        and (hundred.search(folded) or full.search(folded) or "money" in folded or "refund" in folded)
    ):
        return "partial"
    if hundred.search(folded):
        return "100%"
    if full.search(folded):
        return "full"
    return None


_SPELLED_OUT = re.compile(r"\s*\(\d+\)(?=\s*-?\s*(?:day|night|week|month|year))")
_BY_DAY = re.compile(
    rf"(?<![\w])(?:by|before|until|up to|and) day (\d+|{_NUMBER_WORD}(?:[- ](?:{_NUMBER_WORD}))?)(?![\w])"
)
_AFTER = re.compile(r"(?<![\w])after\s+(?:(?:those|the|that|a|an|first|full)\s+){0,2}$")
_EVERY = re.compile(r"(?:every|each)\s+(?:(\d+|[a-z]+)[- ])?(day|week|month)s?\b|(monthly|weekly)\b")


def renewal_days(folded: str) -> int | None:
    """The cycle of an auto-ship or subscription term: ``renewal_days("ships every 4 weeks") == 28``."""
    match = _EVERY.search(folded)
    if not match:
        return None
    if match.group(3):
        return 30 if match.group(3) == "monthly" else 7
    count, unit = match.group(1), match.group(2)
    if count is None and unit == "day":
        return None  # "take two every day": a dose, not a cycle
    value = 1 if count is None else 2 if count == "other" else _number_value(count)
    return value * lx.UNIT_DAYS[unit] if value else None


def guarantee_attributes(folded: str) -> dict[str, Any]:
    days, lifetime = guarantee_days(folded)
    attributes: dict[str, Any] = {
        "days": days,
        "refund": guarantee_refund(folded),
        "conditions": guarantee_conditions(folded),
    }
    if lifetime:
        attributes["lifetime"] = True
    return attributes


def dshea_attributes(text: str) -> dict[str, Any]:
    """``verbatim`` when the statement holds both required DSHEA sentences word for word; ``plural``.

    >>> dshea_attributes("These statements have not been evaluated by the Food and Drug Administration. "
    ...                  "This product is not intended to diagnose, treat, cure, or prevent any disease.")
    {'verbatim': True, 'plural': True}
    """
    key = statement_key(text)
    verbatim = any(first in key for first in lx.DSHEA_FIRST) and any(
        second in key for second in lx.DSHEA_SECOND
    )
    plural = "these statements" in key or "these products" in key
    return {"verbatim": verbatim, "plural": plural}


_CRITERIA = {
    "drug_substitute": "101.93(g)(2)(vi): substitute for a drug or therapy",
    "drug_class": "101.93(g)(2)(v): belongs to a class of drugs",
    "named_disease": "101.93(g)(2)(i): effect on a named disease or its symptoms",
    "testimonial": "101.93(g)(2)(x): disease outcome reported in a testimonial",
    "implied": "101.93(g)(2)(ii)-(iv): implied by its wording (signs, symptoms or effects of a disease)",
}


def disease_terms(folded: str) -> list[tuple[str, bool]]:
    """The disease terms in a text, with the serious flag: ``[("insomnia", False)]``."""
    rules = compiled()
    found: dict[str, bool] = {}
    for match in rules.disease_any.finditer(folded):
        name, serious = rules.disease_terms[int(str(match.lastgroup)[1:])]
        found[name] = serious
    return list(found.items())


def disease_attributes(folded: str, criterion: str) -> dict[str, Any]:
    terms = disease_terms(folded)
    return {
        "terms": [name for name, _serious in terms],
        "serious": any(serious for _name, serious in terms),
        "criterion": _CRITERIA.get(criterion, criterion),
    }

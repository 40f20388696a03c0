"""Reading query strings and forms: every value from the client is parsed here, bounded, or dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def parse_date(value: str | None, *, end: bool = False) -> datetime | None:
    """An ISO date or date-time (UTC when no offset); a bare date as ``end`` means the end of that day.
    Anything else is None (a filter left out, not an error page)."""
    if not value or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end and len(value.strip()) == 10:
        moment += timedelta(days=1)
    return moment


def parse_int(value: str | None, default: int = 1, *, low: int = 1, high: int = 1_000_000) -> int:
    try:
        number = int(value or default)
    except ValueError:
        return default
    return max(low, min(high, number))


def parse_items(values: list[str]) -> list[tuple[str, int]]:
    """``["change:4", "event:2"]`` -> ``[("change", 4), ("event", 2)]``; anything else is skipped."""
    items: list[tuple[str, int]] = []
    for value in values[:1000]:
        kind, _, number = value.partition(":")
        if kind in ("change", "event") and number.isdigit() and len(number) < 12:
            items.append((kind, int(number)))
    return items

"""Crontab lines -> APScheduler 3 triggers, with crontab's weekday numbers and optional jitter.

APScheduler 3 numbers weekdays from Monday = 0, while crontab (and the watchlist) say Sunday = 0 (or 7), so
``CronTrigger.from_crontab("0 6 * * 1")`` would fire on Tuesdays. ``cron_trigger`` turns the weekday field
into names first. The public schedule format is the 5-field crontab line; a leading seconds field (6
fields) is accepted only when ``seconds=True`` (``CLAIMWATCH_SCHEDULE_SECONDS=1``), for tests and demos.

>>> cron_trigger("30 6 * * 1-5", "Europe/Berlin", jitter=60)               # doctest: +SKIP
<CronTrigger (minute='30', hour='6', day='*', month='*', day_of_week='mon,tue,wed,thu,fri', ...)>
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.cron import CronError

# crontab weekday number -> APScheduler 3 weekday name
WEEKDAY_NAMES: tuple[str, ...] = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_WEEKDAY_NUMBERS: dict[str, int] = {name: number for number, name in enumerate(WEEKDAY_NAMES)}


def _weekday(value: str, expression: str) -> int:
    value = value.strip().lower()
    if value in _WEEKDAY_NUMBERS:
        return _WEEKDAY_NUMBERS[value]
    if value.isdigit() and 0 <= int(value) <= 7:
        return int(value) % 7
    raise CronError(f"bad cron expression {expression!r}: bad weekday {value!r} (0-7 or sun-sat)")


def crontab_weekdays(field: str, expression: str = "") -> str:
    """A crontab weekday field as APScheduler 3 weekday names: ``"1-5"`` -> ``"mon,tue,wed,thu,fri"``."""
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
        except ValueError:
            raise CronError(f"bad cron expression {expression!r}: bad step in {part!r}") from None
        if step < 1:
            raise CronError(f"bad cron expression {expression!r}: bad step in {part!r}")
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            low, high = span.split("-", 1)
            first, last = _weekday(low, expression), _weekday(high, expression)
            if high.strip() == "7":
                last = 7  # "5-7" is Friday to Sunday
            if last < first:
                raise CronError(f"bad cron expression {expression!r}: empty weekday range {span!r}")
        else:
            first = _weekday(span, expression)
            last = 6 if step_text else first
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(WEEKDAY_NAMES[day] for day in sorted(days, key=lambda day: (day - 1) % 7))


def cron_trigger(expression: str, timezone: str, *, jitter: int = 0, seconds: bool = False) -> Any:
    """Build an APScheduler ``CronTrigger``; ``CronError`` (one line) when the expression is bad.

    ``seconds`` accepts a 6-field line ``second minute hour day month weekday``.
    """
    from apscheduler.triggers.cron import CronTrigger

    fields = expression.split()
    if seconds and len(fields) == 6:
        second, fields = fields[0], fields[1:]
    elif len(fields) == 5:
        second = "0"
    else:
        wanted = "5 or 6 (with seconds)" if seconds else "5"
        raise CronError(f"expected {wanted} cron fields (minute hour day month weekday), got {len(fields)}: "
                        f"{expression!r}")
    minute, hour, day, month, weekday = fields
    day_of_week = crontab_weekdays(weekday, expression)
    zone = time_zone(timezone)
    try:
        return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                           day_of_week=day_of_week, timezone=zone, jitter=jitter or None)
    except ValueError as exc:
        raise CronError(f"bad cron expression {expression!r}: {exc}") from exc


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone of that name; ``CronError`` when there is none (e.g. a typo in the setting)."""
    try:
        return ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        raise CronError(f"unknown time zone {name!r} (CLAIMWATCH_TIMEZONE, e.g. Europe/Berlin)") from None

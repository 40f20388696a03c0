"""Crontab lines: the one parser behind the watchlist's validation and the daemon's triggers.

``cron_trigger`` turns a crontab line into an APScheduler 3 trigger; ``validate_cron`` (the watchlist, the
CLI) is that same call with nothing kept, so whatever one accepts the other accepts, and a bad line is
refused by both with the same one-line ``CronError``. The line reads as crontab(5) reads it:

- weekdays ``0``-``7`` with Sunday as ``0`` or ``7`` (APScheduler 3 counts from Monday = 0:
  ``CronTrigger.from_crontab("0 6 * * 1")`` fires on Tuesdays), ranges such as ``5-7`` (Friday to Sunday),
  steps, lists and names (``mon-fri``, ``sat,sun``); ``crontab_weekdays`` translates the field;
- months ``1``-``12`` or ``jan``-``dec``;
- when both the day of the month and the weekday are restricted (neither starts with ``*``), the line fires
  on either (``0 6 1 * 1``: the 1st of the month and every Monday), where APScheduler alone wants both.

The public format is the 5-field line; a leading seconds field (6 fields) is accepted only with
``seconds=True`` (``CLAIMWATCH_SCHEDULE_SECONDS=1``), for tests and demos.

>>> cron_trigger("30 6 * * 1-5", "Europe/Berlin", jitter=60)               # doctest: +SKIP
<CronTrigger (minute='30', hour='6', day='*', month='*', day_of_week='mon,tue,wed,thu,fri', ...)>
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["CronError", "WEEKDAY_NAMES", "crontab_weekdays", "cron_trigger", "validate_cron", "time_zone"]

# crontab weekday number -> APScheduler 3 weekday name
WEEKDAY_NAMES: tuple[str, ...] = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_WEEKDAY_NUMBERS: dict[str, int] = {name: number for number, name in enumerate(WEEKDAY_NAMES)}
_FIELDS = ("second", "minute", "hour", "day", "month", "day_of_week")
_APSCHEDULER_PREFIX = re.compile(r"^Error validating expression '[^']*': ")


class CronError(ValueError):
    """A bad cron line or time zone, said in one line."""


def _weekday(value: str, expression: str) -> int:
    """A weekday as crontab numbers it: 0-7, Sunday both 0 and 7 (a name: 0-6)."""
    value = value.strip().lower()
    if value in _WEEKDAY_NUMBERS:
        return _WEEKDAY_NUMBERS[value]
    if value.isdigit() and 0 <= int(value) <= 7:
        return int(value)
    raise CronError(f"bad cron expression {expression!r}: weekday {value!r} is not 0-7 or sun-sat")


def crontab_weekdays(field: str, expression: str = "") -> str:
    """A crontab weekday field as APScheduler 3 weekday names: ``"1-5"`` -> ``"mon,tue,wed,thu,fri"``,
    ``"5-7"`` and ``"fri-sun"`` -> ``"fri,sat,sun"``."""
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        if step_text and (not step_text.isdigit() or int(step_text) < 1):
            raise CronError(f"bad cron expression {expression!r}: bad step in weekday {part!r}")
        step = int(step_text) if step_text else 1
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            low, high = span.split("-", 1)
            first, last = _weekday(low, expression), _weekday(high, expression)
            if high.strip().lower() == "sun" and first > 0:
                last = 7  # "fri-sun": Friday to Sunday, as "5-7"
            if last < first:
                raise CronError(f"bad cron expression {expression!r}: empty weekday range {span!r}")
        else:
            first = _weekday(span, expression)
            last = 6 if step_text else first
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(WEEKDAY_NAMES[day] for day in sorted(days, key=lambda day: (day - 1) % 7))


def _restricted(field: str) -> bool:
    """crontab's test: a day or weekday field restricts only when it does not start with ``*``."""
    return not field.startswith(("*", "?"))


def cron_trigger(expression: str, timezone: str, *, jitter: int = 0, seconds: bool = False) -> Any:
    """An APScheduler trigger for a crontab line; ``CronError`` (one line) when the line is bad.

    ``seconds`` accepts a 6-field line ``second minute hour day month weekday``.
    """
    from apscheduler.triggers.combining import OrTrigger
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
    values = dict(zip(_FIELDS, (second, minute, hour, day, month, crontab_weekdays(weekday, expression)),
                      strict=True))
    zone = time_zone(timezone)
    for name, value in values.items():  # each field alone: the message names the one that is wrong
        try:
            CronTrigger(**{name: value}, timezone=zone)
        except ValueError as exc:
            shown = weekday if name == "day_of_week" else value
            why = _APSCHEDULER_PREFIX.sub("", str(exc))
            raise CronError(f"bad cron expression {expression!r}: {name.replace('_', ' ')} {shown!r}: {why}") from None
    try:
        if _restricted(day) and _restricted(weekday):  # crontab: either the day or the weekday
            return OrTrigger([CronTrigger(**{**values, "day_of_week": "*"}, timezone=zone),
                              CronTrigger(**{**values, "day": "*"}, timezone=zone)], jitter=jitter or None)
        return CronTrigger(**values, timezone=zone, jitter=jitter or None)
    except ValueError as exc:  # fields that are good alone but not together
        raise CronError(f"bad cron expression {expression!r}: {_APSCHEDULER_PREFIX.sub('', str(exc))}") from None


def validate_cron(expression: str, timezone: str = "UTC") -> None:
    """Raise ``CronError`` unless ``expression`` is a 5-field crontab line the daemon can schedule."""
    cron_trigger(expression, timezone)


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone of that name; ``CronError`` when there is none (e.g. a typo in the setting)."""
    try:
        return ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        raise CronError(f"unknown time zone {name!r} (CLAIMWATCH_TIMEZONE, e.g. Europe/Berlin)") from None

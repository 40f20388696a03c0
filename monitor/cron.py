"""Cron expressions, validated with APScheduler's own parser so the daemon accepts what the CLI accepts."""

from __future__ import annotations


class CronError(ValueError):
    pass


def validate_cron(expression: str, timezone: str = "UTC") -> None:
    """Raise CronError unless ``expression`` is a standard 5-field crontab line."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expression.split()
    if len(fields) != 5:
        raise CronError(f"expected 5 cron fields (minute hour day month weekday), got {len(fields)}: "
                        f"{expression!r}")
    try:
        CronTrigger.from_crontab(expression, timezone=timezone)
    except ValueError as exc:
        raise CronError(f"bad cron expression {expression!r}: {exc}") from exc

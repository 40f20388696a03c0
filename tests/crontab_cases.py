"""One table of crontab lines for both readers of a schedule: the watchlist's validation (test_watchlist) and
the daemon's triggers (test_daemon). What one accepts the other must accept, with the same fire times, and a
bad line is refused by both with the same one line."""

from __future__ import annotations

from datetime import UTC, datetime

#: a Tuesday, 2026-03-03 00:00 UTC: where the next fire times below are counted from
START = datetime(2026, 3, 3, tzinfo=UTC)

#: (line, its next three fire times after START, as "Mon 09 06:00" in UTC)
GOOD: list[tuple[str, list[str]]] = [
    ("0 6 * * *", ["Tue 03 06:00", "Wed 04 06:00", "Thu 05 06:00"]),
    ("0 6 * * 0", ["Sun 08 06:00", "Sun 15 06:00", "Sun 22 06:00"]),
    ("0 6 * * 7", ["Sun 08 06:00", "Sun 15 06:00", "Sun 22 06:00"]),  # Sunday is 0 and 7
    ("0 6 * * 1", ["Mon 09 06:00", "Mon 16 06:00", "Mon 23 06:00"]),  # crontab's Monday, not APScheduler's Tuesday
    ("0 6 * * 5-7", ["Fri 06 06:00", "Sat 07 06:00", "Sun 08 06:00"]),
    ("0 6 * * fri-sun", ["Fri 06 06:00", "Sat 07 06:00", "Sun 08 06:00"]),
    ("30 5 * * 1-5", ["Tue 03 05:30", "Wed 04 05:30", "Thu 05 05:30"]),
    ("0 6 * * mon-fri", ["Tue 03 06:00", "Wed 04 06:00", "Thu 05 06:00"]),
    ("0 6 * * SAT,SUN", ["Sat 07 06:00", "Sun 08 06:00", "Sat 14 06:00"]),
    ("0 6 * * */2", ["Tue 03 06:00", "Thu 05 06:00", "Sat 07 06:00"]),  # Sunday, Tuesday, Thursday, Saturday
    ("0 6 * * 0-7", ["Tue 03 06:00", "Wed 04 06:00", "Thu 05 06:00"]),
    ("*/20 9 * * *", ["Tue 03 09:00", "Tue 03 09:20", "Tue 03 09:40"]),
    ("0 6 1 * *", ["Wed 01 06:00", "Fri 01 06:00", "Mon 01 06:00"]),  # (April, May, June)
    ("0 6 9 * 5", ["Fri 06 06:00", "Mon 09 06:00", "Fri 13 06:00"]),  # the 9th or a Friday, as crontab reads it
    ("15 4 * mar,apr mon", ["Mon 09 04:15", "Mon 16 04:15", "Mon 23 04:15"]),
]

#: (line, what the one-line refusal says)
BAD: list[tuple[str, str]] = [
    ("61 * * * *", "bad cron expression '61 * * * *': minute '61': the last value (61) is higher than the maximum"),
    ("0 25 * * *", "bad cron expression '0 25 * * *': hour '25'"),
    ("0 6 32 * *", "bad cron expression '0 6 32 * *': day '32'"),
    ("0 6 * 13 *", "bad cron expression '0 6 * 13 *': month '13'"),
    ("0 6 * * 8", "bad cron expression '0 6 * * 8': weekday '8' is not 0-7 or sun-sat"),
    ("0 6 * * funday", "weekday 'funday' is not 0-7 or sun-sat"),
    ("0 6 * * 7-1", "empty weekday range '7-1'"),
    ("0 6 * * 1/0", "bad step in weekday '1/0'"),
    ("0 6 * * mon-", "weekday '' is not 0-7 or sun-sat"),
    ("*/0 * * * *", "bad cron expression '*/0 * * * *': minute '*/0'"),
    ("0 6 * *", "expected 5 cron fields (minute hour day month weekday), got 4: '0 6 * *'"),
    ("0 0 6 * * *", "expected 5 cron fields (minute hour day month weekday), got 6"),
    ("every day", "expected 5 cron fields (minute hour day month weekday), got 2: 'every day'"),
    ("", "expected 5 cron fields (minute hour day month weekday), got 0"),
]


def shown(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%a %d %H:%M")

from __future__ import annotations

import json
import logging
import signal
from datetime import datetime
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from monitor.cli.app import App, fail, pass_app
from monitor.config import ConfigError, DaemonSettings
from monitor.scheduler import Daemon, DaemonError
from monitor.status import collect_status
from monitor.terminal import one_line


@click.command("run")
@pass_app
def run_command(app: App) -> None:
    """Run the scheduler daemon: crawl each site on its schedule, send the digest, retry mail.

    Runs until SIGTERM or Ctrl-C, then lets running crawls finish (CLAIMWATCH_STOP_TIMEOUT, default
    60 s) and exits 0. Sites added, changed or removed with `claimwatch sites` are picked up within
    CLAIMWATCH_SYNC_SECONDS (default 30). One log line per event on stderr; see docs/daemon.md.

    \b
    Example:
      CLAIMWATCH_TIMEZONE=Europe/Berlin claimwatch run
    """
    root = logging.getLogger()
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    sessions = app.sessions()  # the database must be initialised
    del sessions
    try:
        daemon = Daemon(app.engine, app.settings, DaemonSettings.from_env())
        daemon.start()
    except (DaemonError, ConfigError) as exc:
        fail(str(exc))

    def stop(signum: int, _frame: FrameType | None) -> None:
        daemon.request_stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    daemon.run()


@click.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_app
def status_command(app: App, fmt: str) -> None:
    """Show the sites with their last and next crawl, the pending outbox and the daemon's heartbeat.

    \b
    Example:
      claimwatch status --format json
    """
    try:
        stale_after = DaemonSettings.from_env().stale_heartbeat
    except (DaemonError, ConfigError) as exc:
        fail(str(exc))
    with app.sessions()() as session:
        status = collect_status(session, stale_after=stale_after)
    if fmt == "json":
        click.echo(json.dumps(status, indent=2))
        return
    try:
        zone: Any = ZoneInfo(app.settings.timezone)
    except (ValueError, ZoneInfoNotFoundError):
        zone = None
    click.echo(_table(status, zone, app.settings.timezone if zone else "UTC"))


def _local(value: str | None, zone: Any) -> str:
    if not value:
        return "-"
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (moment.astimezone(zone) if zone else moment).strftime("%Y-%m-%d %H:%M:%S")


def _table(status: dict[str, Any], zone: Any, zone_name: str) -> str:
    daemon = status["daemon"]
    if daemon["running"]:
        head = (f"daemon: running ({daemon['holder']}), heartbeat {daemon['heartbeat_age_seconds']:.0f} s ago, "
                f"started {_local(daemon['started_at'], zone)}")
    elif daemon["holder"]:
        head = (f"daemon: not running (last heartbeat {daemon['heartbeat_age_seconds']:.0f} s ago "
                f"from {daemon['holder']})")
    else:
        head = "daemon: not running"
    lines = [
        head,
        f"outbox: {status['outbox']['pending']} pending, {status['outbox']['failed']} failed, "
        f"{status['outbox']['unknown']} unknown (see `claimwatch outbox list --status unknown`)",
        f"digest: next {_local(status['digest']['next_run'], zone)}",
        f"times in {zone_name}",
        "",
    ]
    header = ("SITE", "ENABLED", "SCHEDULE", "LAST RUN", "STATUS", "PAGES", "ERRORS", "CHANGES", "NEXT RUN")
    rows: list[tuple[str, ...]] = [header]
    for site in status["sites"]:
        run = site["last_run"] or {}
        state = "crawling" if site["crawling"] else run.get("status", "-")
        rows.append((
            site["name"], "yes" if site["enabled"] else "no", site["schedule"],
            _local(run.get("started_at"), zone), state, str(run.get("pages", "-")),
            str(run.get("errors", "-")), str(run.get("changes", "-")), _local(site["next_run"], zone),
        ))
    rows = [tuple(one_line(cell) for cell in row) for row in rows]  # no escapes from stored names/URLs
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
              for row in rows]
    if len(rows) == 1:
        lines.append("(no sites: add one with `claimwatch sites add`)")
    return "\n".join(lines)


def register(group: click.Group) -> None:
    group.add_command(run_command)
    group.add_command(status_command)

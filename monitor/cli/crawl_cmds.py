from __future__ import annotations

import signal
import sys
import threading

import click

from monitor.cli.app import App, fail, pass_app
from monitor.crawl import CrawlError, Progress, crawl_sites, enabled_site_names
from monitor.stopping import CrawlStop


class LiveProgress:
    """One status line per site, redrawn in place on a terminal."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.states: dict[str, Progress] = {}

    def __call__(self, progress: Progress) -> None:
        with self.lock:
            self.states[progress.site] = Progress(progress.site, progress.done, progress.queued,
                                                  progress.errors, progress.finished)
            parts = [f"{p.site}: {p.done} done, {p.queued} queued, {p.errors} errors"
                     for p in self.states.values()]
            sys.stderr.write("\r\x1b[K" + " | ".join(parts))
            sys.stderr.flush()

    def close(self) -> None:
        if self.states:
            sys.stderr.write("\n")


@click.command("crawl")
@click.option("--site", "sites", multiple=True, help="Site to crawl (repeatable; default: all enabled sites).")
@click.option("--parallel", type=click.IntRange(1, 32), default=None,
              help="Sites crawled at once (default: CLAIMWATCH_MAX_PARALLEL or 2).")
@click.option("--wait", type=click.FloatRange(0), default=0, show_default=True, metavar="SECONDS",
              help="When another process (e.g. `claimwatch run`) is crawling a site, wait up to this long "
                   "for it to finish instead of failing at once.")
@pass_app
def crawl_command(app: App, sites: tuple[str, ...], parallel: int | None, wait: float) -> None:
    """Crawl sites now: fetch, archive, extract and store, one subprocess per site.

    Live progress on a terminal, one summary line per site otherwise (stderr). Exit status 1 when a
    crawl failed or its site could not be reached ("unreachable: connection refused"), or when a site is
    being crawled by another process (see --wait).

    Ctrl-C or SIGTERM stops the crawls: each stores what it fetched and is killed if still running 5 s
    later (at once on a second Ctrl-C); the runs are recorded as interrupted, the sites stay locked until
    every crawl process has exited, and the exit status is 130 (Ctrl-C) or 143 (SIGTERM).

    \b
    Example:
      claimwatch crawl --site example-seller
    """
    sessions = app.sessions(sites=sites)
    with sessions.begin() as session:
        names = list(sites) or enabled_site_names(session)
    if not names:
        fail("no sites to crawl: add one with `claimwatch sites add` or `claimwatch sites import`")
    live = LiveProgress() if sys.stderr.isatty() else None
    stop = CrawlStop()
    try:
        with stop.on_signals():
            summaries = crawl_sites(sessions, app.settings, names, on_progress=live, parallel=parallel,
                                    wait=wait, stop=stop)
    except CrawlError as exc:
        fail(str(exc))
    finally:
        if live is not None:
            live.close()
    for summary in summaries:
        click.echo(summary.line(), err=True)
    if stop.reason is not None:
        click.echo(f"Error: crawl {stop.reason}: the runs are recorded as interrupted", err=True)
        sys.exit(128 + (stop.signum or signal.SIGINT))  # the status a shell gives a command the signal ended
    failed = [s.site for s in summaries if s.status != "finished"]
    if failed:
        fail(f"crawl did not finish for: {', '.join(failed)} (see the logs named above)")


def register(group: click.Group) -> None:
    group.add_command(crawl_command)

"""`claimwatch worker`: a Celery worker that crawls sites; `claimwatch enqueue`: crawl requests for the workers.

See docs/scaling.md.
"""

from __future__ import annotations

import sys
from concurrent.futures import Future

import click

from monitor.cli.app import App, fail, pass_app
from monitor.config import ConfigError, DaemonSettings
from monitor.crawl import CrawlError, RunSummary, enabled_site_names
from monitor.leases import LeaseError


def _queues(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


@click.command("worker")
@click.option("--concurrency", "-c", type=click.IntRange(1, 1000), default=None,
              help="Sites this worker crawls at once, side by side in one crawl process "
                   "[default: CLAIMWATCH_MAX_PARALLEL, 64].")
@click.option("--queues", "-Q", "queues", multiple=True, metavar="NAME[,NAME]",
              help="Queues to take crawl requests from (repeatable; default: CLAIMWATCH_QUEUE or "
                   "claimwatch-crawls).")
@click.option("--pool", type=click.Choice(["threads", "prefork", "solo"]), default="threads", show_default=True,
              help="Celery's execution pool. A task only waits for its crawl process, so threads suffice.")
@click.option("--name", "-n", "nodename", default=None, metavar="NAME@HOST",
              help="The worker's node name (default: claimwatch-<pid>@<host name>).")
@click.option("--loglevel", "-l", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              default="INFO", show_default=True, help="Log level of the worker's log on stderr.")
@pass_app
def worker_command(app: App, concurrency: int | None, queues: tuple[str, ...], pool: str, nodename: str | None,
                   loglevel: str) -> None:
    """Run a Celery worker that crawls the sites the daemon sends it (CLAIMWATCH_EXECUTOR=celery).

    The broker is CLAIMWATCH_BROKER (Redis, redis://HOST:6379/0, or RabbitMQ, amqp://USER:PASS@HOST//);
    the database (--db, CLAIMWATCH_DB) is the one every machine shares, normally PostgreSQL; crawl logs
    and plans go to this machine's CLAIMWATCH_DATA. Runs until SIGTERM or Ctrl-C: it then takes no new
    crawls and lets running ones finish (a second Ctrl-C stops at once; those crawls are handed to
    another worker). See docs/scaling.md.

    \b
    Example:
      CLAIMWATCH_BROKER=redis://queue.internal:6379/0 \\
      claimwatch --db postgresql+psycopg://claimwatch@db.internal/claimwatch worker --concurrency 4
    """
    from monitor.celery_app import WorkerOptions, broker_problem, start_worker

    try:
        lease_ttl = DaemonSettings.from_env().lease_ttl
    except ConfigError as exc:
        fail(str(exc))
    app.sessions()  # the database must exist and be initialised (`claimwatch init`)
    problem = broker_problem(app.settings)
    if problem is not None:
        fail(problem)
    options = WorkerOptions(concurrency=concurrency or app.settings.max_parallel_crawls, queues=_queues(queues),
                            pool=pool, loglevel=loglevel.upper(), nodename=nodename)
    sys.exit(start_worker(app.settings, options, lease_ttl=lease_ttl))


@click.command("enqueue")
@click.option("--site", "sites", multiple=True, help="Site to crawl (repeatable; default: all enabled sites).")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait for the workers' crawls and print their summary lines (stderr).")
@pass_app
def enqueue_command(app: App, sites: tuple[str, ...], wait: bool) -> None:
    """Send crawl requests to the Celery workers (`claimwatch worker`) instead of crawling here.

    With --wait (the default), waits until every site was crawled, prints one summary line per site on
    stderr, and exits 1 when a crawl did not finish. A site being crawled elsewhere is crawled once that
    crawl ends (CLAIMWATCH_BUSY_RETRY, CLAIMWATCH_BUSY_MAX_WAIT). See docs/scaling.md.

    \b
    Example:
      CLAIMWATCH_BROKER=redis://queue.internal:6379/0 claimwatch enqueue --site acme
    """
    from monitor.celery_app import broker_problem
    from monitor.celery_executor import CeleryExecutor

    sessions = app.sessions(sites=sites)
    with sessions() as session:
        names = list(dict.fromkeys(sites)) or enabled_site_names(session)
    if not names:
        fail("no sites to crawl: add one with `claimwatch sites add` or `claimwatch sites import`")
    problem = broker_problem(app.settings)
    if problem is not None:
        fail(problem)
    executor = CeleryExecutor(app.settings)
    futures: dict[str, Future[RunSummary]] = {name: executor.submit(name) for name in names}
    failed: list[str] = []
    try:
        if not wait:
            executor.wait_sent(timeout=60)
            errors = [f"{name}: {future.exception()}" for name, future in futures.items()
                      if future.done() and not future.cancelled() and future.exception() is not None]
            if errors:
                fail("; ".join(errors))
            click.echo(f"queued {len(names)} crawl(s): {', '.join(names)}", err=True)
            return
        for name, future in futures.items():
            try:
                summary = future.result()
            except (CrawlError, LeaseError) as exc:
                click.echo(f"{name}: not crawled: {exc}", err=True)
                failed.append(name)
                continue
            except Exception as exc:  # noqa: BLE001 - a task that failed on its worker
                click.echo(f"{name}: not crawled: {exc}", err=True)
                failed.append(name)
                continue
            click.echo(summary.line(), err=True)
            if summary.status != "finished":
                failed.append(name)
    finally:
        executor.shutdown(0)
    if failed:
        fail(f"crawl did not finish for: {', '.join(failed)}")


def register(group: click.Group) -> None:
    group.add_command(worker_command)
    group.add_command(enqueue_command)

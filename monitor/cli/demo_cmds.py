from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

from monitor.cli.app import App, fail, pass_app
from monitor.demo import run_demo


@click.command("demo")
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              default=Path("claimwatch-demo"), show_default=True,
              help="Folder for the demo's database, data and reports (recreated).")
@pass_app
def demo_command(app: App, folder: Path) -> None:
    """Run the whole loop offline on bundled example sellers: serve, crawl, change, crawl, report.

    Needs nothing but Python; takes well under a minute.

    \b
    Example:
      claimwatch demo --dir /tmp/claimwatch-demo
    """
    result = run_demo(folder, app.settings, say=lambda line: click.echo(line, err=True))
    rounds_ok = all(s.status == "finished" for round_ in result.rounds for s in round_)
    click.echo("")
    click.echo(result.table)
    click.echo(f"{result.changes} changes and {result.events} page events detected in {result.seconds:.1f} s")
    click.echo(f"database: {result.db_url}")
    for label, path in result.files.items():
        click.echo(f"{label}: {path}")
    # the command as this shell can run it: `claimwatch` when on PATH, else the path it was started by
    command = "claimwatch" if shutil.which("claimwatch") else os.path.relpath(sys.argv[0])
    if command.endswith(".py"):
        command = "python -m monitor.cli"
    click.echo(f"try: {command} --db {result.db_url} changes --format json")
    if not rounds_ok:
        fail("a demo crawl did not finish; see the logs above")


def register(group: click.Group) -> None:
    group.add_command(demo_command)

"""The `claimwatch` command line: thin commands over library functions.

Each command module exposes ``register(group)``; machine-readable output goes to stdout (or --out),
logs and progress to stderr; any error is one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from monitor.cli.app import App, fail  # noqa: F401 - re-exported for command modules

COMMAND_MODULES = (
    "monitor.cli.db_cmds",
    "monitor.cli.sites_cmds",
    "monitor.cli.crawl_cmds",
    "monitor.cli.export_cmds",
    "monitor.cli.demo_cmds",
    "monitor.cli.reextract_cmds",
    "monitor.cli.report_cmds",
    "monitor.cli.run_cmds",
    "monitor.cli.evidence_cmds",
    "monitor.cli.web_cmds",
    "monitor.cli.worker_cmds",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--db", "db_url", envvar="CLAIMWATCH_DB", metavar="URL",
              help="Database URL (default: SQLite file claimwatch.db in the working directory; "
                   "e.g. postgresql+psycopg://user@host/db). Env: CLAIMWATCH_DB.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details to stderr.")
@click.version_option(package_name="claimwatch")
@click.pass_context
def cli(ctx: click.Context, db_url: str | None, verbose: bool) -> None:
    """claimwatch: watch supplement sellers' pages for changed claims, guarantees and disclaimers.

    \b
    Example:
      claimwatch init
      claimwatch sites import watchlist.yaml
      claimwatch crawl
      claimwatch changes --format table
    """
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = App.from_environment(db_url)
    ctx.call_on_close(ctx.obj.close)


def _register_all(group: click.Group) -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a command module not written yet
                continue
            raise
        module.register(group)


_register_all(cli)


def main(argv: list[str] | None = None) -> Any:
    return cli.main(args=argv, prog_name="claimwatch")

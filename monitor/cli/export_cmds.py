from __future__ import annotations

import json
from pathlib import Path

import click

from monitor.cli.app import App, fail, parse_since, pass_app
from monitor.export import changes_table, export_pages, pages_to_csv, query_changes
from monitor.statements import KINDS, SEVERITIES


def _write(text: str, out: Path | None) -> None:
    if out is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    click.echo(f"wrote {out}", err=True)


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.option("--site", default=None, help="Only this site.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to a file instead of stdout.")
@pass_app
def export_command(app: App, fmt: str, site: str | None, out: Path | None) -> None:
    """Export each page's latest snapshot with its statements (JSON contract in docs/json-contract.md).

    \b
    Example:
      claimwatch export --format json --site example-seller > pages.json
    """
    with app.sessions(sites=[site]).begin() as session:
        document = export_pages(session, site)
    _write(json.dumps(document, indent=2, ensure_ascii=False) if fmt == "json" else pages_to_csv(document), out)


@click.command("changes")
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="table", show_default=True)
@click.option("--since", default=None, help="Only changes detected at or after this ISO date/time (UTC).")
@click.option("--site", default=None, help="Only this site.")
@click.option("--min-severity", type=click.Choice(SEVERITIES), default="info", show_default=True)
@click.option("--kind", "kinds", multiple=True, type=click.Choice(KINDS), help="Only this kind (repeatable).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to a file instead of stdout.")
@pass_app
def changes_command(app: App, fmt: str, since: str | None, site: str | None, min_severity: str,
                    kinds: tuple[str, ...], out: Path | None) -> None:
    """List statement changes and page events (gone, error, moved, recovered).

    \b
    Example:
      claimwatch changes --format json --since 2026-11-01 --min-severity medium
    """
    with app.sessions(sites=[site]).begin() as session:
        document = query_changes(session, since=parse_since(since), site=site, min_severity=min_severity,
                                 kinds=kinds)
    _write(json.dumps(document, indent=2, ensure_ascii=False) if fmt == "json" else changes_table(document), out)


def register(group: click.Group) -> None:
    group.add_command(export_command)
    group.add_command(changes_command)

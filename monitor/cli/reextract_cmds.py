from __future__ import annotations

import click

from monitor.cli.app import App, pass_app
from monitor.extract import extractor_version
from monitor.reextract import reextract


@click.command("reextract")
@click.option("--site", default=None, help="Only this site.")
@click.option("--all", "force", is_flag=True, help="Also snapshots already made by the current rules.")
@pass_app
def reextract_command(app: App, site: str | None, force: bool) -> None:
    """Re-run statement extraction over stored pages after the rules changed, without refetching.

    Statements are rewritten in place under the current extractor version and the changes between
    snapshots are recomputed; nothing of this is reported as a site change.

    \b
    Example:
      claimwatch reextract --site example-seller
    """
    summary = reextract(app.sessions(sites=[site]), site=site, force=force)
    click.echo(
        f"re-extracted {summary.snapshots} snapshots of {summary.pages} pages with extractor {extractor_version()}"
        f" ({summary.skipped} without a stored body); changes {summary.changes_before} -> {summary.changes_after}",
        err=True,
    )


def register(group: click.Group) -> None:
    group.add_command(reextract_command)

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from monitor.cli.app import App, fail, pass_app
from monitor.sites import SiteNotFound, list_sites, remove_site, upsert_sites
from monitor.watchlist import WatchlistError, load_watchlist, site_from_mapping


@click.group("sites")
def sites_group() -> None:
    """Manage the watched sites (the watchlist).

    \b
    Example:
      claimwatch sites import watchlist.yaml
      claimwatch sites list
    """


@sites_group.command("add")
@click.argument("name")
@click.option("--url", "urls", multiple=True, required=True, help="Start URL (repeatable).")
@click.option("--allow", "allow", multiple=True, help="Path prefix the spider may follow (repeatable).")
@click.option("--max-pages", type=int, default=50, show_default=True, help="Most pages per crawl.")
@click.option("--schedule", default="0 6 * * *", show_default=True, help="Cron expression for `run`.")
@click.option("--render-js", is_flag=True, help="Render pages in Chromium (JavaScript sites).")
@click.option("--recipient", "recipients", multiple=True, help="Analyst email for this site (repeatable).")
@click.option("--disabled", is_flag=True, help="Add the site but do not crawl it yet.")
@pass_app
def add_command(app: App, name: str, urls: tuple[str, ...], allow: tuple[str, ...], max_pages: int,
                schedule: str, render_js: bool, recipients: tuple[str, ...], disabled: bool) -> None:
    """Add a site, or update the site of that name.

    \b
    Example:
      claimwatch sites add acme --url https://shop.example/ --allow /products/ --max-pages 100
    """
    try:
        spec = site_from_mapping({
            "name": name, "start_urls": list(urls), "allow": list(allow), "max_pages": max_pages,
            "schedule": schedule, "render_js": render_js, "recipients": list(recipients),
            "enabled": not disabled,
        })
    except WatchlistError as exc:
        fail(str(exc))
    with app.sessions().begin() as session:
        added, _updated = upsert_sites(session, [spec])
    click.echo(f"{'added' if added else 'updated'} site {spec.name}", err=True)


@sites_group.command("import")
@click.argument("watchlist", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def import_command(app: App, watchlist: Path) -> None:
    """Add or update every site of a watchlist YAML file (by name). Nothing is written unless the whole
    file is valid.

    \b
    Example:
      claimwatch sites import watchlist.yaml
    """
    try:
        specs = load_watchlist(watchlist)
    except WatchlistError as exc:
        fail(str(exc))
    with app.sessions().begin() as session:
        added, updated = upsert_sites(session, specs)
    click.echo(f"imported {len(specs)} sites from {watchlist}: {added} added, {updated} updated", err=True)


@sites_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_app
def list_command(app: App, fmt: str) -> None:
    """List the watched sites.

    \b
    Example:
      claimwatch sites list --format json
    """
    with app.sessions().begin() as session:
        sites: list[dict[str, Any]] = [
            {"name": s.name, "start_urls": s.start_urls, "allow": s.allow, "max_pages": s.max_pages,
             "schedule": s.schedule, "render_js": s.render_js, "recipients": s.recipients, "enabled": s.enabled}
            for s in list_sites(session)
        ]
    if fmt == "json":
        click.echo(json.dumps({"sites": sites}, indent=2))
        return
    if not sites:
        click.echo("(no sites: add one with `claimwatch sites add` or `claimwatch sites import`)")
    for site in sites:
        state = "" if site["enabled"] else "  [disabled]"
        click.echo(f"{site['name']:<24} {site['schedule']:<14} max {site['max_pages']:<5} "
                   f"{' '.join(site['start_urls'])}{state}")


@sites_group.command("remove")
@click.argument("name")
@pass_app
def remove_command(app: App, name: str) -> None:
    """Remove a site and all of its history.

    \b
    Example:
      claimwatch sites remove acme
    """
    try:
        with app.sessions().begin() as session:
            remove_site(session, name)
    except SiteNotFound as exc:
        fail(str(exc))
    click.echo(f"removed site {name}", err=True)


def register(group: click.Group) -> None:
    group.add_command(sites_group)

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from monitor.cli.app import App, fail, pass_app
from monitor.sites import SiteExists, SiteNotFound, add_site, edit_site, list_sites, remove_site, upsert_sites
from monitor.terminal import one_line
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
@click.option("--host", "hosts", multiple=True,
              help="Another host that is the site's own, HOST or HOST:PORT (repeatable; see docs/architecture.md).")
@pass_app
def add_command(app: App, name: str, urls: tuple[str, ...], allow: tuple[str, ...], max_pages: int,
                schedule: str, render_js: bool, recipients: tuple[str, ...], disabled: bool,
                hosts: tuple[str, ...]) -> None:
    """Add a new site. NAME is a slug (letters, digits, '-', '_', '.'); a site of that name already
    existing is an error: change it with `claimwatch sites edit`.

    \b
    Example:
      claimwatch sites add acme --url https://shop.example/ --allow /products/ --max-pages 100
    """
    try:
        spec = site_from_mapping({
            "name": name, "start_urls": list(urls), "allow": list(allow), "max_pages": max_pages,
            "schedule": schedule, "render_js": render_js, "recipients": list(recipients),
            "enabled": not disabled, "hosts": list(hosts),
        })
        with app.sessions().begin() as session:
            add_site(session, spec)
    except (WatchlistError, SiteExists) as exc:
        fail(str(exc))
    click.echo(f"added site {spec.name}", err=True)


@sites_group.command("edit")
@click.argument("name")
@click.option("--url", "urls", multiple=True, help="Start URL (repeatable; replaces the start URLs).")
@click.option("--allow", "allow", multiple=True,
              help="Path prefix the spider may follow (repeatable; replaces the prefixes).")
@click.option("--clear-allow", is_flag=True, help="Remove every path prefix (the whole host may be crawled).")
@click.option("--max-pages", type=int, default=None, help="Most pages per crawl.")
@click.option("--schedule", default=None, help="Cron expression for `run`.")
@click.option("--render-js/--no-render-js", default=None, help="Render pages in Chromium, or not.")
@click.option("--recipient", "recipients", multiple=True,
              help="Analyst email for this site (repeatable; replaces the recipients).")
@click.option("--clear-recipients", is_flag=True, help="Remove every recipient of this site.")
@click.option("--enable/--disable", "enabled", default=None, help="Crawl the site, or stop crawling it.")
@click.option("--host", "hosts", multiple=True,
              help="Another host that is the site's own, HOST or HOST:PORT (repeatable; replaces the hosts).")
@click.option("--clear-hosts", is_flag=True, help="Remove every named host (the start URLs' hosts remain).")
@pass_app
def edit_command(app: App, name: str, urls: tuple[str, ...], allow: tuple[str, ...], clear_allow: bool,
                 max_pages: int | None, schedule: str | None, render_js: bool | None,
                 recipients: tuple[str, ...], clear_recipients: bool, enabled: bool | None,
                 hosts: tuple[str, ...], clear_hosts: bool) -> None:
    """Change only the options given of an existing site; everything else stays as it is. A repeatable
    option given replaces that whole list.

    \b
    Example:
      claimwatch sites edit acme --max-pages 200 --recipient analyst@agency.example --disable
    """
    if allow and clear_allow:
        fail("use --allow or --clear-allow, not both")
    if recipients and clear_recipients:
        fail("use --recipient or --clear-recipients, not both")
    if hosts and clear_hosts:
        fail("use --host or --clear-hosts, not both")
    given: dict[str, Any] = {
        "start_urls": list(urls) or None, "allow": [] if clear_allow else list(allow) or None,
        "max_pages": max_pages, "schedule": schedule, "render_js": render_js,
        "recipients": [] if clear_recipients else list(recipients) or None, "enabled": enabled,
        "hosts": [] if clear_hosts else list(hosts) or None,
    }
    changes = {key: value for key, value in given.items() if value is not None}
    if not changes:
        fail("nothing to change: give at least one option (see `claimwatch sites edit --help`)")
    try:
        with app.sessions().begin() as session:
            edit_site(session, name, changes)
    except (WatchlistError, SiteNotFound) as exc:
        fail(str(exc))
    click.echo(f"updated site {name}: {', '.join(sorted(changes))}", err=True)


@sites_group.command("import")
@click.argument("watchlist", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def import_command(app: App, watchlist: Path) -> None:
    """Add or update every site of a watchlist YAML file (by name). Nothing is written unless the whole
    file is valid. A site already watched takes every field from the file (a key left out gets its
    default); to change single options use `claimwatch sites edit`.

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
             "schedule": s.schedule, "render_js": s.render_js, "recipients": s.recipients, "enabled": s.enabled,
             "hosts": s.hosts}
            for s in list_sites(session)
        ]
    if fmt == "json":
        click.echo(json.dumps({"sites": sites}, indent=2))
        return
    if not sites:
        click.echo("(no sites: add one with `claimwatch sites add` or `claimwatch sites import`)")
    for site in sites:  # cells cleaned: names and URLs stored before validation may hold escapes
        state = "" if site["enabled"] else "  [disabled]"
        click.echo(f"{one_line(site['name']):<24} {one_line(site['schedule']):<14} max {site['max_pages']:<5} "
                   f"{one_line(' '.join(site['start_urls']))}{state}")


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

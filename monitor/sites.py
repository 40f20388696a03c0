"""Watched sites in the database: upsert from the watchlist, list, remove."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.models import Site
from monitor.watchlist import SiteSpec


class SiteNotFound(LookupError):
    pass


def upsert_sites(session: Session, specs: Sequence[SiteSpec]) -> tuple[int, int]:
    """Insert or update sites by name; returns (added, updated). Validation happened before."""
    existing = {site.name: site for site in session.scalars(select(Site).where(
        Site.name.in_([spec.name for spec in specs])))}
    added = updated = 0
    for spec in specs:
        site = existing.get(spec.name)
        if site is None:
            site = Site(name=spec.name)
            session.add(site)
            added += 1
        else:
            updated += 1
        site.start_urls = list(spec.start_urls)
        site.allow = list(spec.allow)
        site.max_pages = spec.max_pages
        site.schedule = spec.schedule
        site.render_js = spec.render_js
        site.recipients = list(spec.recipients)
        site.enabled = spec.enabled
    return added, updated


def get_site(session: Session, name: str) -> Site:
    site = session.scalar(select(Site).where(Site.name == name))
    if site is None:
        raise SiteNotFound(f"no site named {name!r} (see `claimwatch sites list`)")
    return site


def list_sites(session: Session) -> list[Site]:
    return list(session.scalars(select(Site).order_by(Site.name)))


def remove_site(session: Session, name: str) -> None:
    session.delete(get_site(session, name))


def site_to_spec(site: Site) -> SiteSpec:
    return SiteSpec(
        name=site.name, start_urls=tuple(site.start_urls), allow=tuple(site.allow), max_pages=site.max_pages,
        schedule=site.schedule, render_js=site.render_js, recipients=tuple(site.recipients), enabled=site.enabled,
    )

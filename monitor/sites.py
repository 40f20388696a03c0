"""Watched sites in the database: add, edit, upsert from the watchlist, list, remove."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.models import Site
from monitor.watchlist import SiteSpec, site_from_mapping


class SiteNotFound(LookupError):
    pass


class SiteExists(ValueError):
    pass


def _apply(site: Site, spec: SiteSpec) -> None:
    site.start_urls = list(spec.start_urls)
    site.allow = list(spec.allow)
    site.max_pages = spec.max_pages
    site.schedule = spec.schedule
    site.render_js = spec.render_js
    site.recipients = list(spec.recipients)
    site.enabled = spec.enabled
    site.hosts = list(spec.hosts)


def upsert_sites(session: Session, specs: Sequence[SiteSpec]) -> tuple[int, int]:
    """Insert or update sites by name, every field set from its spec (the watchlist is the whole truth
    about a site); returns (added, updated). Validation happened before."""
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
        _apply(site, spec)
    return added, updated


def add_site(session: Session, spec: SiteSpec) -> None:
    """Insert a new site; an existing name raises SiteExists (change it with ``edit_site``)."""
    if session.scalar(select(Site.id).where(Site.name == spec.name)) is not None:
        raise SiteExists(f"site {spec.name!r} already exists: change it with `claimwatch sites edit {spec.name}`")
    site = Site(name=spec.name)
    _apply(site, spec)
    session.add(site)


def edit_site(session: Session, name: str, changes: Mapping[str, Any]) -> SiteSpec:
    """Change only the given fields of a site (watchlist keys, e.g. ``{"max_pages": 10}``), validated as a
    watchlist entry is; raises SiteNotFound or WatchlistError."""
    site = get_site(session, name)
    current = site_to_spec(site)
    merged: dict[str, Any] = {
        "name": current.name, "start_urls": list(current.start_urls), "allow": list(current.allow),
        "max_pages": current.max_pages, "schedule": current.schedule, "render_js": current.render_js,
        "recipients": list(current.recipients), "enabled": current.enabled, "hosts": list(current.hosts),
    }
    merged.update({key: value for key, value in changes.items() if key != "name"})
    spec = site_from_mapping(merged)
    _apply(site, spec)
    return spec


def get_site(session: Session, name: str) -> Site:
    site = session.scalar(select(Site).where(Site.name == name))
    if site is None:
        raise SiteNotFound(f"unknown site: {name}")
    return site


def unknown_sites(session: Session, names: Iterable[str]) -> list[str]:
    """The names, in the order given, that no site has."""
    wanted = list(dict.fromkeys(names))
    known = set(session.scalars(select(Site.name).where(Site.name.in_(wanted)))) if wanted else set()
    return [name for name in wanted if name not in known]


def list_sites(session: Session) -> list[Site]:
    return list(session.scalars(select(Site).order_by(Site.name)))


def remove_site(session: Session, name: str) -> None:
    session.delete(get_site(session, name))


def site_to_spec(site: Site) -> SiteSpec:
    return SiteSpec(
        name=site.name, start_urls=tuple(site.start_urls), allow=tuple(site.allow), max_pages=site.max_pages,
        schedule=site.schedule, render_js=site.render_js, recipients=tuple(site.recipients), enabled=site.enabled,
        hosts=tuple(site.hosts or ()),
    )

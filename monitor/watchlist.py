"""The watchlist: sites to watch, from YAML or the command line, validated before anything is written."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from monitor.hosts import HostError, parse_host_entry
from monitor.schedules import CronError, validate_cron

DEFAULT_SCHEDULE = "0 6 * * *"
DEFAULT_MAX_PAGES = 50
SITE_NAME_MAX = 64
# a site's name becomes part of file names (crawl logs, WARC files): a slug, never a path
_SITE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_KEYS = frozenset({"name", "start_urls", "allow", "max_pages", "schedule", "render_js", "recipients", "enabled",
                   "hosts"})


class WatchlistError(ValueError):
    """A watchlist problem, phrased as one line naming the site and the field."""


@dataclass(frozen=True, slots=True)
class SiteSpec:
    name: str
    start_urls: tuple[str, ...]
    allow: tuple[str, ...] = ()
    max_pages: int = DEFAULT_MAX_PAGES
    schedule: str = DEFAULT_SCHEDULE
    render_js: bool = False
    recipients: tuple[str, ...] = field(default_factory=tuple)
    enabled: bool = True
    # hosts besides those of its start URLs that are the site's own (monitor/hosts.py): "host" or "host:port"
    hosts: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        validate_site_name(self.name)  # also when a spec is built in Python, not from YAML or the CLI


def _fail(where: str, field_name: str, why: str) -> WatchlistError:
    return WatchlistError(f"{where}: field '{field_name}': {why}")


def validate_site_name(name: str) -> str:
    """A site name is a slug: letters, digits, '-', '_' and '.', starting with a letter or digit, at most
    64 characters. ``validate_site_name("../../x")`` raises ``site '../../x': field 'name': ...``."""
    if len(name) > SITE_NAME_MAX or not _SITE_NAME.fullmatch(name):
        raise _fail(f"site {name!r}", "name", f"not a valid site name: use letters, digits, '-', '_' and '.', "
                    f"starting with a letter or digit, at most {SITE_NAME_MAX} characters")
    return name


def validate_url(url: object, where: str, field_name: str = "start_urls") -> str:
    if not isinstance(url, str) or not url.strip():
        raise _fail(where, field_name, f"expected a URL, got {url!r}")
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise _fail(where, field_name, f"not an http(s) URL: {url!r}")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise _fail(where, field_name, f"bad port in {url!r}") from exc
    return url.strip()


def _string_list(value: object, where: str, field_name: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise _fail(where, field_name, f"expected a list of strings, got {value!r}")
    return [item.strip() for item in value]


def site_from_mapping(raw: Mapping[str, Any], index: int = 0) -> SiteSpec:
    """Validate one site entry; every problem names the site and the field."""
    name = raw.get("name")
    where = f"site {name!r}" if isinstance(name, str) and name.strip() else f"site #{index + 1}"
    if not isinstance(name, str) or not name.strip():
        raise _fail(where, "name", "missing or empty")
    validate_site_name(name.strip())
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise _fail(where, unknown[0], f"unknown key (allowed: {', '.join(sorted(_KEYS))})")
    if "start_urls" not in raw:
        raise _fail(where, "start_urls", "missing")
    start_urls = [validate_url(url, where) for url in _string_list(raw["start_urls"], where, "start_urls")]
    if not start_urls:
        raise _fail(where, "start_urls", "needs at least one URL")
    allow = _string_list(raw.get("allow", []), where, "allow")
    for prefix in allow:
        if not prefix.startswith("/"):
            raise _fail(where, "allow", f"path prefixes start with '/': {prefix!r}")
    max_pages = raw.get("max_pages", DEFAULT_MAX_PAGES)
    if isinstance(max_pages, bool) or not isinstance(max_pages, int) or max_pages < 1:
        raise _fail(where, "max_pages", f"expected a positive whole number, got {max_pages!r}")
    schedule = raw.get("schedule", DEFAULT_SCHEDULE)
    if not isinstance(schedule, str):
        raise _fail(where, "schedule", f"expected a cron expression, got {schedule!r}")
    try:
        validate_cron(schedule)
    except CronError as exc:
        raise _fail(where, "schedule", str(exc)) from exc
    render_js = raw.get("render_js", False)
    enabled = raw.get("enabled", True)
    for key, value in (("render_js", render_js), ("enabled", enabled)):
        if not isinstance(value, bool):
            raise _fail(where, key, f"expected true or false, got {value!r}")
    recipients = _string_list(raw.get("recipients", []), where, "recipients")
    for address in recipients:
        if "@" not in address or any(ch.isspace() for ch in address):
            raise _fail(where, "recipients", f"not an email address: {address!r}")
    hosts = [_host_entry(entry, where) for entry in _string_list(raw.get("hosts", []), where, "hosts")]
    return SiteSpec(
        name=name.strip(),
        start_urls=tuple(start_urls),
        allow=tuple(allow),
        max_pages=max_pages,
        schedule=schedule.strip(),
        render_js=render_js,
        recipients=tuple(recipients),
        enabled=enabled,
        hosts=tuple(dict.fromkeys(hosts)),
    )


def _host_entry(entry: str, where: str) -> str:
    """A ``hosts:`` entry as stored: ``host`` or ``host:port``, lower case (IPv6 in brackets)."""
    try:
        host, port = parse_host_entry(entry)
    except HostError as exc:
        raise _fail(where, "hosts", str(exc)) from exc
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port else shown


def parse_watchlist(text: str, source: str = "watchlist") -> list[SiteSpec]:
    """Parse and validate a whole watchlist; raises WatchlistError on the first problem."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise WatchlistError(f"{source}: malformed YAML{where}: {problem}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("sites"), list):
        raise WatchlistError(f"{source}: expected a mapping with a 'sites' list")
    unknown = sorted(set(document) - {"sites"})
    if unknown:
        raise WatchlistError(f"{source}: unknown top-level key {unknown[0]!r}")
    specs: list[SiteSpec] = []
    seen: set[str] = set()
    for index, entry in enumerate(document["sites"]):
        if not isinstance(entry, dict):
            raise WatchlistError(f"{source}: site #{index + 1}: expected a mapping, got {entry!r}")
        spec = site_from_mapping(entry, index)
        if spec.name in seen:
            raise _fail(f"site {spec.name!r}", "name", "appears twice in the watchlist")
        seen.add(spec.name)
        specs.append(spec)
    return specs


def load_watchlist(path: Path) -> list[SiteSpec]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WatchlistError(f"{path}: cannot read: {exc}") from exc
    return parse_watchlist(text, str(path))


def specs_to_yaml(specs: Sequence[SiteSpec]) -> str:
    return yaml.safe_dump(
        {"sites": [
            {"name": s.name, "start_urls": list(s.start_urls), "allow": list(s.allow), "max_pages": s.max_pages,
             "schedule": s.schedule, "render_js": s.render_js, "recipients": list(s.recipients),
             **({"hosts": list(s.hosts)} if s.hosts else {})}
            for s in specs
        ]},
        sort_keys=False,
    )

"""`claimwatch evidence URL --out bundle.zip` and `claimwatch evidence verify bundle.zip` (docs/evidence.md)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from monitor.cli.app import App, fail, parse_since, pass_app
from monitor.evidence import EvidenceError, build_bundle, verify_bundle, write_bundle, write_run_warc


class EvidenceGroup(click.Group):
    """``claimwatch evidence URL ...`` runs ``bundle``; ``claimwatch evidence verify ...`` verifies."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["bundle", *args]
        return super().parse_args(ctx, args)


def _moment(value: str | None) -> datetime | None:
    return parse_since(value, "--at")


@click.group("evidence", cls=EvidenceGroup)
def evidence_group() -> None:
    """Evidence bundles: a page's archived fetches, statements, report and screenshots in one zip.

    `claimwatch evidence URL --out FILE.zip` is short for `claimwatch evidence bundle URL --out FILE.zip`.

    \b
    Example:
      claimwatch evidence https://shop.example/guarantee --change 42 --out change-42.zip
      claimwatch evidence verify change-42.zip
      claimwatch evidence warc --run 7 --out run7.warc.gz
    """


@evidence_group.command("bundle")
@click.argument("url")
@click.option("--change", "change_id", type=int, default=None, help="The change to document (its id).")
@click.option("--at", "at", default=None, metavar="ISO",
              help="Document the version current at this UTC date/time and the one before it.")
@click.option("--site", default=None, help="The site, when several watch the same URL.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The zip file to write.")
@pass_app
def bundle_command(app: App, url: str, change_id: int | None, at: str | None, site: str | None,
                   out: Path) -> None:
    """Write an evidence bundle for one page: the WARC records before and after, both versions'
    statements as JSON, the change report (HTML), the screenshots and a manifest of SHA-256s.

    Without --change or --at: the page's latest version and the one before it. Prints the manifest's
    SHA-256 (keep it with the case file).

    \b
    Example:
      claimwatch evidence bundle https://shop.example/guarantee --at 2026-11-02T06:00:00Z --out g.zip
    """
    if change_id is not None and at:
        fail("use --change or --at, not both")
    moment = _moment(at)
    try:
        with app.sessions(sites=[site]).begin() as session:
            bundle = build_bundle(session, app.settings, url, change_id=change_id, at=moment, site=site)
    except EvidenceError as exc:
        fail(str(exc))
    try:
        digest = write_bundle(bundle, out)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    click.echo(f"wrote {out}: {len(bundle.files) + 1} files, manifest SHA-256 {digest}", err=True)


@evidence_group.command("verify")
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--manifest-sha256", "manifest_sha256", default=None, metavar="HEX",
              help="Fail unless manifest.json has this SHA-256 (the one printed when the bundle was made).")
def verify_command(bundle: Path, manifest_sha256: str | None) -> None:
    """Re-check an evidence bundle: exit status 0 and "OK: ..." when it is intact, 1 and "FAILED: ..."
    when any file was changed, removed or added, or the zip or its manifest is not one claimwatch makes
    (duplicate, unsafe or symlinked members, a manifest missing a check). Members are streamed, never
    read whole. The manifest cannot vouch for itself: pin it with --manifest-sha256.

    \b
    Example:
      claimwatch evidence verify change-42.zip --manifest-sha256 3b1f...
    """
    if not bundle.is_file():
        fail(f"no such file: {bundle}")
    result = verify_bundle(bundle, manifest_sha256=manifest_sha256)
    if not result.ok:
        fail(result.message)
    click.echo(result.message)


@evidence_group.command("warc")
@click.option("--run", "run_id", type=int, required=True,
              help="The crawl run's id (`claimwatch crawl` prints it; `status --format json` too).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The .warc.gz file to write.")
@pass_app
def warc_command(app: App, run_id: int, out: Path) -> None:
    """Write one WARC file of a crawl run's archived fetches, copied byte for byte from wherever they are
    kept (this machine's data folder, or the database with CLAIMWATCH_EVIDENCE=database), for warcio,
    pywb or ReplayWeb.page.

    \b
    Example:
      claimwatch evidence warc --run 7 --out run7.warc.gz
      python -m warcio.cli check -v run7.warc.gz
    """
    try:
        with app.sessions().begin() as session:
            count = write_run_warc(session, app.settings, run_id, out)
    except EvidenceError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    click.echo(f"wrote {out}: {count} archived fetches of run {run_id}", err=True)


def register(group: click.Group) -> None:
    group.add_command(evidence_group)

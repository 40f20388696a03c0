"""The public JSON contracts (docs/json-contract.md, docs/schemas/) hold for real crawl output."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import jsonschema
import pytest
from crawlkit import crawl, setup_site

SCHEMAS = Path(__file__).resolve().parent.parent / "docs" / "schemas"
DEMO = Path(__file__).resolve().parent.parent / "monitor" / "demo_sites"


def _schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_THROTTLE_START_DELAY", "0.05")
    monkeypatch.setenv("CLAIMWATCH_SCREENSHOTS", "0")  # screenshots have tests of their own (test_evidence)


def test_export_and_changes_follow_the_documented_schemas(run_cli, db_url, site_server) -> None:
    server = site_server(DEMO / "v1")
    setup_site(run_cli, db_url, "calmleg", f"{server.url}/calmleg/", "--allow", "/calmleg/")
    crawl(run_cli, db_url)
    server.set_root(DEMO / "v2")
    crawl(run_cli, db_url)

    exported = json.loads(run_cli("export", "--format", "json", db=db_url).stdout)
    jsonschema.validate(exported, _schema("export.schema.json"))
    assert exported["pages"] and all(p["site"] == "calmleg" for p in exported["pages"])
    assert any(p["statements"] for p in exported["pages"])

    changes = json.loads(run_cli("changes", "--format", "json", db=db_url).stdout)
    jsonschema.validate(changes, _schema("changes.schema.json"))
    assert changes["changes"], "version 2 of the demo seller changed statements"

    high = json.loads(run_cli("changes", "--format", "json", "--min-severity", "high", db=db_url).stdout)
    assert high["changes"] and all(c["severity"] == "high" for c in high["changes"])
    future = json.loads(run_cli("changes", "--format", "json", "--since", "2999-01-01", db=db_url).stdout)
    assert future["changes"] == []
    only_claims = json.loads(run_cli("changes", "--format", "json", "--kind", "claim", db=db_url).stdout)
    assert {c["kind"] for c in only_claims["changes"]} <= {"claim"}

    table = run_cli("changes", "--format", "table", db=db_url).stdout
    assert "SEVERITY" in table and "calmleg" in table

    rows = list(csv.DictReader(io.StringIO(run_cli("export", "--format", "csv", db=db_url).stdout)))
    assert rows and set(rows[0]) >= {"url", "site", "kind", "type", "text", "severity"}
    nobody = run_cli("export", "--site", "nobody", db=db_url)
    assert nobody.exit_code == 1 and nobody.stderr.strip() == "Error: unknown site: nobody" and nobody.stdout == ""


def test_bad_since_is_a_one_line_error(run_cli, sqlite_url) -> None:
    assert run_cli("init", db=sqlite_url).exit_code == 0
    result = run_cli("changes", "--since", "yesterday", db=sqlite_url)
    assert result.exit_code != 0 and "--since" in result.stderr and result.stdout == ""

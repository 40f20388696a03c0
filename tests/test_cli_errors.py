"""The CLI is honest about what it was asked: an unknown --site, an unusable --db URL and a missing
database are one-line errors with a non-zero exit, and no command but `init` leaves a database file behind."""

from __future__ import annotations

from pathlib import Path

import pytest

UNKNOWN_SITE = [
    ("crawl", "--site", "nobody"),
    ("crawl", "--site", "shop", "--site", "nobody"),
    ("export", "--format", "json", "--site", "nobody"),
    ("export", "--format", "csv", "--site", "nobody"),
    ("changes", "--format", "table", "--site", "nobody"),
    ("changes", "--format", "json", "--site", "nobody"),
    ("report", "--site", "nobody"),
    ("reextract", "--site", "nobody"),
    ("evidence", "https://shop.example/", "--site", "nobody", "--out", "bundle.zip"),
]


@pytest.mark.parametrize("argv", UNKNOWN_SITE, ids=" ".join)
def test_an_unknown_site_is_an_error_for_every_command(run_cli, sqlite_url: str, tmp_path: Path,
                                                       argv: tuple[str, ...]) -> None:
    assert run_cli("init", db=sqlite_url).exit_code == 0
    assert run_cli("sites", "add", "shop", "--url", "http://127.0.0.1:1/", db=sqlite_url).exit_code == 0
    result = run_cli(*argv, db=sqlite_url)
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: unknown site: nobody"
    assert result.stdout == ""
    assert not (tmp_path / "bundle.zip").exists()


@pytest.mark.parametrize("url", ["postgres://user@127.0.0.1/claimwatch", "mysql://user@127.0.0.1/claimwatch",
                                 "mysql+pymysql://user:secret@127.0.0.1/claimwatch", "oracle://x@y/z",
                                 "postgresql+psycopg2://user@127.0.0.1/claimwatch", "garbage", "://",
                                 "user:secret@127.0.0.1/claimwatch"])
@pytest.mark.parametrize("argv", [("init",), ("changes",), ("sites", "list")], ids=" ".join)
def test_an_unusable_database_url_is_a_one_line_error(run_cli, url: str, argv: tuple[str, ...]) -> None:
    result = run_cli(*argv, db=url)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "database URL" in lines[0] and "postgresql+psycopg://" in lines[0], result.stderr
    assert "secret" not in result.stderr  # the password is never echoed


NEEDS_A_DATABASE = [
    ("export", "--format", "json"),
    ("export", "--format", "csv"),
    ("changes",),
    ("report",),
    ("report", "--send"),
    ("status",),
    ("sites", "list"),
    ("outbox", "list"),
    ("evidence", "https://shop.example/", "--out", "bundle.zip"),
    ("sites", "add", "shop", "--url", "https://shop.example/"),
    ("sites", "edit", "shop", "--max-pages", "3"),
    ("sites", "remove", "shop"),
    ("crawl",),
    ("reextract",),
]


@pytest.mark.parametrize("argv", NEEDS_A_DATABASE, ids=" ".join)
def test_a_missing_sqlite_file_is_an_error_and_is_not_created(run_cli, tmp_path: Path,
                                                                argv: tuple[str, ...]) -> None:
    path = tmp_path / "nowhere" / "claimwatch.db"
    result = run_cli(*argv, db=f"sqlite:///{path}")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: no database at {path} (create it with `claimwatch init`)"]
    assert not path.parent.exists()


def test_the_default_database_is_not_created_by_a_read_only_command(run_cli, tmp_path: Path) -> None:
    result = run_cli("changes")  # no --db: claimwatch.db in the working directory (tmp_path)
    assert result.exit_code == 1 and "no database at" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert run_cli("init").exit_code == 0
    assert (tmp_path / "claimwatch.db").is_file()
    result = run_cli("changes")
    assert result.exit_code == 0 and "(no changes)" in result.stdout

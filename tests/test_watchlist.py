"""The watchlist: every bad input is one line naming the site and the field, and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import crontab_cases
import pytest

from monitor.watchlist import SiteSpec, WatchlistError, parse_watchlist

GOOD = """
sites:
  - name: example-seller
    start_urls: ["https://shop.example/"]
    allow: ["/products/", "/pages/"]
    max_pages: 50
    schedule: "0 6 * * *"
    render_js: false
    recipients: ["analyst@agency.example"]
  - name: second-seller
    start_urls: ["https://other.example/"]
"""

BAD = [
    ("sites:\n  - name: a\n    start_urls: [https://x.example/\n", "malformed YAML at line"),
    ("sites:\n  - name: ok\n    start_urls: ['https://x.example/']\n    colour: red\n", "site 'ok': field 'colour': unknown key"),
    ("sites:\n  - start_urls: ['https://x.example/']\n", "site #1: field 'name': missing"),
    ("sites:\n  - name: badurl\n    start_urls: ['ftp://x.example/']\n", "site 'badurl': field 'start_urls': not an http(s) URL"),
    ("sites:\n  - name: nourl\n    start_urls: ['not a url']\n", "site 'nourl': field 'start_urls'"),
    ("sites:\n  - name: badcron\n    start_urls: ['https://x.example/']\n    schedule: '61 * * * *'\n", "site 'badcron': field 'schedule'"),
    ("sites:\n  - name: shortcron\n    start_urls: ['https://x.example/']\n    schedule: '0 6 * *'\n", "site 'shortcron': field 'schedule': expected 5 cron fields"),
    ("sites:\n  - name: neg\n    start_urls: ['https://x.example/']\n    max_pages: -5\n", "site 'neg': field 'max_pages'"),
    ("sites:\n  - name: zero\n    start_urls: ['https://x.example/']\n    max_pages: 0\n", "site 'zero': field 'max_pages'"),
    ("sites:\n  - name: js\n    start_urls: ['https://x.example/']\n    render_js: maybe\n", "site 'js': field 'render_js'"),
    ("sites:\n  - name: mail\n    start_urls: ['https://x.example/']\n    recipients: ['nobody']\n", "site 'mail': field 'recipients'"),
    ("sites:\n  - name: prefix\n    start_urls: ['https://x.example/']\n    allow: ['products/']\n", "site 'prefix': field 'allow'"),
    ("sites:\n  - name: dup\n    start_urls: ['https://x.example/']\n  - name: dup\n    start_urls: ['https://y.example/']\n", "site 'dup': field 'name': appears twice"),
    ("just a string\n", "expected a mapping with a 'sites' list"),
    ("sites:\n  - name: ../../x\n    start_urls: ['https://x.example/']\n", "site '../../x': field 'name': not a valid site name"),
    ("sites:\n  - name: .hidden\n    start_urls: ['https://x.example/']\n", "site '.hidden': field 'name': not a valid site name"),
]


def _names(run_cli, db: str) -> list[str]:
    listed = run_cli("sites", "list", "--format", "json", db=db)
    assert listed.exit_code == 0, listed.stderr
    return [site["name"] for site in json.loads(listed.stdout)["sites"]]


def test_import_is_an_upsert_by_name(run_cli, db_url: str, tmp_path: Path) -> None:
    assert run_cli("init", db=db_url).exit_code == 0
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(GOOD)
    assert run_cli("sites", "import", str(watchlist), db=db_url).exit_code == 0
    watchlist.write_text(GOOD.replace("max_pages: 50", "max_pages: 7"))
    result = run_cli("sites", "import", str(watchlist), db=db_url)
    assert result.exit_code == 0 and "0 added, 2 updated" in result.stderr
    sites = json.loads(run_cli("sites", "list", "--format", "json", db=db_url).stdout)["sites"]
    assert [(s["name"], s["max_pages"]) for s in sites] == [("example-seller", 7), ("second-seller", 50)]
    assert sites[0]["allow"] == ["/products/", "/pages/"]
    assert sites[1]["schedule"] == "0 6 * * *"  # the default: daily
    assert run_cli("sites", "remove", "second-seller", db=db_url).exit_code == 0
    assert _names(run_cli, db_url) == ["example-seller"]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m.split(":")[0] for _t, m in BAD])
def test_bad_watchlist_is_one_line_and_writes_nothing(run_cli, sqlite_url: str, tmp_path: Path, text: str,
                                                      message: str) -> None:
    assert run_cli("init", db=sqlite_url).exit_code == 0
    good = tmp_path / "good.yaml"
    good.write_text("sites:\n  - name: earlier\n    start_urls: ['https://e.example/']\n")
    assert run_cli("sites", "import", str(good), db=sqlite_url).exit_code == 0
    # a bad entry after a valid one: the valid one must not be written either
    bad = tmp_path / "bad.yaml"
    bad.write_text(text if not text.startswith("sites:\n  - name:") or "dup" in text else
                   "sites:\n  - name: fine\n    start_urls: ['https://f.example/']\n" + text[len("sites:\n"):])
    result = run_cli("sites", "import", str(bad), db=sqlite_url)
    assert result.exit_code != 0
    error_lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(error_lines) == 1, result.stderr
    assert message in error_lines[0]
    assert _names(run_cli, sqlite_url) == ["earlier"]


def test_sites_add_validates_like_import(run_cli, sqlite_url: str) -> None:
    assert run_cli("init", db=sqlite_url).exit_code == 0
    result = run_cli("sites", "add", "x", "--url", "https://x.example/", "--schedule", "every day", db=sqlite_url)
    assert result.exit_code != 0 and "site 'x': field 'schedule'" in result.stderr
    result = run_cli("sites", "add", "x", "--url", "https://x.example/", "--max-pages", "-1", db=sqlite_url)
    assert result.exit_code != 0 and "field 'max_pages'" in result.stderr
    assert _names(run_cli, sqlite_url) == []


def _with_schedule(line: str) -> str:
    return f"sites:\n  - name: s\n    start_urls: ['https://x.example/']\n    schedule: '{line}'\n"


@pytest.mark.parametrize("line", [line for line, _times in crontab_cases.GOOD])
def test_every_crontab_line_the_daemon_schedules_is_a_valid_schedule(line: str) -> None:
    # the same table as the daemon's (test_daemon): weekdays 0-7, Sunday as 0 or 7, ranges such as 5-7, names
    assert parse_watchlist(_with_schedule(line))[0].schedule == line


@pytest.mark.parametrize(("line", "message"), crontab_cases.BAD)
def test_a_bad_crontab_line_is_refused_in_one_line_naming_the_field(line: str, message: str) -> None:
    with pytest.raises(WatchlistError) as refused:
        parse_watchlist(_with_schedule(line))
    said = str(refused.value)
    assert said.startswith("site 's': field 'schedule': ") and message in said and "\n" not in said


@pytest.mark.parametrize("line", ["0 6 * * 7", "30 5 * * 5-7"])
def test_sites_add_takes_sunday_as_7_and_ranges_to_it(run_cli, sqlite_url: str, line: str) -> None:
    # the watchlist used to refuse what the daemon accepted (issue 16)
    assert run_cli("init", db=sqlite_url).exit_code == 0
    result = run_cli("sites", "add", "x", "--url", "https://x.example/", "--schedule", line, db=sqlite_url)
    assert result.exit_code == 0, result.stderr
    assert _site(run_cli, sqlite_url, "x")["schedule"] == line


def test_unreachable_or_uninitialised_database_is_a_clear_error(run_cli, tmp_path: Path) -> None:
    result = run_cli("sites", "list", db=f"sqlite:///{tmp_path / 'fresh.db'}")
    assert result.exit_code != 0 and "claimwatch init" in result.stderr
    result = run_cli("sites", "list", db="postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert result.exit_code != 0 and "cannot reach database" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = run_cli("sites", "list", db="not-a-url")
    assert result.exit_code != 0 and "invalid database URL" in result.stderr


def _site(run_cli, db: str, name: str) -> dict:
    sites = json.loads(run_cli("sites", "list", "--format", "json", db=db).stdout)["sites"]
    return next(site for site in sites if site["name"] == name)


ACME = ("sites", "add", "acme", "--url", "https://shop.example/", "--allow", "/products/", "--max-pages", "100",
        "--schedule", "30 5 * * 1", "--render-js", "--recipient", "ana@agency.example")


def test_sites_add_of_an_existing_name_fails_and_changes_nothing(run_cli, sqlite_url: str) -> None:
    assert run_cli("init", db=sqlite_url).exit_code == 0
    assert run_cli(*ACME, db=sqlite_url).exit_code == 0
    before = _site(run_cli, sqlite_url, "acme")
    result = run_cli("sites", "add", "acme", "--url", "https://other.example/", db=sqlite_url)
    assert result.exit_code != 0
    assert result.stderr.strip().splitlines() == [
        "Error: site 'acme' already exists: change it with `claimwatch sites edit acme`"]
    assert _site(run_cli, sqlite_url, "acme") == before  # recipients and max_pages kept


def test_sites_edit_changes_only_the_options_given(run_cli, sqlite_url: str) -> None:
    assert run_cli("init", db=sqlite_url).exit_code == 0
    assert run_cli(*ACME, db=sqlite_url).exit_code == 0
    original = _site(run_cli, sqlite_url, "acme")
    steps: list[tuple[tuple[str, ...], dict]] = [
        (("--max-pages", "7"), {"max_pages": 7}),
        (("--disable",), {"enabled": False}),
        (("--enable", "--no-render-js"), {"enabled": True, "render_js": False}),
        (("--schedule", "0 7 * * *"), {"schedule": "0 7 * * *"}),
        (("--url", "https://a.example/", "--url", "https://b.example/"),
         {"start_urls": ["https://a.example/", "https://b.example/"]}),
        (("--allow", "/pages/"), {"allow": ["/pages/"]}),
        (("--recipient", "ben@agency.example"), {"recipients": ["ben@agency.example"]}),
        (("--clear-allow", "--clear-recipients"), {"allow": [], "recipients": []}),
    ]
    expected = dict(original)
    for options, change in steps:
        result = run_cli("sites", "edit", "acme", *options, db=sqlite_url)
        assert result.exit_code == 0, result.stderr
        expected.update(change)
        assert _site(run_cli, sqlite_url, "acme") == expected, options


@pytest.mark.parametrize(("options", "message"), [
    (("--max-pages", "0"), "site 'acme': field 'max_pages'"),
    (("--schedule", "every day"), "site 'acme': field 'schedule'"),
    (("--url", "ftp://x.example/"), "site 'acme': field 'start_urls'"),
    (("--recipient", "nobody"), "site 'acme': field 'recipients'"),
    (("--allow", "products/"), "site 'acme': field 'allow'"),
    ((), "nothing to change"),
    (("--allow", "/p/", "--clear-allow"), "not both"),
])
def test_sites_edit_validates_like_import_and_writes_nothing(run_cli, sqlite_url: str, options: tuple[str, ...],
                                                              message: str) -> None:
    assert run_cli("init", db=sqlite_url).exit_code == 0
    assert run_cli(*ACME, db=sqlite_url).exit_code == 0
    before = _site(run_cli, sqlite_url, "acme")
    result = run_cli("sites", "edit", "acme", *options, db=sqlite_url)
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert _site(run_cli, sqlite_url, "acme") == before


def test_sites_edit_and_remove_of_an_unknown_site(run_cli, sqlite_url: str) -> None:
    assert run_cli("init", db=sqlite_url).exit_code == 0
    for argv in (("sites", "edit", "nosuch", "--max-pages", "3"), ("sites", "remove", "nosuch")):
        result = run_cli(*argv, db=sqlite_url)
        assert result.exit_code == 1 and result.stderr.strip() == "Error: unknown site: nosuch"


def test_site_spec_built_in_python_is_validated_too() -> None:
    with pytest.raises(WatchlistError, match="field 'name'"):
        SiteSpec(name="../../x", start_urls=("https://x.example/",))

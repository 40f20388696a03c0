"""Full or locked database / data folder (issue 15, item 7), with real files and the real CLI.

A database opened read-only, a SQLite file whose write lock another connection holds beyond the busy timeout
(before the crawl and in the middle of it), and a data folder that takes no files: each ends `claimwatch crawl`
with a one-line reason naming the cause, the run marked failed and the site's lease released; and the pages
that could not be stored are not reported as new pages by the next crawl, once the storage is back.

Root ignores file modes, so the data folder is made unwritable by a file standing where a folder must be; a
full disk is a small tmpfs of the test's own, filled up (skipped where the test may not mount one).
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from crawlkit import counts, crawl, lease_holders, rows, runs, setup_site

from monitor.models import Change, CrawlRun
from monitor.siteserver import SiteServer
from monitor.storage import StorageCause, storage_problem

SHOP = Path(__file__).resolve().parent / "sites" / "crawl"
PAGES = 38  # 36 HTML pages under /products/, manual.bin and missing.html


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_THROTTLE_START_DELAY", "0.05")
    monkeypatch.setenv("CLAIMWATCH_SCREENSHOTS", "0")
    monkeypatch.setenv("CLAIMWATCH_DB_BUSY_TIMEOUT", "1")


def _setup(run_cli, db: str, site_server) -> SiteServer:
    server = site_server(SHOP)
    setup_site(run_cli, db, "shop", f"{server.url}/products/", "--allow", "/products/")
    return server


def _summary(stderr: str) -> str:
    [line] = [line for line in stderr.splitlines() if line.startswith("shop: ")]
    return line



# --- the causes, data-driven ---------------------------------------------------------------------------------

CAUSES: list[tuple[BaseException | str, StorageCause]] = [
    (sqlite3.OperationalError("database is locked"), StorageCause.LOCKED),
    ("OperationalError: (sqlite3.OperationalError) database is locked\n[SQL: INSERT INTO fetch ...]",
     StorageCause.LOCKED),
    (sqlite3.OperationalError("database or disk is full"), StorageCause.DISK_FULL),
    (sqlite3.OperationalError("attempt to write a readonly database"), StorageCause.READ_ONLY_DATABASE),
    (sqlite3.OperationalError("disk I/O error"), StorageCause.IO_ERROR),
    (OSError(errno.ENOSPC, "No space left on device"), StorageCause.DISK_FULL),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), StorageCause.DISK_FULL),
    (OSError(errno.EFBIG, "File too large"), StorageCause.FILE_TOO_LARGE),
    (OSError(errno.EROFS, "Read-only file system"), StorageCause.READ_ONLY_FILE_SYSTEM),
    (PermissionError(errno.EACCES, "Permission denied"), StorageCause.PERMISSION),
    (FileExistsError(errno.EEXIST, "File exists"), StorageCause.NOT_A_DIRECTORY),
    ("[Errno 28] No space left on device: '/data/warc/shop.warc.gz'", StorageCause.DISK_FULL),
    ('could not extend file "base/16384/16397": No space left on device', StorageCause.DISK_FULL),  # PostgreSQL
    ("cannot execute INSERT in a read-only transaction", StorageCause.READ_ONLY_DATABASE),  # PostgreSQL
]


@pytest.mark.parametrize(("error", "cause"), CAUSES, ids=[str(error)[:40] for error, _ in CAUSES])
def test_storage_problems_are_named(error: BaseException | str, cause: StorageCause) -> None:
    problem = storage_problem(error)
    assert problem is not None and problem.cause is cause
    assert "\n" not in str(problem) and "[SQL" not in str(problem)


def test_a_database_error_wrapped_by_sqlalchemy_is_named_by_the_drivers_message() -> None:
    from sqlalchemy.exc import OperationalError

    wrapped = OperationalError("INSERT INTO fetch ...", {}, sqlite3.OperationalError("database is locked"))
    assert str(storage_problem(wrapped)) == "database is locked"


@pytest.mark.parametrize("error", [ValueError("extractor bug"), "IntegrityError: UNIQUE constraint failed",
                                   sqlite3.OperationalError("no such table: fetch"), ConnectionRefusedError()])
def test_other_failures_are_not_storage_problems(error: BaseException | str) -> None:
    assert storage_problem(error) is None


def test_the_busy_timeout_is_a_setting(sqlite_url: str) -> None:
    from monitor.config import ConfigError, load_settings
    from monitor.db import make_engine

    assert load_settings({}, cwd=Path("/tmp")).db_busy_timeout == 30
    assert load_settings({"CLAIMWATCH_DB_BUSY_TIMEOUT": "2.5"}, cwd=Path("/tmp")).db_busy_timeout == 2.5
    with pytest.raises(ConfigError, match="CLAIMWATCH_DB_BUSY_TIMEOUT"):
        load_settings({"CLAIMWATCH_DB_BUSY_TIMEOUT": "soon"}, cwd=Path("/tmp"))
    engine = make_engine(sqlite_url, busy_timeout=2.5)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2500
    finally:
        engine.dispose()


# --- through the CLI -----------------------------------------------------------------------------------------


def test_a_read_only_database_is_a_one_line_error_and_nothing_is_fetched(run_cli, sqlite_url, site_server) -> None:
    server = _setup(run_cli, sqlite_url, site_server)
    path = sqlite_url.removeprefix("sqlite:///")
    result = crawl(run_cli, f"sqlite:///file:{path}?mode=ro&uri=true", ok=False)
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert "read-only database" in line, line
    assert not [path for _, path, _ in server.requests if path != "/robots.txt"]
    assert runs(sqlite_url) == [] and lease_holders(sqlite_url) == []

    crawl(run_cli, sqlite_url)  # read-write again
    assert [run.status for run in runs(sqlite_url)] == ["finished"]


def test_a_database_locked_before_the_crawl_is_a_one_line_error(run_cli, sqlite_url, site_server) -> None:
    _setup(run_cli, sqlite_url, site_server)
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another program's write transaction, longer than the busy timeout
        result = crawl(run_cli, sqlite_url, ok=False)
    finally:
        other.close()
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert "database is locked" in line, line

    crawl(run_cli, sqlite_url)  # nothing left behind: no lease to wait for
    assert runs(sqlite_url)[-1].status == "finished" and lease_holders(sqlite_url) == []


class Trouble:
    """Makes trouble when the fixture server is asked for a page (``make``), and ends it once the crawl's log
    says a page could not be stored because of it (``words``), so that the crawl can then record its failure
    and release its lease, as it would when another program's lock or a full disk goes away."""

    def __init__(self, logs: Path, words: str, start: Callable[[], None], end: Callable[[], None]) -> None:
        self.logs, self.words, self.start, self.end = logs, words, start, end
        self.started = False
        self.ended = threading.Event()

    def before_the_run_is_recorded(self, monkeypatch: pytest.MonkeyPatch) -> Trouble:
        """Have `claimwatch crawl` record the crawl's end only once the trouble is over (as when it goes
        away while the crawl closes), whatever the machine's load: the crawl process may end faster than the
        log is watched, and with the disk still full nothing could be recorded or released."""
        import monitor.crawl

        record_end = monitor.crawl._record_end

        def after_the_trouble(*args: object, **kwargs: object) -> object:
            if self.started:
                self.ended.wait(timeout=120)
            return record_end(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(monitor.crawl, "_record_end", after_the_trouble)
        return self

    def make(self, _path: str) -> None:
        if not self.started:
            self.started = True
            # the watcher first: it ends the trouble whatever making it raised
            threading.Thread(target=self._end_when_refused, daemon=True).start()
            self.start()

    def _refused(self) -> bool:
        return any(self.words in log.read_text(errors="replace") for log in self.logs.glob("*.log"))

    def _end_when_refused(self) -> None:
        deadline = time.monotonic() + 300
        while not self._refused() and time.monotonic() < deadline:
            time.sleep(0.02)
        try:
            self.end()
        finally:
            self.ended.set()


def write_lock_holder(database: str, logs: Path) -> Trouble:
    """SQLite's write lock, held by a connection of the test's own (BEGIN IMMEDIATE), as another program would."""
    connection = sqlite3.connect(database, isolation_level=None, check_same_thread=False)

    def lock() -> None:
        connection.execute("BEGIN IMMEDIATE")

    return Trouble(logs, "database is locked", lock, connection.close)


def disk_filler(disk: Path, logs: Path) -> Trouble:
    """Fills ``disk`` up with a file of its own, removed once the crawl says the disk is full."""
    filler = disk / "filler"

    def fill() -> None:
        # unbuffered: a buffered file would keep the bytes the disk refused and raise again when closed
        with filler.open("wb", buffering=0) as handle:
            try:
                while True:
                    handle.write(b"\0" * 65536)
                    handle.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC

    return Trouble(logs, "database or disk is full", fill, filler.unlink)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A filesystem of its own (8 MB of tmpfs) that a test can fill up."""
    disk = tmp_path / "small-disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"a full disk needs a tmpfs of the test's own: mount failed: {mounted.stderr!r}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_database_locked_midway_fails_the_run_and_the_next_crawl_reports_no_new_pages(
        run_cli, sqlite_url, site_server, tmp_path, monkeypatch) -> None:
    server = _setup(run_cli, sqlite_url, site_server)
    holder = write_lock_holder(sqlite_url.removeprefix("sqlite:///"), tmp_path / "data" / "logs")
    server.hooks["/products/p10.html"] = holder.before_the_run_is_recorded(monkeypatch).make
    result = crawl(run_cli, sqlite_url, ok=False)
    assert holder.ended.is_set()
    assert result.exit_code == 1
    assert "database is locked" in _summary(result.stderr), result.stderr
    [run] = runs(sqlite_url)
    assert run.status == "failed" and "database is locked" in (run.detail or "")
    assert lease_holders(sqlite_url) == []
    assert counts(sqlite_url).pages < PAGES

    server.hooks.clear()
    crawl(run_cli, sqlite_url)
    assert counts(sqlite_url).pages == PAGES
    assert rows(sqlite_url, Change) == [], "pages the locked database could not take were reported as new"
    assert [run.status for run in runs(sqlite_url)] == ["failed", "finished"]


def test_a_known_page_not_stored_is_compared_next_time_with_its_last_stored_version(
        run_cli, sqlite_url, site_server, tmp_path, monkeypatch) -> None:
    site = tmp_path / "site"
    shutil.copytree(SHOP, site)
    server: SiteServer = site_server(site)
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/products/", "--allow", "/products/")
    crawl(run_cli, sqlite_url)
    for page in sorted((site / "products").glob("p[0-9][0-9].html")):  # the same claim changes on 30 pages
        page.write_text(page.read_text().replace("throughout the day", "and treats chronic fatigue syndrome"))
    holder = write_lock_holder(sqlite_url.removeprefix("sqlite:///"), tmp_path / "data" / "logs")
    server.hooks["/products/p10.html"] = holder.before_the_run_is_recorded(monkeypatch).make
    assert crawl(run_cli, sqlite_url, ok=False).exit_code == 1
    server.hooks.clear()
    crawl(run_cli, sqlite_url)

    assert [run.status for run in runs(sqlite_url)] == ["finished", "failed", "finished"]
    changes = rows(sqlite_url, Change)
    assert all("energy" in (change.after or change.before or "") for change in changes), (
        "a page not stored was compared with nothing: its unchanged statements were reported",
        [(change.change, change.after or change.before) for change in changes])
    by_page: dict[int, list[str]] = {}
    for change in changes:
        by_page.setdefault(change.page_id, []).append(change.change)
    assert len(by_page) == 30 and len({tuple(kinds) for kinds in by_page.values()}) == 1, by_page


def test_a_full_disk_under_the_database_fails_the_run_and_the_next_crawl_reports_no_new_pages(
        run_cli, site_server, small_disk, tmp_path, monkeypatch) -> None:
    # the report's case: the disk filled up during a site's first crawl, and once it had room again the
    # next crawl reported every page the full disk had refused as a new page (528 false "added" changes)
    db = f"sqlite:///{small_disk / 'claimwatch.db'}"
    server = _setup(run_cli, db, site_server)
    filler = disk_filler(small_disk, tmp_path / "data" / "logs").before_the_run_is_recorded(monkeypatch)
    server.hooks["/products/p10.html"] = filler.make
    result = crawl(run_cli, db, ok=False)
    assert filler.ended.is_set()
    assert result.exit_code == 1
    assert "disk is full" in _summary(result.stderr), result.stderr
    [run] = runs(db)
    assert run.status == "failed" and "disk is full" in (run.detail or "")
    assert lease_holders(db) == []
    assert counts(db).pages < PAGES

    server.hooks.clear()
    crawl(run_cli, db)
    assert counts(db).pages == PAGES
    assert rows(db, Change) == [], "pages the full disk could not take were reported as new"


def test_a_data_folder_that_takes_no_records_fails_the_run_and_the_next_crawl_reports_no_new_pages(
        run_cli, sqlite_url, site_server, tmp_path) -> None:
    _setup(run_cli, sqlite_url, site_server)
    blocker = tmp_path / "data" / "warc"  # a file where the WARC folder must be
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")
    result = crawl(run_cli, sqlite_url, ok=False)
    assert result.exit_code == 1
    line = _summary(result.stderr).lower()
    assert "cannot write the data folder" in line and "not a directory" in line, line
    [run] = runs(sqlite_url)
    assert run.status == "failed" and lease_holders(sqlite_url) == []

    blocker.unlink()
    crawl(run_cli, sqlite_url)
    assert rows(sqlite_url, Change) == []
    assert counts(sqlite_url).snapshots == 36
    assert [run.status for run in runs(sqlite_url)] == ["failed", "finished"]


def test_a_data_folder_that_is_a_file_fails_the_run_before_it_starts(run_cli, sqlite_url, site_server,
                                                                     tmp_path) -> None:
    _setup(run_cli, sqlite_url, site_server)
    (tmp_path / "data").write_text("not a folder")
    result = crawl(run_cli, sqlite_url, ok=False)
    assert result.exit_code == 1
    line = _summary(result.stderr).lower()
    assert "cannot write the data folder" in line and "not a directory" in line, line
    run: CrawlRun
    [run] = runs(sqlite_url)
    assert run.status == "failed" and "cannot write the data folder" in (run.detail or "")
    assert lease_holders(sqlite_url) == []

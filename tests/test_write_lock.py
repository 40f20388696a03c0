"""WriteLock: claimwatch's writers to one SQLite file take turns without SQLite's sleep-and-retry."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from monitor.db import WriteLock, make_engine

HOLDER = """
import sys, time
from monitor.db import WriteLock, make_engine
lock = WriteLock.for_engine(make_engine(sys.argv[1]))
with lock.held():
    print("held", flush=True)
    time.sleep(0.5)
    released = time.time()
print(released, flush=True)
"""


def test_a_second_writer_waits_for_the_first_and_gets_the_lock_as_soon_as_it_is_released(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'claimwatch.db'}"
    root = Path(__file__).resolve().parent.parent
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdout=subprocess.PIPE, text=True, cwd=root)
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = WriteLock.for_engine(make_engine(url))
        asked = time.time()
        with lock.held():
            granted = time.time()
        released = float(holder.stdout.readline())
    finally:
        holder.wait(10)
    lock.close()
    assert granted - asked > 0.3, "the lock was granted while the other process held it"
    # SQLite's busy handler would retry after sleeps of up to 100 ms; the kernel wakes the waiter at once
    assert 0 <= granted - released < 0.05, (granted, released)
    assert (tmp_path / "claimwatch.db.writelock").exists()


def test_databases_without_a_file_of_their_own_get_no_lock_file(tmp_path: Path) -> None:
    assert WriteLock.for_engine(make_engine("sqlite://")).path is None
    assert WriteLock.for_engine(make_engine("sqlite:///:memory:")).path is None
    assert WriteLock.for_engine(make_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")).path is None
    with WriteLock(None).held():  # a no-op, not an error
        pass


def test_a_folder_where_no_lock_file_can_be_made_falls_back_to_sqlites_own_locking(tmp_path: Path) -> None:
    lock = WriteLock(tmp_path / "missing-folder" / "claimwatch.db.writelock")
    with lock.held():
        pass
    assert lock.path is None

"""PagePool: real worker processes fed from an asyncio loop (what the crawl process runs)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pool_targets import echo, preloaded  # noqa: E402

from pipelines.pagepool import ForkedProcess, PagePool, WorkerDied, prestart, release_prestarted  # noqa: E402


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


def test_every_item_is_answered_by_one_of_the_workers_and_big_items_cross_whole() -> None:
    async def main() -> list:
        pool = PagePool(2, echo, ("t",))
        pool.start(asyncio.get_running_loop())
        try:
            # far more items than the workers hold at once (2 each), and some larger than a pipe's buffer
            big = os.urandom(3 * 1024 * 1024)
            answers = await asyncio.gather(*(pool.submit(n) for n in range(200)), pool.submit(big))
        finally:
            pool.close()
        return answers

    answers = run(main())
    small, big_answer = answers[:-1], answers[-1]
    assert [item for _tag, _pid, item in small] == list(range(200))
    assert len({pid for _tag, pid, _item in small}) == 2, "both workers should have taken items"
    assert big_answer[2] == 3 * 1024 * 1024


def test_a_failing_item_fails_alone() -> None:
    async def main() -> tuple:
        pool = PagePool(1, echo, ("t",))
        pool.start(asyncio.get_running_loop())
        try:
            results = await asyncio.gather(pool.submit(1), pool.submit("boom"), pool.submit(2),
                                           return_exceptions=True)
        finally:
            pool.close()
        return tuple(results)

    first, failed, last = run(main())
    assert first[2] == 1 and last[2] == 2
    assert isinstance(failed, ValueError) and str(failed) == "boom"


def test_a_dead_worker_fails_what_it_held_and_everything_after() -> None:
    async def main() -> list:
        pool = PagePool(1, echo, ("t",))
        pool.start(asyncio.get_running_loop())
        try:
            results = await asyncio.gather(pool.submit(1), pool.submit("die"), pool.submit(2),
                                           return_exceptions=True)
            later = await asyncio.gather(pool.submit(3), return_exceptions=True)
        finally:
            pool.close()
        return [*results, *later]

    first, died, queued, later = run(main())
    assert first[2] == 1
    for result in (died, queued, later):
        assert isinstance(result, WorkerDied), result
    assert "exit code 3" in str(died)


def test_close_waits_for_the_workers_to_exit() -> None:
    async def main() -> list:
        pool = PagePool(2, echo, ("t",))
        pool.start(asyncio.get_running_loop())
        await asyncio.gather(*(pool.submit(n) for n in range(10)))
        processes = [worker.process for worker in pool.workers]
        pool.close()
        return processes

    processes = run(main())
    assert all(process.exitcode == 0 for process in processes)


@pytest.mark.parametrize("size", [0, 1, 65536, 1024 * 1024 + 3])
def test_items_of_any_size_round_trip(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)

    async def main() -> tuple:
        pool = PagePool(1, echo, ("t",))
        pool.start(asyncio.get_running_loop())
        try:
            return await pool.submit(payload)
        finally:
            pool.close()

    _tag, _pid, length, head, tail = run(main())
    assert (length, head, tail) == (size, payload[:8], payload[-8:])


def test_prestarted_workers_preload_once_then_take_the_pools_job() -> None:
    # what `python -m crawler` does before loading Scrapy: the crawl's pool adopts these processes
    prestart(2, "pool_targets:preload")
    from pipelines import pagepool

    first = pagepool._prestarted[0].process.pid

    async def main() -> list:
        pool = PagePool(2, preloaded, (), preload="pool_targets:preload")
        pool.start(asyncio.get_running_loop())
        try:
            return await asyncio.gather(*(pool.submit(n) for n in range(20)))
        finally:
            pool.close()

    answers = run(main())
    pids = {pid for pid, _, _, _ in answers}
    assert len(pids) == 2 and first in pids, "the pool started workers of its own"
    # the preload ran once, in the first worker, and the second was forked from it afterwards
    assert {recorded for _, recorded, _, _ in answers} == {first}, "the preload did not run before the fork"
    # and both are this process's children, which it waits for
    assert {parent for _, _, parent, _ in answers} == {os.getpid()}
    assert [item for _, _, _, item in answers] == list(range(20))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forked workers are adopted on Linux")
@pytest.mark.parametrize(("ending", "status"), [("die", 3), ("exit", 4), ("crash", 1)])
def test_every_worker_is_reaped_with_its_exit_status_forked_ones_too(ending: str, status: int) -> None:
    # the workers end with os._exit (no interpreter teardown): the status must still be the one their
    # target gave (os._exit, SystemExit, an uncaught exception), the preloading worker's as the forked one's
    async def main() -> list:
        pool = PagePool(2, echo, ("t",))
        pool.start(asyncio.get_running_loop())
        try:
            await asyncio.gather(*(pool.submit(n) for n in range(4)))
            processes = [worker.process for worker in pool.workers]
            # one ending for each worker: the least busy one takes the next item
            await asyncio.gather(pool.submit(ending), pool.submit(ending), return_exceptions=True)
        finally:
            pool.close()
        return processes

    processes = run(main())
    assert len({process.pid for process in processes}) == 2
    assert any(isinstance(process, ForkedProcess) for process in processes)
    assert [process.exitcode for process in processes] == [status, status]
    for process in processes:  # reaped: no zombie left behind
        assert not Path(f"/proc/{process.pid}").exists(), f"worker {process.pid} was not waited for"


def children() -> set[int]:
    """This process's child processes, zombies included (every thread's list: /proc)."""
    found: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        found.update(int(pid) for pid in (task / "children").read_text().split())
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc")
def test_prestarted_workers_no_pool_takes_exit_when_released() -> None:
    before = children()
    prestart(2, "pool_targets:preload")
    from pipelines import pagepool

    workers = list(pagepool._prestarted)
    release_prestarted()
    assert not pagepool._prestarted
    assert all(worker.process.exitcode == 0 for worker in workers)
    assert len({worker.process.pid for worker in workers}) == 2
    assert children() <= before, "a released worker was left running or unreaped"


def test_a_pool_with_another_preload_starts_its_own_workers() -> None:
    prestart(1, "pool_targets:preload")
    from pipelines import pagepool

    try:
        async def main() -> list:
            pool = PagePool(1, preloaded, ())  # no preload: the pre-started worker is not its kind
            pool.start(asyncio.get_running_loop())
            try:
                return await asyncio.gather(pool.submit("x"))
            finally:
                pool.close()

        [(pid, recorded, _parent, _item)] = run(main())
        assert recorded is None and len(pagepool._prestarted) == 1
        assert pid != pagepool._prestarted[0].process.pid
    finally:
        release_prestarted()

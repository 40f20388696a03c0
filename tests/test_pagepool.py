"""PagePool: real worker processes fed from an asyncio loop (what the crawl process runs)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pool_targets import echo  # noqa: E402

from pipelines.pagepool import PagePool, WorkerDied  # noqa: E402


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

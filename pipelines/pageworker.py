"""Page worker processes: ``python -m pipelines.pageworker [--preload MODULE:FUNCTION] ITEMS:RESULTS...``.

Started by ``pipelines.pagepool`` with one pair of pipe descriptors per worker and nothing else of its
parent (no reactor, no threads, no Scrapy). The process first runs the preload (e.g.
``pipelines.chain:preload``: the imports and compiled rules a page needs), so that work is done while the
crawl process is still starting and is done once, however many workers there are: the process then forks
one worker for every further pair and serves the first pair itself. Each forked worker is detached (a
fork of a fork that exits at once), so on Linux, where the crawl process makes itself their "subreaper",
it becomes the crawl process's own child, which can wait for it and read its exit status.

The first frame on each results pipe is the hello, ``("worker", pid)``, written by the preloading
process once the worker it names exists (and, for a forked one, has the crawl process as its parent).
Then each worker waits for its job: the first frame on its items pipe is ``(target, args)``, and it runs
``target(*args, receive, answer)``, which reads every further item until end-of-file. A pipe closed
before any job (the crawl needed no workers after all) ends the worker quietly.

Frames on both pipes: an 8-byte big-endian length, then a pickle (see ``pipelines.pagepool``).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import select
import struct
import sys
import traceback
from collections.abc import Callable
from typing import Any

HEADER = struct.Struct("!Q")
HELLO = "worker"


def read_exactly(fd: int, size: int) -> bytes | None:
    """``size`` bytes from ``fd``, or None at end-of-file."""
    chunks, missing = [], size
    while missing:
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def frame(value: Any) -> bytes:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(payload)) + payload


class _NotReady:
    def __repr__(self) -> str:
        return "NOT_READY"


#: What ``receive(wait=False)`` returns when no item has arrived.
NOT_READY: Any = _NotReady()


def serve(items_fd: int, results_fd: int) -> None:
    """One worker's life once it exists: wait for the job, run it until the items pipe closes.

    The job's ``receive(wait=True)`` returns the next item, or None at end-of-file; with ``wait=False``
    it returns ``NOT_READY`` at once when nothing has arrived yet (a worker with a page waiting for the
    database can work on the next meanwhile)."""
    poller = select.poll()
    poller.register(items_fd, select.POLLIN | select.POLLHUP)

    def receive(wait: bool = True) -> Any | None:
        if not wait and not poller.poll(0):
            return NOT_READY
        header = read_exactly(items_fd, HEADER.size)
        if header is None:
            return None
        payload = read_exactly(items_fd, HEADER.unpack(header)[0])
        return None if payload is None else pickle.loads(payload)

    def answer(ok: bool, value: Any) -> None:
        write_all(results_fd, frame((ok, value)))

    job = receive()
    if job is None:
        return
    target, args = job
    target(*args, receive, answer)


def _fork_detached() -> tuple[int, int]:
    """Fork a worker whose parent is not this process (a fork of a fork that exits at once).

    Returns ``(0, go_fd)`` in the worker, which must wait for end-of-file on ``go_fd`` before it serves,
    and ``(pid, go_fd)`` here, which closes ``go_fd`` once the worker's hello is written: by then the
    intermediate process has been reaped, so the worker has its new parent.
    """
    pid_reader, pid_writer = os.pipe()
    go_reader, go_writer = os.pipe()
    middle = os.fork()
    if middle == 0:  # the intermediate process: fork the worker, tell its pid, exit
        worker = -1
        try:
            os.close(pid_reader)
            os.close(go_writer)
            worker = os.fork()
            if worker == 0:
                os.close(pid_writer)
                return 0, go_reader
            write_all(pid_writer, worker.to_bytes(8, "big"))
        finally:
            if worker != 0:
                os._exit(0)
    os.close(pid_writer)
    os.close(go_reader)
    data = read_exactly(pid_reader, 8)
    os.close(pid_reader)
    os.waitpid(middle, 0)
    if data is None:
        os.close(go_writer)
        raise OSError("could not fork a page worker")
    return int.from_bytes(data, "big"), go_writer


def run(pairs: list[tuple[int, int]], preload: str | None = None) -> int:
    """Preload, fork a worker for every pair after the first, serve the first; returns an exit status."""
    if preload:
        module, _, function = preload.partition(":")
        getattr(importlib.import_module(module), function)()
    mine = pairs[0]
    for index, pair in enumerate(pairs[1:], start=1):
        pid, go_fd = _fork_detached()
        if pid == 0:  # in the forked worker: only its own pipes stay open (earlier ones are closed)
            for other in (mine, *pairs[index + 1:]):
                for fd in other:
                    os.close(fd)
            read_exactly(go_fd, 1)  # end-of-file: the hello naming this process has been written
            os.close(go_fd)
            os._exit(status_of(serve, *pair))
        write_all(pair[1], frame((HELLO, pid)))
        os.close(go_fd)
        for fd in pair:
            os.close(fd)
    write_all(mine[1], frame((HELLO, os.getpid())))
    serve(*mine)
    return 0


def status_of(function: Callable[..., int | None], *args: Any) -> int:
    """Run ``function``; the exit status it would have given the process, with the standard streams
    flushed, for an ``os._exit`` to follow. The page workers and the crawl process end that way, without
    the interpreter's teardown (~0.1 s of freeing what they loaded, which whoever waits for them would
    wait for); their files are closed by then."""
    status = 0
    try:
        status = function(*args) or 0
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported like an uncaught exception, then exit 1
        traceback.print_exc()
        status = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
    return status


def main(argv: list[str]) -> int:
    usage = "usage: python -m pipelines.pageworker [--preload MODULE:FUNCTION] ITEMS_FD:RESULTS_FD..."
    preload: str | None = None
    if len(argv) >= 2 and argv[0] == "--preload":
        preload, argv = argv[1], argv[2:]
    try:
        pairs = [(int(items), int(results)) for items, results in (pair.split(":") for pair in argv)]
    except ValueError:
        pairs = []
    if not pairs:
        print(usage, file=sys.stderr)
        return 2
    return run(pairs, preload)


if __name__ == "__main__":
    # run as ``pipelines.pageworker``, not as ``__main__``: the jobs import this module by name, and its
    # objects (NOT_READY) must be the same ones
    from pipelines import pageworker

    os._exit(pageworker.status_of(pageworker.main, sys.argv[1:]))

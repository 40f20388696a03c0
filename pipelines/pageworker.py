"""A page worker process: ``python -m pipelines.pageworker ITEMS_FD RESULTS_FD [PRELOAD]``.

Started by ``pipelines.pagepool`` with two pipe descriptors and nothing else of its parent (no reactor,
no threads, no Scrapy). It first runs ``PRELOAD`` (``module:function``, e.g. ``pipelines.chain:preload``:
the imports and compiled rules a page needs), so that work is done while the crawl process is still
starting, then waits for its job: the first frame on ``ITEMS_FD`` is ``(target, args)``, and the worker
runs ``target(*args, receive, answer)``, which reads every further item until end-of-file. A pipe closed
before any job (the crawl needed no workers after all) ends the worker quietly.

Frames on both pipes: an 8-byte big-endian length, then a pickle (see ``pipelines.pagepool``).
"""

from __future__ import annotations

import importlib
import os
import pickle
import struct
import sys
from typing import Any

HEADER = struct.Struct("!Q")


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


def run(items_fd: int, results_fd: int, preload: str | None = None) -> None:
    """A worker's life: preload, wait for the job, run it until the items pipe closes."""
    if preload:
        module, _, function = preload.partition(":")
        getattr(importlib.import_module(module), function)()

    def receive() -> Any | None:
        header = read_exactly(items_fd, HEADER.size)
        if header is None:
            return None
        payload = read_exactly(items_fd, HEADER.unpack(header)[0])
        return None if payload is None else pickle.loads(payload)

    def answer(ok: bool, value: Any) -> None:
        frame = pickle.dumps((ok, value), protocol=pickle.HIGHEST_PROTOCOL)
        write_all(results_fd, HEADER.pack(len(frame)) + frame)

    job = receive()
    if job is None:
        return
    target, args = job
    target(*args, receive, answer)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: python -m pipelines.pageworker ITEMS_FD RESULTS_FD [module:preload]", file=sys.stderr)
        return 2
    run(int(argv[0]), int(argv[1]), argv[2] if len(argv) == 3 else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""PagePool: page worker processes fed from Scrapy's event loop, with no thread in the Scrapy process.

``concurrent.futures.ProcessPoolExecutor`` would do the same job with two helper threads (a queue feeder
and a result manager) competing with the reactor for the GIL on every page. Here the event loop itself
writes each pickled item to a worker's pipe (non-blocking, buffered when the pipe is full) and reads the
answers when the worker's result pipe is readable (``loop.add_reader``); each worker gets the next item
as soon as it answered, at most ``depth`` items at a time, so the least busy worker gets the next page.

Frames on both pipes: an 8-byte big-endian length, then a pickle. A worker that dies closes its result
pipe: every item it held fails with ``WorkerDied``. ``close()`` closes the item pipes; each worker finishes
what it holds, closes its chain (WARC files, database engine) and exits.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import multiprocessing
import os
import pickle
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

_HEADER = struct.Struct("!Q")
_PIPE_BYTES = 1024 * 1024  # room for several pages in each pipe (Linux: F_SETPIPE_SZ, up to pipe-max-size)
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class WorkerDied(RuntimeError):
    """A page worker exited (killed, out of memory) with pages it had not stored."""


def _grow_pipe(fd: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_BYTES)


@dataclass(eq=False)
class _Worker:
    process: Any
    items: Connection  # we write items to its descriptor
    results: Connection  # and read answers from this one
    pending: collections.deque[asyncio.Future[Any]] = field(default_factory=collections.deque)
    outgoing: bytearray = field(default_factory=bytearray)
    incoming: bytearray = field(default_factory=bytearray)
    writing: bool = False
    alive: bool = True

    @property
    def items_fd(self) -> int:
        return self.items.fileno()

    @property
    def results_fd(self) -> int:
        return self.results.fileno()


class PagePool:
    def __init__(self, workers: int, target: Callable[..., None], args: tuple[Any, ...], *,
                 depth: int = 2) -> None:
        self.size = workers
        self.target = target
        self.args = args
        self.depth = depth
        self.workers: list[_Worker] = []
        self.waiting: collections.deque[tuple[bytes, asyncio.Future[Any]]] = collections.deque()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.failure: str | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the worker processes (``spawn``: a fresh interpreter each, nothing of the reactor)."""
        self.loop = loop
        context = multiprocessing.get_context("spawn")
        for _ in range(self.size):
            # multiprocessing's Connection objects only carry the pipes' descriptors into the child
            # (``spawn`` passes exactly those); the frames on them are our own (see the module docstring)
            items_reader, items_writer = context.Pipe(duplex=False)
            results_reader, results_writer = context.Pipe(duplex=False)
            _grow_pipe(items_writer.fileno())
            _grow_pipe(results_writer.fileno())
            process = context.Process(target=_run_worker, daemon=True,
                                      args=(self.target, self.args, items_reader, results_writer))
            process.start()
            items_reader.close()
            results_writer.close()
            os.set_blocking(items_writer.fileno(), False)
            os.set_blocking(results_reader.fileno(), False)
            worker = _Worker(process, items_writer, results_reader)
            self.workers.append(worker)
            loop.add_reader(worker.results_fd, self._readable, worker)

    # --- submitting -------------------------------------------------------------------------------

    def submit(self, item: Any) -> asyncio.Future[Any]:
        """Send ``item`` to a worker; the future gets the worker's answer."""
        assert self.loop is not None, "pool not started"
        future: asyncio.Future[Any] = self.loop.create_future()
        if self.failure is not None:
            future.set_exception(WorkerDied(self.failure))
            return future
        frame = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        worker = self._free_worker()
        if worker is None:
            self.waiting.append((frame, future))
        else:
            self._send(worker, frame, future)
        return future

    def _free_worker(self) -> _Worker | None:
        free = [worker for worker in self.workers if worker.alive and len(worker.pending) < self.depth]
        return min(free, key=lambda worker: len(worker.pending)) if free else None

    def _send(self, worker: _Worker, frame: bytes, future: asyncio.Future[Any]) -> None:
        worker.pending.append(future)
        worker.outgoing += _HEADER.pack(len(frame))
        worker.outgoing += frame
        self._flush(worker)

    def _flush(self, worker: _Worker) -> None:
        assert self.loop is not None
        while worker.outgoing:
            try:
                written = os.write(worker.items_fd, worker.outgoing)
            except BlockingIOError:
                break
            except OSError as exc:  # the worker is gone (its result pipe may not have said so yet)
                worker.outgoing.clear()
                worker.process.join(1.0)
                self._died(worker, f"a page worker died (pid {worker.process.pid}, exit code "
                                   f"{worker.process.exitcode}; sending to it: {exc.strerror or exc})")
                return
            del worker.outgoing[:written]
        if worker.outgoing and not worker.writing:
            worker.writing = True
            self.loop.add_writer(worker.items_fd, self._flush, worker)
        elif not worker.outgoing and worker.writing:
            worker.writing = False
            self.loop.remove_writer(worker.items_fd)

    # --- answers ----------------------------------------------------------------------------------

    def _readable(self, worker: _Worker) -> None:
        try:
            data = os.read(worker.results_fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            worker.process.join(1.0)  # its pipe closes a moment before its exit status is there
            code = worker.process.exitcode
            self._died(worker, f"a page worker died (pid {worker.process.pid}, exit code {code})")
            return
        worker.incoming += data
        while len(worker.incoming) >= _HEADER.size:
            (length,) = _HEADER.unpack_from(worker.incoming)
            if len(worker.incoming) < _HEADER.size + length:
                break
            payload = bytes(worker.incoming[_HEADER.size:_HEADER.size + length])
            del worker.incoming[:_HEADER.size + length]
            ok, value = pickle.loads(payload)
            future = worker.pending.popleft()
            if not future.done():
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
            if self.waiting and worker.alive:
                frame, waiting_future = self.waiting.popleft()
                self._send(worker, frame, waiting_future)

    def _died(self, worker: _Worker, why: str) -> None:
        assert self.loop is not None
        if not worker.alive:
            return
        worker.alive = False
        self.loop.remove_reader(worker.results_fd)
        if worker.writing:
            self.loop.remove_writer(worker.items_fd)
        self.failure = self.failure or why
        error = WorkerDied(why)
        for future in [*worker.pending, *(future for _frame, future in self.waiting)]:
            if not future.done():
                future.set_exception(error)
        worker.pending.clear()
        self.waiting.clear()

    # --- closing ----------------------------------------------------------------------------------

    def close(self, timeout: float = 60.0) -> None:
        """Let every worker finish and exit (their item pipes get end-of-file), then reap them."""
        for worker in self.workers:
            if self.loop is not None:
                if worker.alive:
                    self.loop.remove_reader(worker.results_fd)
                if worker.writing:
                    self.loop.remove_writer(worker.items_fd)
            if worker.outgoing:  # unsent items (a closing crawl): hand them over before the end
                os.set_blocking(worker.items_fd, True)
                with contextlib.suppress(OSError):
                    os.write(worker.items_fd, bytes(worker.outgoing))
            worker.items.close()
        for worker in self.workers:
            worker.process.join(timeout)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.results.close()
        self.workers.clear()


# --- inside a worker process --------------------------------------------------------------------------


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, missing = [], size
    while missing:
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _run_worker(target: Callable[..., None], args: tuple[Any, ...], items: Connection,
                results: Connection) -> None:
    """A worker's life: ``target(*args, receive, answer)`` reads items until end-of-file."""
    items_fd, results_fd = items.fileno(), results.fileno()

    def receive() -> Any | None:
        header = _read_exactly(items_fd, _HEADER.size)
        if header is None:
            return None
        payload = _read_exactly(items_fd, _HEADER.unpack(header)[0])
        return None if payload is None else pickle.loads(payload)

    def answer(ok: bool, value: Any) -> None:
        frame = pickle.dumps((ok, value), protocol=pickle.HIGHEST_PROTOCOL)
        _write_all(results_fd, _HEADER.pack(len(frame)) + frame)

    target(*args, receive, answer)

"""PagePool: page worker processes fed from Scrapy's event loop, with no thread in the Scrapy process.

``concurrent.futures.ProcessPoolExecutor`` would do the same job with two helper threads (a queue feeder
and a result manager) competing with the reactor for the GIL on every page. Here the event loop itself
writes each pickled item to a worker's pipe (non-blocking, buffered when the pipe is full) and reads the
answers when the worker's result pipe is readable (``loop.add_reader``); each worker gets the next item
as soon as it answered, at most ``depth`` items at a time, so the least busy worker gets the next page
(three: a worker whose page waits for the write lock has the next ones to work on meanwhile).

The workers come from one ``python -m pipelines.pageworker`` process holding a pair of pipes per worker
(no multiprocessing: no resource-tracker process, nothing of the parent but its ``sys.path``): it runs the
preload once, then forks the other workers, which share its loaded modules and compiled rules instead of
each importing and compiling them again (~0.5 s of CPU a worker). On Linux this process makes itself the
forked workers' "subreaper" (``prctl``), so they are its children like the first one and it reads their
exit status; elsewhere each worker is a process of its own. ``prestart`` starts them before the crawl
process loads Scrapy, so the preload runs while Scrapy's imports do; ``PagePool.start`` adopts them (or
starts its own) and sends each its job, ``(target, args)``.

Frames on both pipes: an 8-byte big-endian length, then a pickle; the first frame from each worker is its
hello, naming its process id. A worker that dies closes its result pipe: every item it held fails with
``WorkerDied``. ``close()`` closes the item pipes; each worker finishes what it holds, closes its chain (WARC
files, database engine) and exits.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from monitor.processes import pid_alive
from pipelines.pageworker import HEADER as _HEADER
from pipelines.pageworker import HELLO as _HELLO

_PIPE_BYTES = 1024 * 1024  # room for several pages in each pipe (Linux: F_SETPIPE_SZ, up to pipe-max-size)
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class WorkerDied(RuntimeError):
    """A page worker exited (killed, out of memory) with pages it had not stored."""


def _grow_pipe(fd: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_BYTES)


class WorkerProcess:
    """A worker's process (``subprocess.Popen``), with the few calls the pool makes of it."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def exitcode(self) -> int | None:
        """None while it runs; its exit status, or minus the signal that killed it."""
        return self.popen.poll()

    def is_alive(self) -> bool:
        return self.popen.poll() is None

    def join(self, timeout: float | None = None) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.popen.kill()


class ForkedProcess:
    """A worker forked by the first one and adopted by this process (its subreaper): waited for by pid."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._exitcode: int | None = None
        self._gone = False

    @property
    def exitcode(self) -> int | None:
        """None while it runs; its exit status, or minus the signal that killed it."""
        if self._exitcode is None and not self._gone:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # not ours to wait for after all: alive while it can be signalled
                self._gone = not pid_alive(self.pid)
                return None
            if pid == self.pid:
                self._exitcode = os.waitstatus_to_exitcode(status)
        return self._exitcode

    def is_alive(self) -> bool:
        return self.exitcode is None and not self._gone

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.is_alive() and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.005)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


_PR_SET_CHILD_SUBREAPER = 36
_subreaper: list[bool] = []  # whether this process is the subreaper of its descendants (asked once)


def _become_subreaper() -> bool:
    """Make this process the parent of orphaned descendants (Linux ``prctl``); False where it cannot."""
    if not _subreaper:
        made = False
        if sys.platform.startswith("linux"):
            import ctypes

            try:
                libc = ctypes.CDLL(None, use_errno=True)
                made = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
            except (OSError, AttributeError):
                made = False
        _subreaper.append(made)
    return _subreaper[0]


@dataclass(eq=False)
class _Worker:
    process: WorkerProcess | ForkedProcess  # the first worker's process until this one's hello names it
    items_fd: int  # we write items to it
    results_fd: int  # and read answers from this one
    preload: str | None = None
    pending: collections.deque[asyncio.Future[Any]] = field(default_factory=collections.deque)
    outgoing: bytearray = field(default_factory=bytearray)
    incoming: bytearray = field(default_factory=bytearray)
    writing: bool = False
    alive: bool = True
    greeted: bool = False  # its hello (the first frame, naming its process) has been read


def _spawn(count: int, preload: str | None) -> list[_Worker]:
    """Start ``count`` workers: one process that preloads and forks the others, or (where this process
    cannot adopt forked workers) a process for each."""
    if count > 1 and not _become_subreaper():
        return [worker for _ in range(count) for worker in _spawn(1, preload)]
    pairs: list[tuple[int, int, int, int]] = []  # items reader/writer, results reader/writer
    try:
        for _ in range(count):
            items_reader, items_writer = os.pipe()  # non-inheritable: only pass_fds reach the child
            results_reader, results_writer = os.pipe()
            pairs.append((items_reader, items_writer, results_reader, results_writer))
            _grow_pipe(items_writer)
            _grow_pipe(results_writer)
        command = [sys.executable, "-m", "pipelines.pageworker"]
        if preload:
            command += ["--preload", preload]
        command += [f"{items_reader}:{results_writer}" for items_reader, _, _, results_writer in pairs]
        # the workers import what this process can (its sys.path: a test's folder, an uninstalled checkout)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
        popen = subprocess.Popen(command, pass_fds=[fd for pair in pairs for fd in (pair[0], pair[3])],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env)
    except BaseException:
        for pair in pairs:
            for fd in pair:
                os.close(fd)
        raise
    process = WorkerProcess(popen)
    for items_reader, _, _, results_writer in pairs:
        os.close(items_reader)
        os.close(results_writer)
    return [_Worker(process, items_writer, results_reader, preload)
            for _, items_writer, results_reader, _ in pairs]


def _frames(worker: _Worker) -> Iterator[bytes]:
    """The complete frames read so far from a worker, taken out of its buffer."""
    while len(worker.incoming) >= _HEADER.size:
        (length,) = _HEADER.unpack_from(worker.incoming)
        if len(worker.incoming) < _HEADER.size + length:
            return
        payload = bytes(worker.incoming[_HEADER.size:_HEADER.size + length])
        del worker.incoming[:_HEADER.size + length]
        yield payload


def _greet(worker: _Worker, payload: bytes) -> None:
    kind, pid = pickle.loads(payload)
    assert kind == _HELLO, f"a page worker's first frame was {kind!r}"
    worker.greeted = True
    if pid != worker.process.pid:
        worker.process = ForkedProcess(pid)


def _await_hello(worker: _Worker, timeout: float = 60.0) -> None:
    """Read a worker's hello now (it names the process to wait for); nothing when its pipe closed first."""
    deadline = time.monotonic() + timeout
    while not worker.greeted and time.monotonic() < deadline:
        for payload in _frames(worker):
            _greet(worker, payload)
            return
        ready = _wait_readable(worker.results_fd, deadline - time.monotonic())
        if not ready:
            return
        try:
            data = os.read(worker.results_fd, 65536)
        except BlockingIOError:
            continue
        except OSError:
            return
        if not data:
            return
        worker.incoming += data


def _wait_readable(fd: int, timeout: float) -> bool:
    import select

    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(max(timeout, 0) * 1000))


def _release(worker: _Worker) -> None:
    """Close a worker that never got a job: it sees end-of-file and exits."""
    _await_hello(worker)
    os.close(worker.items_fd)
    worker.process.join(10.0)
    if worker.process.is_alive():
        worker.process.kill()
        worker.process.join()
    os.close(worker.results_fd)


# Workers started by ``prestart`` for the crawl's pool to adopt (filled at run time, never at import).
_prestarted: list[_Worker] = []


def prestart(workers: int, preload: str | None = None) -> None:
    """Start ``workers`` page workers now, running ``preload`` while their process waits for its pool."""
    _prestarted.extend(_spawn(workers, preload))


def release_prestarted() -> None:
    """Stop the pre-started workers no pool adopted (a crawl processing its pages in-process)."""
    while _prestarted:
        _release(_prestarted.pop())


class PagePool:
    def __init__(self, workers: int, target: Callable[..., None], args: tuple[Any, ...], *,
                 depth: int = 3, preload: str | None = None) -> None:
        self.size = workers
        self.target = target
        self.args = args
        self.depth = depth
        self.preload = preload
        self.workers: list[_Worker] = []
        self.waiting: collections.deque[tuple[bytes, asyncio.Future[Any]]] = collections.deque()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.failure: str | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Adopt pre-started workers with the same preload (``prestart``), start the others, and send
        each its job: ``target(*args, receive, answer)``."""
        self.loop = loop
        adopted = [worker for worker in _prestarted if worker.preload == self.preload][: self.size]
        for worker in adopted:
            _prestarted.remove(worker)
        missing = self.size - len(adopted)
        self.workers = adopted + (_spawn(missing, self.preload) if missing > 0 else [])
        job = pickle.dumps((self.target, self.args), protocol=pickle.HIGHEST_PROTOCOL)
        for worker in self.workers:
            os.set_blocking(worker.items_fd, False)
            os.set_blocking(worker.results_fd, False)
            loop.add_reader(worker.results_fd, self._readable, worker)
            worker.outgoing += _HEADER.pack(len(job)) + job
            self._flush(worker)

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
        for payload in _frames(worker):
            if not worker.greeted:
                _greet(worker, payload)
                continue
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
            os.close(worker.items_fd)
        for worker in self.workers:
            if not worker.greeted:
                os.set_blocking(worker.results_fd, True)
                _await_hello(worker, timeout)
            worker.process.join(timeout)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            os.close(worker.results_fd)
        self.workers.clear()

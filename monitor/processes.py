"""Processes by pid: whether one is still alive, what is left of a process group, and a lifeline that ends a
child with its parent (standard library only: the crawl process imports it).

A crawl subprocess holds the read end of its parent's lifeline pipe (``lifeline()``, passed with
``pass_fds``); only the parent holds the write end, so however the parent ends (SIGKILL included) the child
reads end-of-file and kills its own process group (``die_with_parent``): a crawl never runs on without the
process that holds its site's lease.
"""

from __future__ import annotations

import os
import signal
import threading
import time

LIFELINE_ENV = "CLAIMWATCH_LIFELINE_FD"

_lifeline: list[int] = []  # this process's lifeline (read end, write end), made on first use
_lifeline_lock = threading.Lock()


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this pid runs: it exists (ours to signal or not) and is not a zombie."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped) is not a live process
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group ``pgid``; where there is no /proc, [pgid] while the
    group has any member."""
    if not os.path.isdir("/proc/self"):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        except PermissionError:
            pass
        return [pgid]
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[-1].split()
        except OSError:
            continue  # ended meanwhile
        # after the command: state, ppid, pgrp
        if len(fields) > 2 and fields[0] != "Z" and fields[2] == str(pgid):
            members.append(int(name))
    return members


def end_process_group(pgid: int, timeout: float = 10.0) -> bool:
    """Kill (SIGKILL) whatever is left of process group ``pgid`` and wait up to ``timeout`` seconds for it to
    be gone; True when it is. Called once its leader has been reaped: while any member lives, no new process
    can be given the group's number."""
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)  # SIGKILL is delivered at once; the kernel takes a moment to tear a process down
    return True


def lifeline() -> tuple[int, dict[str, str]]:
    """The read end of this process's lifeline, to pass to a child (``pass_fds``), and the environment
    naming it. The write end stays open, never inherited, until this process ends."""
    with _lifeline_lock:
        if not _lifeline:
            _lifeline.extend(os.pipe())  # both non-inheritable: only pass_fds hands the read end on
        return _lifeline[0], {LIFELINE_ENV: str(_lifeline[0])}


def die_with_parent() -> None:
    """In a child started with a ``lifeline()``: once the parent is gone, SIGKILL this process's group (this
    process alone when it leads none). A thread blocked on the pipe: nothing runs until then."""
    value = os.environ.pop(LIFELINE_ENV, None)  # not for this process's own children
    if not value or not value.isdigit():
        return
    fd = int(value)

    def watch() -> None:
        while True:
            try:
                if not os.read(fd, 1):
                    break  # end-of-file: the parent's write end is closed, the parent is gone
            except InterruptedError:
                continue
            except OSError:
                break
        if os.getpgrp() == os.getpid():
            os.killpg(0, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()


def raise_open_files_limit(wanted: int = 65536) -> int:
    """Raise this process's soft limit on open files towards its hard limit (at most ``wanted``): a crawl
    of hundreds of sites in flight holds a few connections per site, more than a shell's usual 1,024.
    Returns the soft limit in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft

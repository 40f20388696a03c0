"""Worker targets for tests/test_pagepool.py (a module of its own: spawned workers import it by name)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any


def echo(tag: str, receive: Callable[[], Any], answer: Callable[[bool, Any], None]) -> None:
    """Answer each item with (tag, pid, item); an item "boom" fails; an item "die" kills the worker; "exit"
    ends it with SystemExit(4), "crash" with an uncaught exception."""
    while (item := receive()) is not None:
        if item == "boom":
            answer(False, ValueError("boom"))
        elif item == "die":
            os._exit(3)
        elif item == "exit":
            raise SystemExit(4)
        elif item == "crash":
            raise RuntimeError("crash")
        elif isinstance(item, bytes):
            answer(True, (tag, os.getpid(), len(item), item[:8], item[-8:]))
        else:
            answer(True, (tag, os.getpid(), item))


PRELOADED: int | None = None  # set by ``preload`` in a worker that was started with it


def preload() -> None:
    global PRELOADED
    PRELOADED = os.getpid()


def preloaded(receive: Callable[[], Any], answer: Callable[[bool, Any], None]) -> None:
    """Answer each item with (its pid, what ``preload`` recorded before the job arrived, its parent's pid,
    the item)."""
    while (item := receive()) is not None:
        answer(True, (os.getpid(), PRELOADED, os.getppid(), item))

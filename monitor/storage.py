"""Storage problems: the database or the data folder cannot take a write (locked, full, read-only...).

``storage_problem`` names the cause of an exception, or of its message (page workers send failures back as
text), when the cause is the machine's and not the page's: such a failure stops the crawl and fails its run
with a one-line reason, instead of being counted page after page. Anything else is None.

>>> str(storage_problem(OSError(28, "No space left on device")))
'disk full ([Errno 28] No space left on device)'
>>> str(storage_problem("OperationalError: (sqlite3.OperationalError) database is locked"))
'database is locked'
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["StorageCause", "StorageProblem", "storage_problem"]


class StorageCause(StrEnum):
    LOCKED = "database is locked"
    DISK_FULL = "disk full"
    FILE_TOO_LARGE = "file size limit reached"
    READ_ONLY_DATABASE = "read-only database"
    READ_ONLY_FILE_SYSTEM = "read-only file system"
    PERMISSION = "permission denied"
    NOT_A_DIRECTORY = "not a directory"
    CANNOT_OPEN = "cannot open the database file"
    IO_ERROR = "disk I/O error"


# --- rules as data -----------------------------------------------------------------------------------------

#: Causes of operating-system errors.
CAUSE_BY_ERRNO: dict[int, StorageCause] = {
    errno.ENOSPC: StorageCause.DISK_FULL,
    errno.EDQUOT: StorageCause.DISK_FULL,
    errno.EFBIG: StorageCause.FILE_TOO_LARGE,
    errno.EROFS: StorageCause.READ_ONLY_FILE_SYSTEM,
    errno.EACCES: StorageCause.PERMISSION,
    errno.EPERM: StorageCause.PERMISSION,
    errno.ENOTDIR: StorageCause.NOT_A_DIRECTORY,
    errno.EEXIST: StorageCause.NOT_A_DIRECTORY,  # a file where a folder is made (mkdir exist_ok)
    errno.EIO: StorageCause.IO_ERROR,
}

#: Causes by the words of SQLite's, PostgreSQL's and the operating system's messages (lower case).
CAUSE_BY_MESSAGE: tuple[tuple[str, StorageCause], ...] = (
    ("database is locked", StorageCause.LOCKED),
    ("database table is locked", StorageCause.LOCKED),
    ("lock timeout", StorageCause.LOCKED),  # PostgreSQL: canceling statement due to lock timeout
    ("could not obtain lock", StorageCause.LOCKED),
    ("database or disk is full", StorageCause.DISK_FULL),
    ("no space left on device", StorageCause.DISK_FULL),  # also PostgreSQL's "could not extend file"
    ("disk quota exceeded", StorageCause.DISK_FULL),
    ("file too large", StorageCause.FILE_TOO_LARGE),
    ("attempt to write a readonly database", StorageCause.READ_ONLY_DATABASE),
    ("read-only transaction", StorageCause.READ_ONLY_DATABASE),  # PostgreSQL hot standby
    ("read-only file system", StorageCause.READ_ONLY_FILE_SYSTEM),
    ("permission denied", StorageCause.PERMISSION),
    ("operation not permitted", StorageCause.PERMISSION),
    ("not a directory", StorageCause.NOT_A_DIRECTORY),
    ("file exists", StorageCause.NOT_A_DIRECTORY),
    ("unable to open database file", StorageCause.CANNOT_OPEN),
    ("disk i/o error", StorageCause.IO_ERROR),
)

# "OperationalError: (sqlite3.OperationalError) " before a driver's message, as page workers pass it on
_WRAPPER = re.compile(r"^(?:\w+(?:Error|Exception): )?(?:\([\w.]+\) )?")
_MAX_DETAIL = 240


@dataclass(frozen=True, slots=True)
class StorageProblem:
    cause: StorageCause
    detail: str  # the original message, on one line

    def __str__(self) -> str:
        if self.cause.value.lower() in self.detail.lower():
            return self.detail
        return f"{self.cause} ({self.detail})"


def _errors(error: BaseException) -> Iterator[BaseException]:
    """The exception, the driver's exception it wraps, and those it was raised from."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen or len(seen) > 20:
            continue
        seen.add(id(current))
        yield current
        pending += [e for e in (getattr(current, "orig", None), current.__cause__, current.__context__)
                    if isinstance(e, BaseException)]


def _one_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    line = _WRAPPER.sub("", line)
    return line if len(line) <= _MAX_DETAIL else line[: _MAX_DETAIL - 3] + "..."


def _by_message(text: str) -> StorageCause | None:
    lowered = text.lower()
    return next((cause for needle, cause in CAUSE_BY_MESSAGE if needle in lowered), None)


def storage_problem(error: BaseException | str) -> StorageProblem | None:
    """The storage problem behind ``error`` (an exception, or its text), or None when it is not one."""
    if isinstance(error, str):
        cause = _by_message(error)
        return StorageProblem(cause, _one_line(error)) if cause is not None else None
    for current in _errors(error):
        if isinstance(current, OSError) and current.errno in CAUSE_BY_ERRNO:
            return StorageProblem(CAUSE_BY_ERRNO[current.errno], _one_line(str(current)))
        # SQLAlchemy's own message adds the SQL and a link: the driver's exception says it in one line
        if getattr(current, "orig", None) is not None:
            continue
        cause = _by_message(str(current))
        if cause is not None:
            return StorageProblem(cause, _one_line(str(current)))
    return None

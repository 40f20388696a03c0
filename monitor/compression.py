"""Compression of stored bytes (raw bodies, snapshot texts): Zstandard, reading older zlib data too.

zstd at level 1 compresses a 50 KB page in ~0.06 ms, a tenth of zlib's level 6, and a little smaller
(level 3 makes shop pages no smaller); this runs for every new snapshot, on a compressor kept per thread
(a new one for each call sets up its tables again: ~0.01 ms). Zstandard frames start with a magic number,
zlib streams never do, so a stored value says which codec made it.

    >>> decompress(compress(b"90-day money-back guarantee")) == b"90-day money-back guarantee"
    True
"""

from __future__ import annotations

import threading
import zlib
from functools import cache
from types import ModuleType
from typing import Any

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_LEVEL = 1
_local = threading.local()  # each thread's compressor (one may not be used by two threads at once)


@cache
def _zstd() -> ModuleType:
    try:
        from compression import zstd  # Python 3.14+
    except ImportError:
        from backports import zstd
    return zstd


def compress(data: bytes) -> bytes:
    """One complete zstd frame."""
    compressor: Any = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = _zstd().ZstdCompressor(ZSTD_LEVEL)
    return bytes(compressor.compress(data, compressor.FLUSH_FRAME))


def decompress(data: bytes) -> bytes:
    """Bytes made by ``compress``, or by zlib (what claimwatch stored before it used zstd)."""
    if data[:4] == ZSTD_MAGIC:
        return bytes(_zstd().decompress(data))
    return zlib.decompress(data)

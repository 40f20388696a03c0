"""The browser's only way out: a local SOCKS5 proxy that resolves every host itself and connects only to the
addresses a site's host policy allows (``monitor.hosts``).

Chromium is pointed at it (Playwright's ``proxy`` option; Playwright sends loopback through it too). With a
SOCKS5 proxy Chromium resolves no names itself, it hands them over, so the check is made here, on the very
address connected to: a page cannot reach an internal service by a script, a frame, an image, a redirect
hop or a DNS answer that changes between two lookups. Refused connections get SOCKS reply 2 ("not allowed by
ruleset") and are listed in ``refused``.

>>> with EgressGuard(HostPolicy.for_site(["http://127.0.0.1:8000/"])) as guard:   # doctest: +SKIP
...     browser = playwright.chromium.launch(proxy={"server": guard.server}, ...)
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
import threading
from types import TracebackType

from monitor.hosts import NO_HOSTS, HostPolicy

log = logging.getLogger(__name__)

_CONNECT = 1
_IPV4, _DOMAIN, _IPV6 = 1, 3, 4
_OK, _FAILURE, _NOT_ALLOWED, _UNREACHABLE, _BAD_COMMAND, _BAD_ADDRESS = 0, 1, 2, 4, 7, 8
HANDSHAKE_TIMEOUT = 30.0
CONNECT_TIMEOUT = 30.0
_CHUNK = 64 * 1024


class EgressGuard:
    """A SOCKS5 proxy on 127.0.0.1 (a free port) in a thread of its own; ``policy`` may be swapped between
    pages. Use as a context manager, or ``start()`` and ``stop()``."""

    def __init__(self, policy: HostPolicy = NO_HOSTS) -> None:
        self.policy = policy
        self.refused: list[str] = []  # "host:port (address, ...)" of every refused connection
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    @property
    def server(self) -> str:
        """The proxy's address for Playwright: ``socks5://127.0.0.1:<port>``."""
        if not self._port:
            raise RuntimeError("EgressGuard is not started")
        return f"socks5://127.0.0.1:{self._port}"

    def start(self) -> EgressGuard:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="egress-guard", daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._client, "127.0.0.1", 0), loop).result()
        self._port = int(self._server.sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        server = self._server

        async def shut() -> None:
            if server is not None:
                server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shut(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        loop.close()
        self._port = 0

    def __enter__(self) -> EgressGuard:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            target = await asyncio.wait_for(self._handshake(reader, writer), HANDSHAKE_TIMEOUT)
            if target is None:
                return
            host, port = target
            connected = await self._connect(host, port)
            if isinstance(connected, int):
                writer.write(_reply(connected))
                await writer.drain()
                return
            upstream_reader, upstream = connected
            writer.write(_reply(_OK))
            await writer.drain()
            await asyncio.gather(_pipe(reader, upstream), _pipe(upstream_reader, writer))
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            pass
        finally:
            for stream in (upstream, writer):
                if stream is not None:
                    stream.close()

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[str, int] | None:
        version, methods = await reader.readexactly(2)
        await reader.readexactly(methods)
        if version != 5:
            return None
        writer.write(b"\x05\x00")  # no authentication: the port is on loopback, for this process's browser
        await writer.drain()
        version, command, _, kind = await reader.readexactly(4)
        if kind == _IPV4:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif kind == _IPV6:
            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
        elif kind == _DOMAIN:
            (length,) = await reader.readexactly(1)
            host = (await reader.readexactly(length)).decode("idna")
        else:
            writer.write(_reply(_BAD_ADDRESS))
            return None
        (port,) = struct.unpack(">H", await reader.readexactly(2))
        if version != 5 or command != _CONNECT:
            writer.write(_reply(_BAD_COMMAND))
            return None
        return host, port

    async def _connect(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | int:
        """Resolve host, keep the addresses the policy allows, connect to the first that answers; a SOCKS
        error code when none may be (or can be) reached."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            return _UNREACHABLE
        policy = self.policy
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        allowed = [address for address in addresses if policy.allows_address(host, port, address)]
        if not allowed:
            self.refused.append(f"{host}:{port} ({', '.join(addresses)})")
            log.warning("browser connection to %s:%s refused: %s is internal and not one of the site's own hosts",
                        host, port, ", ".join(addresses))
            return _NOT_ALLOWED
        for address in allowed:
            with contextlib.suppress(OSError, TimeoutError):
                return await asyncio.wait_for(asyncio.open_connection(address, port), CONNECT_TIMEOUT)
        return _FAILURE


def _reply(code: int) -> bytes:
    return bytes([5, code, 0, _IPV4, 0, 0, 0, 0, 0, 0])


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(_CHUNK):
            writer.write(chunk)
            await writer.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()

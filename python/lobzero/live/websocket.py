"""A small RFC 6455 websocket (client and server) and an HTTP/1.1 GET on asyncio streams:
enough for exchange market-data feeds (text frames, ping / pong, close) without a dependency
(the ``websockets`` package is not among lobzero's). TLS (``wss://``, ``https://``) through the
standard library's ``ssl``. Not a general implementation: no extensions (no compression), no
fragmented messages from the peer beyond continuation of one text message."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import ssl
import struct
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from lobzero.exceptions import LobzeroError

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class FeedError(LobzeroError):
    """A feed's connection failed or its peer broke the protocol (the feed reconnects)."""


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def _endpoint(url: str) -> tuple[str, int, str, ssl.SSLContext | None]:
    parts = urlsplit(url)
    secure = parts.scheme in ("wss", "https")
    if parts.scheme not in ("ws", "wss", "http", "https") or not parts.hostname:
        raise FeedError(f"{url}: not a ws://, wss://, http:// or https:// address")
    port = parts.port or (443 if secure else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.hostname, port, path, ssl.create_default_context() if secure else None


async def _read_headers(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return lines[0], headers


async def http_get_json(url: str, timeout_s: float = 10.0) -> Any:
    """GETs ``url`` (HTTP/1.1, ``Connection: close``) and decodes its JSON body."""
    host, port, path, context = _endpoint(url)
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context), timeout_s
        )
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        status, headers = await asyncio.wait_for(_read_headers(reader), timeout_s)
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        else:
            body = await reader.read()
        writer.close()
    except (TimeoutError, OSError, asyncio.IncompleteReadError) as e:
        raise FeedError(f"GET {url}: {e!r}") from e
    if " 200 " not in status + " ":
        raise FeedError(f"GET {url}: {status}")
    return json.loads(body)


class WebSocket:
    """One open websocket; ``mask``: the client masks what it sends (RFC 6455 5.3)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, mask: bool):
        self.reader, self.writer, self.mask = reader, writer, mask
        self.closed = False

    async def send(self, payload: str | bytes, opcode: int = OP_TEXT) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        head = bytearray([0x80 | opcode])
        bit = 0x80 if self.mask else 0
        n = len(data)
        if n < 126:
            head.append(bit | n)
        elif n < 1 << 16:
            head.append(bit | 126)
            head += struct.pack(">H", n)
        else:
            head.append(bit | 127)
            head += struct.pack(">Q", n)
        if self.mask:
            key = os.urandom(4)
            head += key
            data = bytes(b ^ key[i % 4] for i, b in enumerate(data))
        self.writer.write(bytes(head) + data)
        await self.writer.drain()

    async def _frame(self) -> tuple[bool, int, bytes]:
        b0, b1 = await self.reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack(">H", await self.reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack(">Q", await self.reader.readexactly(8))
        key = await self.reader.readexactly(4) if b1 & 0x80 else None
        data = await self.reader.readexactly(n)
        if key is not None:
            data = bytes(b ^ key[i % 4] for i, b in enumerate(data))
        return bool(b0 & 0x80), b0 & 0x0F, data

    async def recv(self) -> str | None:
        """The next text message (None once the peer closed); answers pings."""
        parts: list[bytes] = []
        while True:
            try:
                fin, opcode, data = await self._frame()
            except (asyncio.IncompleteReadError, ConnectionError):
                self.closed = True
                return None
            if opcode == OP_PING:
                await self.send(data, OP_PONG)
            elif opcode == OP_CLOSE:
                self.closed = True
                return None
            elif opcode in (OP_TEXT, OP_BINARY, OP_CONT):
                parts.append(data)
                if fin:
                    return b"".join(parts).decode()

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(ConnectionError):
                await self.send(b"", OP_CLOSE)
        self.writer.close()


async def connect(url: str, timeout_s: float = 10.0) -> WebSocket:
    """Opens a client websocket to ``url`` (ws:// or wss://)."""
    host, port, path, context = _endpoint(url)
    key = base64.b64encode(os.urandom(16)).decode()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context), timeout_s
        )
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        status, headers = await asyncio.wait_for(_read_headers(reader), timeout_s)
    except (TimeoutError, OSError, asyncio.IncompleteReadError) as e:
        raise FeedError(f"websocket {url}: {e!r}") from e
    if " 101 " not in status + " " or headers.get("sec-websocket-accept") != accept_key(key):
        writer.close()
        raise FeedError(f"websocket {url}: handshake refused ({status})")
    return WebSocket(reader, writer, mask=True)


#: a server's handler of one websocket: (socket, request path)
Handler = Callable[[WebSocket, str], Awaitable[None]]
#: a server's handler of a plain GET: request path -> JSON body (None: 404)
GetHandler = Callable[[str], Any]


async def serve(
    handler: Handler, get: GetHandler | None = None, host: str = "127.0.0.1", port: int = 0
) -> asyncio.Server:
    """A server on ``host:port`` (0: any free port): websocket upgrades go to ``handler``,
    other GETs to ``get``. For tests and local replays (loopback)."""

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request, headers = await _read_headers(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        path = request.split(" ")[1] if " " in request else "/"
        if headers.get("upgrade", "").lower() == "websocket":
            writer.write(
                (
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\n"
                    f"Sec-WebSocket-Accept: {accept_key(headers['sec-websocket-key'])}\r\n\r\n"
                ).encode()
            )
            await writer.drain()
            socket = WebSocket(reader, writer, mask=False)
            try:
                await handler(socket, path)
            finally:
                await socket.close()
            return
        body = get(path) if get is not None else None
        if body is None:
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        else:
            data = json.dumps(body).encode()
            writer.write(
                f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n\r\n".encode()
                + data
            )
        await writer.drain()
        writer.close()

    return await asyncio.start_server(on_client, host, port)

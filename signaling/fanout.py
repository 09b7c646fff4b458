"""Room emits that cost one encode per message and no task per recipient.

    manager = make_manager(redis_url)            # FanoutManager, or FanoutRedisManager with Redis
    sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=manager)
    await sio.emit("chat", data, room="s42")     # same public API; the fan-out below is cheaper

python-socketio's ``AsyncManager.emit`` already encodes a room emit once, but then starts one
asyncio task per recipient (``create_task(server._send_eio_packet(...))``) and waits for them
all; each task looks the socket up, re-checks its ping timeout, logs, and puts the packet on
the socket's queue. At rooms of 30 and thousands of clients that per-recipient task is most of
a node's CPU per chat delivery. Here the same encoded Engine.IO packet goes straight onto each
recipient's send queue (``put_nowait``): the socket's own writer task (websocket) or the next
long-poll GET (polling) sends it, exactly as after ``socket.send``.

Second step, for websocket clients whose socket is idle (nothing queued, its writer task waiting
on the queue): the websocket frame is built once per emit and written straight to each
recipient's transport, skipping the writer task's wake-up (``asyncio.wait_for`` around
``queue.get`` creates a task and a timer per packet), which was a third of a node's CPU per
delivery. A recipient with anything queued, a paused (slow) transport or a socket mid-upgrade
gets the packet through its queue instead, so the order of a socket's packets never changes.
``install(sio)`` swaps engine.io's aiohttp websocket wrapper for ``DirectWebSocket``, which notes
its ``WebSocketResponse`` on the engine.io socket; it also turns permessage-deflate off: chat
frames of a few hundred bytes gain little from it, and aiohttp keeps a zlib compressor per
connection (≈ 300 KiB each, 1.5 GB at 5,000 browsers) and compresses each delivery separately.

This reaches into python-engineio internals — ``server.eio.sockets``, ``socket.queue``,
``socket.closed``, ``socket.upgraded/upgrading``, ``server._async["websocket"]`` — into
aiohttp's ``WebSocketResponse._writer`` (``transport``, ``compress``, ``_closing``,
``protocol._paused``), asyncio.Queue's ``_queue``/``_getters``, and ``AsyncManager.emit``'s signature. ``INTERNALS_CHECKED`` names
the versions this was read against; ``tests/signaling/test_fanout.py`` fails loudly if an
installed version moves any of them. Emits with an ack callback, binary payloads, or a
server that is not wired as expected fall back to the stock path, so behaviour never changes,
only cost.
"""

from __future__ import annotations

from typing import Any

import socketio
from aiohttp.web import WebSocketResponse
from engineio import packet as eio_packet
from engineio.async_drivers import aiohttp as eio_aiohttp
from socketio import packet as sio_packet
from socketio.async_manager import AsyncManager

INTERNALS_CHECKED = {"python-socketio": "5.18.1", "python-engineio": "4.15.1", "aiohttp": "3.14.5"}
WS_COMPRESS = False  # permessage-deflate for the signaling websocket (see the module docstring)


class DirectWebSocket(eio_aiohttp.WebSocket):
    """engine.io's aiohttp websocket wrapper, noting its response on the engine.io socket it serves."""

    async def __call__(self, environ: dict[str, Any]) -> WebSocketResponse:
        request = environ["aiohttp.request"]
        self._sock = WebSocketResponse(max_msg_size=self.server.max_http_buffer_size, compress=WS_COMPRESS)
        await self._sock.prepare(request)
        self.environ = environ
        sock = getattr(self.handler, "__self__", None)  # handler is AsyncSocket._websocket_handler, bound
        if sock is not None:
            sock.fanout_ws = self._sock
        try:
            await self.handler(self)
        finally:
            if sock is not None:
                sock.fanout_ws = None
        return self._sock


def install(sio: socketio.AsyncServer) -> bool:
    """Give ``sio`` the direct websocket path (once, after creating it); False if engine.io's wiring moved."""
    eio = sio.eio
    drivers = getattr(eio, "_async", None)
    if not isinstance(drivers, dict) or drivers.get("websocket") is not eio_aiohttp.WebSocket:
        return False
    eio._async = {**drivers, "websocket": DirectWebSocket}  # a copy: the module's dict is shared
    return True


def _frame(text: str) -> bytes:
    """One unmasked, uncompressed websocket text frame (server to client)."""
    data = text.encode()
    n = len(data)
    if n < 126:
        return bytes((0x81, n)) + data
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + data
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + data


def _direct_writer(sock: Any) -> Any:
    """The transport to write to now, or None when the packet must go through the socket's queue."""
    ws = getattr(sock, "fanout_ws", None)
    if ws is None or not sock.upgraded or sock.upgrading:
        return None
    q = sock.queue
    if q._queue or not q._getters:  # something queued, or the writer task is busy: keep the order
        return None
    w = ws._writer
    if w is None or w.compress or w._closing or w.protocol._paused or w.transport.is_closing():
        return None
    return w.transport


def internals_present(sio: socketio.AsyncServer) -> bool:
    """True when the engine.io server exposes what the fast path writes to."""
    eio = getattr(sio, "eio", None)
    return isinstance(getattr(eio, "sockets", None), dict)


class FanoutManager(AsyncManager):
    """``AsyncManager`` whose room emit queues one shared packet per recipient, with no per-recipient task."""

    fast_deliveries = 0  # counted so the guard test can prove the fast path ran
    direct_deliveries = 0  # of which written straight to the websocket transport

    async def emit(self, event: str, data: Any, namespace: str, room: Any = None, skip_sid: Any = None,
                   callback: Any = None, to: Any = None, **kwargs: Any) -> None:  # fmt: skip
        room = to or room
        sockets = getattr(getattr(self.server, "eio", None), "sockets", None)
        if callback is not None or not isinstance(sockets, dict) or namespace not in self.rooms:
            await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs)
            return
        if isinstance(data, tuple):
            args = list(data)
        elif data is not None:
            args = [data]
        else:
            args = []
        encoded = self.server.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, *args]).encode()
        if isinstance(encoded, list):  # binary attachments: several engine.io packets; rare, stock path
            await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs)
            return
        pkt = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        text = pkt.encode()  # fills the packet's encode cache once; every recipient's writer reuses it
        frame: bytes | None = None
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        queued = direct = 0
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip:
                continue
            sock = sockets.get(eio_sid)
            if sock is None or sock.closed:
                continue
            transport = _direct_writer(sock)
            if transport is not None:
                if frame is None:
                    frame = _frame(text)
                transport.write(frame)
                direct += 1
            else:
                sock.queue.put_nowait(pkt)
                queued += 1
        FanoutManager.fast_deliveries += queued + direct
        FanoutManager.direct_deliveries += direct


class FanoutRedisManager(socketio.AsyncRedisManager, FanoutManager):
    """``AsyncRedisManager`` whose local deliveries (own emits and those from other nodes) use the fast path.

    Method order: AsyncRedisManager -> AsyncPubSubManager -> FanoutManager -> AsyncManager, so the
    pub/sub manager's ``super().emit`` (local delivery) lands in ``FanoutManager.emit``.
    """


def make_manager(redis_url: str | None, stock: bool = False, **redis_kwargs: Any) -> AsyncManager:
    """The client manager for this node: in-process, or through Redis when ``redis_url`` is set.

    ``stock`` (setting ``signaling.stock_fanout``) gives python-socketio's own managers instead:
    the benchmark's baseline, and a way out if an upgrade breaks the fast path.
    """
    if stock:
        return AsyncManager() if redis_url is None else socketio.AsyncRedisManager(redis_url, **redis_kwargs)
    if redis_url is None:
        return FanoutManager()
    return FanoutRedisManager(redis_url, **redis_kwargs)


def versions() -> dict[str, str]:
    """Installed versions of the two packages whose internals this module uses."""
    from importlib.metadata import version

    return {name: version(name) for name in INTERNALS_CHECKED}


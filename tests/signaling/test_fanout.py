"""Guard for signaling.fanout: the python-socketio/engineio internals it uses are where it expects them.

If one of these fails after an upgrade of python-socketio or python-engineio, read
signaling/fanout.py against the new sources before touching the test: the fast path puts
encoded packets straight onto engine.io sockets' queues, and a moved attribute would make
room emits silently fall back to the slow path (or worse, go nowhere).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import engineio.async_socket
import socketio
from aiohttp import web
from aiohttp._websocket.writer import WebSocketWriter
from aiohttp.base_protocol import BaseProtocol
from aiohttp.web import WebSocketResponse
from engineio.async_drivers import aiohttp as eio_aiohttp
from socketio.async_manager import AsyncManager
from socketio.async_pubsub_manager import AsyncPubSubManager

from signaling.fanout import (
    INTERNALS_CHECKED,
    DirectWebSocket,
    FanoutManager,
    FanoutRedisManager,
    install,
    internals_present,
    versions,
)
from tests.helpers.rooms import free_port


def test_versions_are_the_ones_read() -> None:
    # the structural checks below are the real guard; a new minor release of python-socketio or
    # python-engineio must still be read by a person before the pin moves (aiohttp: structure only)
    def minor(v: str) -> tuple[str, ...]:
        return tuple(v.split(".")[:2])

    installed = versions()
    for name in ("python-socketio", "python-engineio"):
        assert minor(installed[name]) == minor(INTERNALS_CHECKED[name]), (
            f"{name} {installed[name]} is installed, signaling/fanout.py was read against "
            f"{INTERNALS_CHECKED[name]}: re-read socketio/async_manager.py, async_pubsub_manager.py and "
            "engineio/async_socket.py, then update INTERNALS_CHECKED"
        )


def test_manager_emit_signature_and_method_order() -> None:
    params = list(inspect.signature(AsyncManager.emit).parameters)
    assert params[:8] == ["self", "event", "data", "namespace", "room", "skip_sid", "callback", "to"], params
    # the pub/sub manager's local delivery (super().emit) must land in FanoutManager.emit
    mro = FanoutRedisManager.__mro__
    assert mro.index(AsyncPubSubManager) < mro.index(FanoutManager) < mro.index(AsyncManager)
    src = inspect.getsource(AsyncPubSubManager._handle_emit)
    assert "super().emit(" in src
    emit_src = inspect.getsource(AsyncPubSubManager.emit)
    assert "self._handle_emit(message)" in emit_src and "super().emit(" in emit_src


def test_engineio_socket_has_queue_closed_and_a_writer_that_drains_the_queue() -> None:
    init = inspect.getsource(engineio.async_socket.AsyncSocket.__mro__[1].__init__)
    assert "self.queue = self.server.create_queue()" in init and "self.closed = False" in init
    send = inspect.getsource(engineio.async_socket.AsyncSocket.send)
    assert "self.queue.put(pkt)" in send
    ws = inspect.getsource(engineio.async_socket.AsyncSocket._websocket_handler)
    assert "await self.poll()" in ws and "ws.send(pkt.encode())" in ws
    poll = inspect.getsource(engineio.async_socket.AsyncSocket.poll)
    assert "self.queue.get()" in poll
    # the direct path: upgrade flags, the driver's websocket wrapper, aiohttp's writer, asyncio.Queue
    assert "self.upgraded = True" in ws and "self.upgrading = False" in ws
    call = inspect.getsource(eio_aiohttp.WebSocket.__call__)
    assert "WebSocketResponse(" in call and "await self.handler(self)" in call and "self._sock" in call
    assert "self._writer = writer" in inspect.getsource(WebSocketResponse)
    writer_init = inspect.getsource(WebSocketWriter.__init__)
    for attr in ("self.protocol =", "self.transport =", "self.compress =", "self._closing ="):
        assert attr in writer_init, attr
    assert "_paused" in inspect.getsource(BaseProtocol.__init__)
    q: asyncio.Queue[int] = asyncio.Queue()
    assert hasattr(q, "_queue") and hasattr(q, "_getters")


async def test_room_emit_takes_the_fast_path_end_to_end() -> None:
    manager = FanoutManager()
    # short pings: a long-polling client's disconnect otherwise waits out a 25 s poll
    sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=manager, ping_interval=1, ping_timeout=2)
    app = web.Application()
    sio.attach(app)
    assert install(sio) and sio.eio._async["websocket"] is DirectWebSocket

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        await sio.enter_room(sid, "r")

    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    clients: list[socketio.AsyncClient] = []
    got: list[list[Any]] = []
    try:
        assert internals_present(sio)
        for i in range(3):
            c = socketio.AsyncClient(reconnection=False)
            box: list[Any] = []
            got.append(box)
            c.on("news", box.append)
            await c.connect(f"http://127.0.0.1:{port}", transports=["websocket"] if i else ["polling"])
            clients.append(c)
        before, direct_before = FanoutManager.fast_deliveries, FanoutManager.direct_deliveries
        sids = list(sio.manager.get_participants("/", "r"))
        assert len(sids) == 3
        await sio.emit("news", {"n": 1}, room="r")
        await sio.emit("news", {"n": 2}, room="r", skip_sid=sids[0][0])
        for _ in range(200):
            if sum(len(b) for b in got) == 5:
                break
            await asyncio.sleep(0.05)
        assert FanoutManager.fast_deliveries - before == 5
        # the websocket clients were idle: written straight to their transports; the polling one queued
        on_ws = [sio.eio.sockets[eio_sid].upgraded for _, eio_sid in sids]
        assert sorted(on_ws) == [False, True, True]
        assert FanoutManager.direct_deliveries - direct_before == 2 + on_ws[1] + on_ws[2]
        assert sorted(len(b) for b in got) == [1, 2, 2]
        assert all(b[0] == {"n": 1} for b in got)
        # an ack callback still takes the stock path and works
        answered = asyncio.get_running_loop().create_future()
        for c in clients:
            c.on("ask", lambda data: data["q"] * 2)
        await sio.emit("ask", {"q": 21}, to=sids[1][0], callback=lambda *a: answered.set_result(a))
        assert (await asyncio.wait_for(answered, 10)) == (42,)
    finally:
        for c in clients:
            await c.disconnect()
        await runner.cleanup()

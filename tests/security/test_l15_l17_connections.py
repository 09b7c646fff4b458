"""Low 15 and 17: slow clients are cut off; one person cannot open unlimited room connections."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.helpers.rooms import RoomClient, World
from tests.helpers.support import free_port, make_settings


async def test_l15_slow_headers_and_stalled_bodies_are_closed(tmp_path: Path) -> None:
    from aiohttp import web

    from orchestrator.app import create_app
    from orchestrator.commands.serve import make_runner
    from orchestrator.store.db import Database

    settings = make_settings(tmp_path, http={"header_timeout_seconds": 1, "body_timeout_seconds": 1})
    Database.from_url(settings.effective_database_url).upgrade()
    runner = make_runner(create_app(settings), settings.http.header_timeout_seconds)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        # headers trickled one line every 0.3 s: the server hangs up (the limit only turns a hang into a failure)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")

        async def trickle() -> None:
            for _ in range(200):
                await asyncio.sleep(0.3)
                writer.write(b"X-Slow: 1\r\n")
                await writer.drain()

        task = asyncio.create_task(trickle())
        data = await asyncio.wait_for(reader.read(), 40)
        assert data == b""
        task.cancel()
        writer.close()
        # a body that stops half-way is answered 408 (or the connection closed), never waited on forever
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"username\": ")
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 40)
        assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:80]
        writer.close()
    finally:
        await runner.cleanup()


async def test_l17_connections_per_person_and_session_are_capped(world: World) -> None:
    joined = await world.join("stu", world.consult)
    for _ in range(5):
        await world.socket("stu", world.consult, joined["token"])
    extra = RoomClient("stu-6")
    world.clients.append(extra)
    with pytest.raises(Exception):  # noqa: B017 - socketio's ConnectionError
        await extra.connect(world.url, joined["token"])
    assert extra.connect_error["data"]["code"] == "too_many_connections"
    # another person is not affected
    sue = await world.socket("sue", world.consult)
    await sue.wait_for("lobby")


async def test_l18_join_asks_who_before_what_state(world: World) -> None:
    """An outsider learns nothing from a closed session: 403 (not yours), never 409 (closed)."""
    from orchestrator.store.models import SessionRecord

    with world.svc.db.session() as s:
        s.get(SessionRecord, world.consult).status = "closed"
    r = await world.request("POST", f"/api/sessions/{world.consult}/join", "zed")  # another group's student
    assert r.status == 403, await r.text()
    r = await world.request("POST", f"/api/sessions/{world.consult}/join", "stu")  # one of its own
    assert r.status == 409

"""Room test fixtures: the real application on a free loopback port with an in-process media server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import aioice.ice
import pytest
from room_fixtures import World, free_port, make_settings, seed


@pytest.fixture
def loopback_only() -> Iterator[None]:
    """aioice skips 127.0.0.1 when gathering; the tests use it and nothing else (TESTING.md)."""
    saved = aioice.ice.get_host_addresses
    interval, failures = aioice.ice.CONSENT_INTERVAL, aioice.ice.CONSENT_FAILURES
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    yield
    aioice.ice.get_host_addresses = saved
    aioice.ice.CONSENT_INTERVAL, aioice.ice.CONSENT_FAILURES = interval, failures


async def start_world(tmp_path: Path, *, media: bool = True, **settings: Any) -> tuple[World, Any]:
    from aiohttp import web

    from orchestrator.app import create_app
    from orchestrator.services import Services

    cfg = make_settings(tmp_path, **settings)
    svc = Services.build(cfg)
    svc.db.upgrade()
    seeded = seed(svc.db)
    if media:
        from media.rooms import LocalMediaServer, MediaConfig

        svc.extras["media_server"] = LocalMediaServer(
            MediaConfig(host_addresses=["127.0.0.1"], consent_interval=0.5, consent_failures=4)
        )
    app = create_app(cfg, services=svc)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    http = aiohttp.ClientSession()
    world = World(f"http://127.0.0.1:{port}", http, seeded["ids"], seeded["consult"], seeded["defense"], svc,
                  _bearer=seeded["tokens"])  # fmt: skip
    return world, runner


@pytest.fixture
async def world(tmp_path: Path, loopback_only: None) -> AsyncIterator[World]:
    w, runner = await start_world(tmp_path)
    try:
        yield w
    finally:
        await w.close()
        await w.http.close()
        await runner.cleanup()

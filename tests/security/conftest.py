"""Security tests' fixtures: a room world (real server, Socket.IO, in-process media server)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.helpers.rooms import World, start_world


@pytest.fixture
def loopback_only() -> Iterator[None]:
    from media.live import aiortc_hooks

    with aiortc_hooks.restrict_host_addresses(["127.0.0.1"]):
        yield


@pytest.fixture
async def world(tmp_path: Path, loopback_only: None) -> AsyncIterator[World]:
    w, runner = await start_world(tmp_path, media=False)
    try:
        yield w
    finally:
        await w.close()
        await w.http.close()
        await runner.cleanup()

"""Room test fixtures: the real application on a free loopback port with an in-process media server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aioice.ice
import pytest

from tests.helpers.rooms import World, start_world


@pytest.fixture
def loopback_only() -> Iterator[None]:
    """aioice skips 127.0.0.1 when gathering; the tests use it and nothing else (TESTING.md)."""
    saved = aioice.ice.get_host_addresses
    interval, failures = aioice.ice.CONSENT_INTERVAL, aioice.ice.CONSENT_FAILURES
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    yield
    aioice.ice.get_host_addresses = saved
    aioice.ice.CONSENT_INTERVAL, aioice.ice.CONSENT_FAILURES = interval, failures


@pytest.fixture
async def world(tmp_path: Path, loopback_only: None) -> AsyncIterator[World]:
    w, runner = await start_world(tmp_path)
    try:
        yield w
    finally:
        await w.close()
        await w.http.close()
        await runner.cleanup()

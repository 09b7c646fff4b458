"""The real application on a loopback port, its in-process media server given the recorder as its egress."""

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
    from media.live.server import LocalMediaServer
    from media.live.types import MediaConfig
    from media.recording.recorder import open_sink

    # composing each recording.ready is the jobs helper's (tested there): off, to keep these tests to recording
    w, runner = await start_world(tmp_path, media=False, jobs={"compose_on_recording": False})
    # the app built its media router lazily: the server it will use is the one set here
    w.svc.media_server = LocalMediaServer(MediaConfig(host_addresses=["127.0.0.1"], consent_failures=60),
                                          egress=open_sink)  # fmt: skip
    try:
        yield w
    finally:
        await w.close()
        await w.http.close()
        await runner.cleanup()

"""Medium 5: upload bodies are read whole (streamed, with a hard cap -> 413), then parsed; all or nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from tests.helpers.support import ApiClient

HEADER = b"username,display_name,roles,group,group_name,programme,email,timezone\n"


async def trickle(data: bytes, chunk: int = 8192, pause: float = 0.002) -> AsyncIterator[bytes]:
    """Chunked transfer in small pieces: the server sees the body arrive over time."""
    for i in range(0, len(data), chunk):
        yield data[i:i + chunk]
        await asyncio.sleep(pause)


async def test_a_large_roster_arriving_slowly_is_imported_whole(api: ApiClient) -> None:
    rows = b"".join(b"s%05d,Student Number %05d,student,BIG-1,,,,Asia/Almaty\n" % (i, i) for i in range(6000))
    r = await api.call("POST", "/api/roster", "registrar", data=trickle(HEADER + rows),
                       headers={"Content-Type": "text/csv"})  # fmt: skip
    assert r.status == 200, await r.text()
    assert (await r.json())["created"] == 6000
    people = (await (await api.call("GET", "/api/people?role=student", "registrar")).json())["people"]
    last = next(p for p in people if p["username"] == "s05999")
    assert last["display_name"] == "Student Number 05999"


async def test_oversized_bodies_are_413_and_import_nothing(api: ApiClient) -> None:
    big = HEADER + b"".join(b"t%06d,Too Many %06d,student,BIG-2,,,,Asia/Almaty\n" % (i, i) for i in range(160_000))
    assert len(big) > 7_000_000
    # streamed without a length, and declared with one
    r = await api.call("POST", "/api/roster", "registrar", data=trickle(big, 256 * 1024, 0),
                       headers={"Content-Type": "text/csv"})  # fmt: skip
    assert r.status == 413, await r.text()
    r = await api.call("POST", "/api/roster", "registrar", data=big, headers={"Content-Type": "text/csv"})
    assert r.status == 413
    r = await api.call("POST", "/api/calendar", "registrar", data=trickle(b"#" * (3 * 1024 * 1024), 256 * 1024, 0),
                       headers={"Content-Type": "application/yaml"})  # fmt: skip
    assert r.status == 413
    r = await api.call("POST", "/api/auth/login", data=trickle(b" " * (2 * 1024 * 1024), 256 * 1024, 0),
                       headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status == 413
    people = (await (await api.call("GET", "/api/people?role=student", "registrar")).json())["people"]
    assert not any(p["username"].startswith("t0") for p in people)

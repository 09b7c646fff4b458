"""recording.ready on the bus -> a compose job (in-process) -> an archived lecture you can find; jobs over HTTP."""

from __future__ import annotations

import asyncio
import shutil
from typing import Any

import pytest

from tests.helpers.composition import three_party
from tests.orchestrator.jobs.conftest import recording_dir, wait_job

pytestmark = pytest.mark.slow


async def test_a_finished_recording_becomes_an_archived_lecture(jobs_server) -> None:  # type: ignore[no-untyped-def]
    srv = jobs_server
    svc = srv.services()
    sid = srv.world.sessions["consultation"]
    folder = three_party(recording_dir(srv.settings, sid))
    seen: list[tuple[str, dict[str, Any]]] = []

    async def collect(event: Any) -> None:
        seen.append((event.topic, event.payload))

    svc.bus.subscribe("asset.*", collect)
    ready = {"session_id": str(sid), "recording_id": "r1", "folder": str(folder), "status": "complete"}
    await svc.bus.publish("recording.ready", ready)
    await svc.bus.publish("recording.ready", ready)  # delivered twice: still one job

    r = await srv.call("GET", f"/api/jobs?session={sid}", "t1")
    assert r.status == 200
    items = (await r.json())["items"]
    assert len(items) == 1 and items[0]["kind"] == "compose"
    job = await wait_job(svc.jobs.get, items[0]["id"])
    assert job["status"] == "done", job
    assert job["progress"] == 1.0 and job["attempts"] == 1
    result = job["result"]
    assert result["archived_now"] and result["missing"] == []

    topics = [t for t, _ in seen]
    assert topics == ["asset.composed", "asset.archived"]
    assert seen[0][1]["folder"] == result["folder"] and seen[1][1]["asset_id"] == result["asset_id"]

    # The tutor finds it in the archive, with the chat the composer wrote and its chapters.
    r = await srv.call("GET", "/api/archive?q=normal", "t1")
    assert [a["id"] for a in (await r.json())["items"]] == [result["asset_id"]]
    r = await srv.call("GET", f"/api/archive/{result['asset_id']}", "t1")
    record = await r.json()
    assert r.status == 200 and record["duration"] == pytest.approx(8.0, abs=0.2)
    assert [c["title"] for c in record["chapters"]] == ["Ana", "Ben"]
    # Another group's student does not.
    r = await srv.call("GET", f"/api/archive/{result['asset_id']}", "s2")
    assert r.status == 403


async def test_who_may_see_a_job(jobs_server) -> None:  # type: ignore[no-untyped-def]
    srv = jobs_server
    svc = srv.services()
    sid = srv.world.sessions["consultation"]  # t1's session
    job = await svc.jobs.submit("verify", {}, key="verify:test", session_id=sid)
    path = f"/api/jobs/{job['id']}"
    for who, status in (
        ("t1", 200),
        ("adm", 200),
        ("reg", 200),
        ("t2", 403),
        ("s1", 403),
        ("pro", 403),
        (None, 401),
    ):
        r = await srv.call("GET", path, who)
        assert r.status == status, (who, await r.text())
    r = await srv.call("GET", path, "t2")
    assert (await r.json())["error"]["code"] == "not_yours"
    r = await srv.call("GET", "/api/jobs/" + "0" * 32, "adm")
    assert r.status == 404
    r = await srv.call("GET", "/api/jobs", "s1")
    assert (await r.json())["items"] == []
    r = await srv.call("GET", "/api/jobs?status=bogus", "adm")
    assert r.status == 422
    done = await wait_job(svc.jobs.get, job["id"])
    assert done["status"] == "done" and done["result"]["ok"] is True


async def test_a_recording_folder_that_vanished_fails_the_job_plainly(jobs_server) -> None:  # type: ignore[no-untyped-def]
    srv = jobs_server
    svc = srv.services()
    sid = srv.world.sessions["consultation-g2"]
    folder = three_party(recording_dir(srv.settings, sid))
    shutil.rmtree(folder)
    job = await svc.jobs.submit("compose", {"folder": str(folder), "session_id": str(sid), "recording_id": "r1"},
                                key=f"compose:{sid}:r1", session_id=sid)  # fmt: skip
    job = await wait_job(svc.jobs.get, job["id"])
    assert job["status"] == "failed"
    assert job["error"] == f"recording folder {folder} does not exist (moved or deleted before composition)"
    assert not (srv.settings.effective_media_root / "compositions").exists() or not any(
        p
        for p in (srv.settings.effective_media_root / "compositions").iterdir()
        if not p.name.startswith(".")
    )


async def test_a_session_unknown_here_fails_without_an_archive_item(jobs_server) -> None:  # type: ignore[no-untyped-def]
    srv = jobs_server
    svc = srv.services()
    folder = three_party(recording_dir(srv.settings, 999))
    job = await svc.jobs.submit("compose", {"folder": str(folder), "session_id": "999", "recording_id": "r1"},
                                key="compose:999:r1", session_id=999)  # fmt: skip
    job = await wait_job(svc.jobs.get, job["id"])
    assert job["status"] == "failed" and job["error"] == "session 999 does not exist"
    await asyncio.sleep(0)

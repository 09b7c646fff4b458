"""The hls and package job kinds call the existing code (media.transcode.hls, media.broadcast.package) on an archived lecture."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from media.transcode.probe import probe
from tests.orchestrator.jobs.conftest import wait_job

pytestmark = pytest.mark.slow


def _lecture(path: Path) -> Path:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000", "-t", "4",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25", "-c:a", "aac",
                    "-movflags", "+faststart", str(path)], check=True)  # fmt: skip
    return path


async def test_hls_and_package_jobs(jobs_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    srv = jobs_server
    svc = srv.services()
    asset = srv.archive.import_video(_lecture(tmp_path / "l.mp4"), title="Lecture for the channel").asset_id
    seen: list[dict[str, Any]] = []

    async def collect(event: Any) -> None:
        seen.append(event.payload)

    svc.bus.subscribe("asset.packaged", collect)
    hls = await wait_job(
        svc.jobs.get, (await svc.jobs.submit("hls", {"asset_id": asset}, key=f"hls:{asset}"))["id"]
    )
    assert hls["status"] == "done", hls
    folder = Path(hls["result"]["directory"])
    assert (folder / "index.m3u8").is_file() and any(n.endswith(".m4s") for n in hls["result"]["files"])

    job = await svc.jobs.submit("package", {"asset_id": asset, "profile": "hd-720p25"}, key=f"package:{asset}:hd-720p25",
                                created_by=srv.world.people["eng"])  # fmt: skip
    job = await wait_job(svc.jobs.get, job["id"], within=400)
    assert job["status"] == "done", job
    ts = Path(job["result"]["path"])
    info = probe(ts)
    assert info.format == "mpegts" and info.video is not None and info.size == (1280, 720)
    # announced once; the stream is a file of the asset, named by its SHA-256 in the archive's storage
    assert [(e["asset_id"], e["profile"], e["job_id"], e["sha256"]) for e in seen] == [
        (asset, "hd-720p25", job["id"], ts.name)]
    r = await srv.call("GET", f"/api/jobs/{job['id']}", "eng")  # the engineer who asked sees it
    assert r.status == 200


async def test_bad_arguments_fail_plainly(jobs_server) -> None:  # type: ignore[no-untyped-def]
    svc = jobs_server.services()
    cases = [
        ("hls", {"asset_id": 999}, "archive item 999 does not exist or was deleted"),
        ("package", {"asset_id": 999, "profile": "hd-720p25"}, "archive item 999 does not exist or was deleted"),
        ("compose", {"folder": "/nonexistent", "session_id": "x"},
         "recording folder /nonexistent does not exist (moved or deleted before composition)"),
    ]  # fmt: skip
    for n, (kind, args, message) in enumerate(cases):
        job = await wait_job(svc.jobs.get, (await svc.jobs.submit(kind, args, key=f"bad:{n}"))["id"])
        assert (job["status"], job["error"]) == ("failed", message)
    with pytest.raises(Exception, match="unknown job kind 'rm'"):
        await svc.jobs.submit("rm", {}, key="bad:rm")
    # /metrics counts each run by kind and outcome (the in-process runner: runner="service"), read by an independent parser
    from prometheus_client.parser import text_string_to_metric_families

    r = await jobs_server.call("GET", "/metrics", "adm")
    assert r.status == 200, await r.text()
    runs = {(s.labels["kind"], s.labels["outcome"], s.labels["runner"]): s.value
            for f in text_string_to_metric_families(await r.text()) if f.name == "aulacast_job_runs"
            for s in f.samples if s.name == "aulacast_job_runs_total"}  # fmt: skip
    for kind in ("hls", "package", "compose"):
        assert runs.get((kind, "failed", "service"), 0) >= 1, runs

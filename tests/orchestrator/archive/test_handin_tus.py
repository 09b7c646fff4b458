"""§31 hand-ins over tus 1.0 with the standard ``tuspy`` client: upload, interrupt, resume, refuse, archive.

tuspy is synchronous (requests), so each client call runs on a worker thread while the real
server runs on this test's event loop.
"""

from __future__ import annotations

import asyncio
import base64
import socket
from pathlib import Path
from urllib.parse import urlsplit

import av
import pytest
from sqlalchemy import func, select
from tusclient import client as tus
from tusclient.exceptions import TusCommunicationError

from media.transcode.intake import REFUSALS
from media.transcode.probe import NOT_MEDIA
from orchestrator.archive.models import Asset, Upload
from orchestrator.archive.presentations import HANDIN_REFUSALS
from orchestrator.archive.service import expire_uploads, upload_path
from orchestrator.store.types import utcnow
from tests.helpers.archive import Media

pytestmark = pytest.mark.slow

TUS = {"Tus-Resumable": "1.0.0"}


async def _client(server, who: str) -> tus.TusClient:  # type: ignore[no-untyped-def]
    return tus.TusClient(f"{server.base}/api/uploads", headers=await server.headers(who))


def _meta(server, kind: str, filename: str, session: str = "defense-s1") -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"session": str(server.world.sessions[session]), "kind": kind, "filename": filename}


async def _upload(server, who: str, path: Path, kind: str, name: str, chunk: int = 64 * 1024) -> str:  # type: ignore[no-untyped-def]
    tusc = await _client(server, who)
    uploader = await asyncio.to_thread(tusc.uploader, str(path), chunk_size=chunk, metadata=_meta(server, kind, name))
    await asyncio.to_thread(uploader.upload)
    return uploader.url.rsplit("/", 1)[1]


async def _settled(server, upload_id: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    await server.services().handins.idle()
    r = await server.call("GET", f"/api/uploads/{upload_id}", "s1")
    assert r.status == 200
    return await r.json()


async def _refusal(server, who: str, path: Path, kind: str, name: str) -> TusCommunicationError:  # type: ignore[no-untyped-def]
    with pytest.raises(TusCommunicationError) as err:
        await _upload(server, who, path, kind, name)
    return err.value


async def test_a_presentation_is_uploaded_normalised_archived_and_seen_by_the_committee(archive_server, media: Media) -> None:
    events: list[dict] = []

    async def seen(event) -> None:  # type: ignore[no-untyped-def]
        events.append(event.payload)

    archive_server.services().bus.subscribe("asset.archived", seen)
    upload_id = await _upload(archive_server, "s1", media.webm, "presentation", "my talk.webm")
    status = await _settled(archive_server, upload_id)
    assert status["status"] == "archived", status
    aid = status["asset_id"]
    await asyncio.sleep(0.1)
    assert [(e["asset_id"], e["kind"]) for e in events] == [(aid, "presentation")]
    with archive_server.archive.db.session() as s:
        a = s.get(Asset, aid)
        master = archive_server.archive.storage.path(a.sha256)
        assert (a.kind, a.owner_id, a.dc_type) == ("presentation", archive_server.world.people["s1"], "MovingImage")
        assert a.file("hls/index.m3u8") is not None
    with av.open(str(master)) as c:  # normalised to the archive's format: MP4, H.264 + AAC, at most 720 lines
        assert c.streams.video[0].codec_context.name == "h264" and c.streams.audio[0].codec_context.name == "aac"
    assert not upload_path(archive_server.settings, upload_id).exists()
    session = archive_server.world.sessions["defense-s1"]
    for who, sees in (("c1", True), ("t1", True), ("s1", True), ("reg", True), ("s4", False), ("s2", False), ("c2", False)):
        r = await archive_server.call("GET", f"/api/archive/presentations?session={session}", who)
        assert r.status == 200
        assert [i["id"] for i in (await r.json())["items"]] == ([aid] if sees else []), who
    r = await archive_server.call("GET", "/api/archive/presentations?student=s1", "c1")
    assert [i["id"] for i in (await r.json())["items"]] == [aid]
    assert (await archive_server.call("GET", f"/api/archive/{aid}/playback", "c1")).status == 200
    assert (await archive_server.call("GET", f"/api/archive/{aid}/playback", "s4")).status == 403


async def test_the_written_work_is_a_checked_pdf_kept_byte_for_byte(archive_server, media: Media) -> None:
    upload_id = await _upload(archive_server, "s1", media.pdf, "written_work", "course-work.pdf")
    status = await _settled(archive_server, upload_id)
    assert status["status"] == "archived"
    from orchestrator.archive.storage import sha256_of

    with archive_server.archive.db.session() as s:
        a = s.get(Asset, status["asset_id"])
        assert (a.kind, a.media_type, a.dc_type, a.sha256) == ("written_work", "application/pdf", "Text", sha256_of(media.pdf))


CODED = {*HANDIN_REFUSALS, *REFUSALS, *NOT_MEDIA}


@pytest.mark.parametrize(("which", "kind", "words"), [
    ("text", "presentation", "not a media file"),
    ("truncated_mp4", "presentation", "truncated"),
    ("truncated_plain_mp4", "presentation", "cut short"),
    ("lecture", "written_work", "not a PDF"),
])  # fmt: skip
async def test_bad_files_are_refused_with_a_reason(archive_server, media: Media, which: str, kind: str, words: str) -> None:
    path = getattr(media, which)
    err = await _refusal(archive_server, "s1", path, kind, path.name)
    assert err.status_code == 422
    message = err.response_content.decode()
    assert words in message and path.name in message and "/var/" not in message  # no server paths shown
    with archive_server.archive.db.session() as s:
        up = s.scalar(select(Upload))
        assert up.status == "refused" and words in up.message
        assert s.scalar(select(func.count()).select_from(Asset)) == 0
    assert not upload_path(archive_server.settings, up.id).exists()
    assert (await archive_server.call("HEAD", f"/api/uploads/{up.id}", "s1", headers=TUS)).status == 410
    # the refusal again by its code, naming the student's file (the hand-in page words archive.msg.<code>)
    got = await (await archive_server.call("GET", f"/api/uploads/{up.id}", "s1")).json()
    assert got["message"] == up.message and got["message_code"] in CODED, got
    assert got["message_params"]["file"] == path.name, got


async def test_a_truncated_pdf_is_refused(archive_server, media: Media, tmp_path: Path) -> None:
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(media.pdf.read_bytes()[:-200])
    err = await _refusal(archive_server, "s1", cut, "written_work", "cut.pdf")
    assert err.status_code == 422 and b"cut short" in err.response_content


async def test_over_the_limit_is_refused_before_a_byte_is_sent(archive_server, tmp_path: Path) -> None:
    big = tmp_path / "big.webm"
    big.write_bytes(b"\0" * (4 * 1024 * 1024 + 1))
    err = await _refusal(archive_server, "s1", big, "presentation", "big.webm")
    assert err.status_code == 413 and b"at most 4.0 MiB" in err.response_content
    r = await archive_server.call("OPTIONS", "/api/uploads")
    assert r.status == 204 and r.headers["Tus-Max-Size"] == str(4 * 1024 * 1024)
    assert r.headers["Tus-Version"] == "1.0.0" and "creation" in r.headers["Tus-Extension"]


async def _create(server, who: str, length: int, kind: str = "presentation", session: str = "defense-s1") -> str:  # type: ignore[no-untyped-def]
    meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in _meta(server, kind, "x.webm", session).items())
    r = await server.call("POST", "/api/uploads", who, headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": meta})
    assert r.status == 201, await r.text()
    return r.headers["Location"].rsplit("/", 1)[1]


async def _offset(server, upload_id: str) -> int:  # type: ignore[no-untyped-def]
    r = await server.call("HEAD", f"/api/uploads/{upload_id}", "s1", headers=TUS)
    assert r.status == 200 and r.headers["Cache-Control"] == "no-store" and "Upload-Expires" in r.headers
    return int(r.headers["Upload-Offset"])


async def test_an_interrupted_upload_resumes_where_it_stopped(archive_server, media: Media) -> None:
    data = media.webm.read_bytes()
    upload_id = await _create(archive_server, "s1", len(data))
    # A raw PATCH that promises the whole file, sends a third and drops the connection.
    sent = len(data) // 3
    host, port = urlsplit(archive_server.base).hostname, urlsplit(archive_server.base).port
    token = await archive_server.token("s1")

    partial = upload_path(archive_server.settings, upload_id)
    sock = socket.create_connection((host, port))
    head = (f"PATCH /api/uploads/{upload_id} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Content-Length: {len(data)}\r\n\r\n")  # fmt: skip
    await asyncio.to_thread(sock.sendall, head.encode() + data[:sent])
    for _ in range(400):  # the server has read and written what was sent; then the line goes dead
        if partial.stat().st_size == sent:
            break
        await asyncio.sleep(0.05)
    sock.close()
    for _ in range(200):  # the server notices the drop and records what arrived
        if await _offset(archive_server, upload_id) == sent:
            break
        await asyncio.sleep(0.05)
    assert await _offset(archive_server, upload_id) == sent
    assert upload_path(archive_server.settings, upload_id).read_bytes() == data[:sent]  # nothing lost, nothing extra
    # tuspy picks the upload up by its URL (it asks HEAD for the offset) and sends it in two more steps.
    url = f"{archive_server.base}/api/uploads/{upload_id}"
    tusc = await _client(archive_server, "s1")
    # (the uploader asks HEAD in its constructor: off the event loop, which serves the answer)
    resumed = await asyncio.to_thread(tusc.uploader, str(media.webm), url=url, chunk_size=64 * 1024)
    assert resumed.offset == sent
    await asyncio.to_thread(resumed.upload, 2 * len(data) // 3)  # stopped by the client this time
    assert await _offset(archive_server, upload_id) == 2 * len(data) // 3
    again = await asyncio.to_thread(tusc.uploader, str(media.webm), url=url, chunk_size=64 * 1024)
    await asyncio.to_thread(again.upload)
    status = await _settled(archive_server, upload_id)
    assert status["status"] == "archived" and status["received"] == len(data)


async def test_protocol_errors(archive_server, media: Media) -> None:
    upload_id = await _create(archive_server, "s1", 1000)
    path = f"/api/uploads/{upload_id}"
    body = b"x" * 10
    octet = {**TUS, "Content-Type": "application/offset+octet-stream"}
    r = await archive_server.call("PATCH", path, "s1", data=body, headers={**octet, "Upload-Offset": "5"})
    assert r.status == 409 and "does not match" in (await r.json())["error"]["message"]
    r = await archive_server.call("PATCH", path, "s1", data=body, headers={**TUS, "Upload-Offset": "0", "Content-Type": "text/plain"})
    assert r.status == 415
    r = await archive_server.call("PATCH", path, "s1", data=body, headers={"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert r.status == 412 and r.headers["Tus-Version"] == "1.0.0"
    r = await archive_server.call("PATCH", path, "s1", data=b"y" * 1001, headers={**octet, "Upload-Offset": "0"})
    assert r.status == 413 and await _offset(archive_server, upload_id) == 0  # nothing of a refused body is kept
    for other in ("s4", "c1"):  # another person's upload does not exist for them
        assert (await archive_server.call("HEAD", path, other, headers=TUS)).status == 404
        assert (await archive_server.call("PATCH", path, other, data=body, headers={**octet, "Upload-Offset": "0"})).status == 404
    r = await archive_server.call("PATCH", path, "s1", data=body, headers={**octet, "Upload-Offset": "0"})
    assert r.status == 204 and r.headers["Upload-Offset"] == "10" and r.headers["Tus-Resumable"] == "1.0.0"
    assert (await archive_server.call("HEAD", path, None, headers=TUS)).status == 401


async def test_only_the_presenter_may_hand_in(archive_server) -> None:
    meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}"
                    for k, v in _meta(archive_server, "presentation", "t.webm").items())  # fmt: skip
    for who in ("s4", "s2", "c1"):
        r = await archive_server.call("POST", "/api/uploads", who, headers={**TUS, "Upload-Length": "10", "Upload-Metadata": meta})
        assert r.status == 403, who
    r = await archive_server.call("POST", "/api/uploads", "s1", headers={**TUS, "Upload-Length": "10", "Upload-Metadata": "kind !!!"})
    assert r.status == 400


async def test_termination_and_expiry(archive_server) -> None:
    gone = await _create(archive_server, "s1", 100)
    r = await archive_server.call("DELETE", f"/api/uploads/{gone}", "s1", headers=TUS)
    assert r.status == 204 and not upload_path(archive_server.settings, gone).exists()
    assert (await archive_server.call("HEAD", f"/api/uploads/{gone}", "s1", headers=TUS)).status == 410
    stale = await _create(archive_server, "s1", 100)
    with archive_server.archive.db.session() as s:
        s.get(Upload, stale).expires_at = utcnow().replace(year=2020)
    assert (await archive_server.call("HEAD", f"/api/uploads/{stale}", "s1", headers=TUS)).status == 410
    assert await asyncio.to_thread(expire_uploads, archive_server.archive) == [stale]
    assert not upload_path(archive_server.settings, stale).exists()
    with archive_server.archive.db.session() as s:
        assert s.get(Upload, stale).status == "expired"

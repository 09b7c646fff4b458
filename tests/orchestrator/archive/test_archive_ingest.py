"""Ingest, import, verify, retention and legal hold, on real files with the real ffmpeg and PyAV."""

from __future__ import annotations

import os
from datetime import UTC, date, timedelta
from pathlib import Path

import av
import pytest
from sqlalchemy import func, select

from orchestrator.archive import search
from orchestrator.archive.catalogue import Archive
from orchestrator.archive.models import Asset, AssetFile
from orchestrator.archive.retention import apply_retention, sweep_orphans
from orchestrator.archive.storage import sha256_of
from orchestrator.archive.verify import verify
from orchestrator.audit import verify_chain
from orchestrator.errors import Conflict, UserError
from orchestrator.store.db import Database
from orchestrator.store.models import AuditEntry, ChatMessage
from tests.helpers.archive import Media, World
from tests.helpers.support import make_settings

pytestmark = pytest.mark.slow


@pytest.fixture
def archive(sqlite_world: tuple[Database, World], tmp_path: Path) -> Archive:
    db, _ = sqlite_world
    return Archive(make_settings(tmp_path), db)


def _asset(archive: Archive, asset_id: int) -> Asset:
    with archive.db.session() as s:
        return s.get(Asset, asset_id)


def test_a_composed_lecture_is_filed_described_and_cut_for_hls(archive: Archive, sqlite_world, media: Media) -> None:
    _, w = sqlite_world
    result = archive.ingest_recording(w.sessions["consultation"], media.lecture, chat_vtt=media.chat_vtt)
    assert result.created and result.kind == "consultation"
    a = _asset(archive, result.asset_id)
    # Dublin Core from the session: 09:00 UTC is 14:00 in Almaty, the same day.
    assert (a.title, a.creator, a.dc_date, a.subject) == ("Databases: normal forms", "T1", date(2026, 11, 16), "Databases (D1)")
    assert (a.language, a.dc_type) == ("ru", "MovingImage") and a.rights
    assert a.retain_until == date(2026, 11, 16) + timedelta(days=365)
    # Content-addressed: the master is the composer's file byte for byte (H.264/AAC MP4 needs no work).
    assert a.sha256 == sha256_of(media.lecture) == result.sha256
    names = {f.name for f in a.files}
    assert {"master.mp4", "poster.jpg", "chat.vtt", "hls/index.m3u8", "hls/init.mp4", "hls/seg_00000.m4s"} <= names
    for f in a.files:
        assert sha256_of(archive.storage.path(f.sha256)) == f.sha256
    with av.open(str(archive.storage.path(a.file("poster.jpg").sha256))) as poster:
        assert next(poster.decode(video=0)).height == 180
    # Chapters came from the MP4's chapter marks, the chat from the composer's WebVTT.
    assert a.chapters == [{"start": 0.0, "title": "Intro"}, {"start": 4.0, "title": "Normal forms"}]
    assert [(c["start"], c["speaker"], c["text"]) for c in a.chat] == [
        (1.5, "S1", "first question"), (5.0, "T1", "about the second normal form")]
    with archive.db.session() as s:
        assert search.matching_ids(s, "second normal") == [a.id]  # the chat transcript is searchable
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "archive.ingest"))
        assert entry.target == f"asset:{a.id}" and entry.detail["sha256"] == a.sha256


def test_ingest_is_idempotent_per_session(archive: Archive, sqlite_world, media: Media) -> None:
    _, w = sqlite_world
    first = archive.ingest_recording(w.sessions["consultation"], media.lecture)
    again = archive.ingest_recording(w.sessions["consultation"], media.lecture)
    assert (again.asset_id, again.created) == (first.asset_id, False)
    with archive.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Asset)) == 1


def test_chat_comes_from_the_store_when_the_composer_gave_none(archive: Archive, sqlite_world, media: Media) -> None:
    db, w = sqlite_world
    sid = w.sessions["consultation-g2"]
    with db.session() as s:
        from tests.helpers.archive import START

        s.add(ChatMessage(session_id=sid, sender_id=w.people["s2"], sender_name="S2", body="is elasticity on the exam?",
                          sent_at=START + timedelta(seconds=3)))  # fmt: skip
        s.add(ChatMessage(session_id=sid, sender_id=w.people["s2"], sender_name="S2", body="deleted one",
                          sent_at=START + timedelta(seconds=4), deleted_at=START + timedelta(seconds=5)))  # fmt: skip
    result = archive.ingest_recording(sid, media.lecture, chapters=[])
    a = _asset(archive, result.asset_id)
    assert [(c["start"], c["text"]) for c in a.chat] == [(3.0, "is elasticity on the exam?")]
    assert a.chapters == []  # given as none: the MP4's marks are not used
    assert a.file("chat.vtt") is not None


def test_import_normalises_other_codecs_to_h264_aac(archive: Archive, media: Media) -> None:
    result = archive.import_video(media.webm, title="A talk recorded in a browser", discipline_code="D1")
    a = _asset(archive, result.asset_id)
    assert a.kind == "lecture" and a.discipline_id is not None
    with av.open(str(archive.storage.path(a.sha256))) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert c.streams.audio[0].codec_context.name == "aac"
    assert a.duration == pytest.approx(4.0, abs=0.2)
    assert archive.import_video(media.webm, title="again").asset_id == result.asset_id  # same bytes, same item


@pytest.mark.parametrize(("which", "words"), [
    ("text", "not a media file"),
    ("truncated_mp4", "truncated"),
    ("truncated_plain_mp4", "cut short"),
])  # fmt: skip
def test_import_refuses_what_is_not_whole_media(archive: Archive, media: Media, which: str, words: str) -> None:
    with pytest.raises(UserError) as err:
        archive.import_video(getattr(media, which), title="bad")
    assert words in str(err.value)
    with archive.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Asset)) == 0
    assert list(archive.storage.digests()) == []  # nothing half-filed


def test_verify_names_missing_and_corrupt_files(archive: Archive, sqlite_world, media: Media) -> None:
    _, w = sqlite_world
    a = _asset(archive, archive.ingest_recording(w.sessions["consultation"], media.lecture).asset_id)
    report = verify(archive)
    assert report.ok and report.checked == len(a.files) and not report.orphans
    poster, segment = a.file("poster.jpg"), a.file("hls/seg_00000.m4s")
    archive.storage.path(poster.sha256).unlink()
    seg_path = archive.storage.path(segment.sha256)
    os.chmod(seg_path, 0o644)
    data = bytearray(seg_path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped bit of rot
    seg_path.write_bytes(bytes(data))
    report = verify(archive)
    assert not report.ok
    assert [(p.name, p.found) for p in report.missing] == [("poster.jpg", None)]
    assert [p.name for p in report.corrupt] == ["hls/seg_00000.m4s"]
    assert "corrupt" in report.corrupt[0].line() and str(seg_path) in report.corrupt[0].line()


def test_retention_deletes_what_is_due_and_never_what_is_held(archive: Archive, sqlite_world, media: Media) -> None:
    db, w = sqlite_world
    consultation = archive.ingest_recording(w.sessions["consultation"], media.lecture).asset_id
    defense = archive.ingest_recording(w.sessions["defense-s1"], media.lecture).asset_id  # same bytes, other item
    with db.session() as s:
        held = s.get(Asset, defense)
        archive.set_hold(s, held, hold=True, reason="appeal 2026-17", actor_id=w.people["reg"])
    long_after = date(2026, 11, 16) + timedelta(days=5000)
    assert apply_retention(archive, today=long_after, dry_run=True).due == [consultation]
    report = apply_retention(archive, today=long_after)
    assert report.deleted == [consultation] and report.held == [defense]
    gone, kept = _asset(archive, consultation), _asset(archive, defense)
    assert gone.status == "deleted" and gone.files == [] and gone.deleted_at is not None
    assert kept.status == "active"
    # The same video made the same blobs for both items: the held one still names them, so they stay.
    assert archive.storage.exists(kept.sha256) and verify(archive).ok
    with db.session() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "archive.delete"))
        assert entry.target == f"asset:{consultation}" and "retention" in entry.detail["reason"]
        assert entry.detail["sha256"] == gone.sha256 and "master.mp4" in entry.detail["files"]
        assert verify_chain(s) is None
        assert search.matching_ids(s, "normal forms") == []  # a deleted item's text is not findable
        assert search.matching_ids(s, "course work") == [defense]
    with pytest.raises(Conflict, match="legal hold"):
        archive.delete_asset(defense, actor_id=w.people["adm"], reason="tidy up")
    with db.session() as s:
        archive.set_hold(s, s.get(Asset, defense), hold=False, reason="appeal decided", actor_id=w.people["reg"])
    archive.delete_asset(defense, actor_id=w.people["adm"], reason="appeal decided")
    assert list(archive.storage.digests()) == []
    # A deleted item frees its source: the session composed anew is archived as a new item.
    again = archive.ingest_recording(w.sessions["defense-s1"], media.lecture)
    assert again.created and again.asset_id not in (consultation, defense)


def test_orphan_blobs_left_by_a_crash_are_swept(archive: Archive) -> None:
    blob = archive.storage.put_bytes(b"filed, then the process died before the catalogue commit")
    assert verify(archive).orphans == [blob.sha256]
    assert sweep_orphans(archive) == 0  # young: an ingest may still be about to commit it
    old = archive.storage.path(blob.sha256)
    os.utime(old, (old.stat().st_atime - 2 * 86400, old.stat().st_mtime - 2 * 86400))
    assert sweep_orphans(archive) == 1 and not archive.storage.exists(blob.sha256)


def test_ingest_on_postgres(pg_schema_url: str, tmp_path: Path, media: Media) -> None:
    """The whole ingest once on PostgreSQL: the tsvector index finds the chat."""
    from tests.helpers.archive import build_world

    db = Database.from_url(pg_schema_url)
    db.upgrade()
    w = build_world(db)
    archive = Archive(make_settings(tmp_path), db)
    result = archive.ingest_recording(w.sessions["consultation"], media.lecture, chat_vtt=media.chat_vtt)
    again = archive.ingest_recording(w.sessions["consultation"], media.lecture, chat_vtt=media.chat_vtt)
    assert again.asset_id == result.asset_id and not again.created
    with db.session() as s:
        assert search.matching_ids(s, "second normal") == [result.asset_id]
        assert s.get(Asset, result.asset_id).dc_date == date(2026, 11, 16)
        assert s.scalar(select(func.count()).select_from(AssetFile)) >= 5
    db.engine.dispose()


def test_time_zone_decides_the_dc_date(archive: Archive, sqlite_world, media: Media) -> None:
    """A session at 20:00 UTC is the next day in Almaty: dc:date is the institution's day."""
    db, w = sqlite_world
    from orchestrator.store.models import SessionRecord

    with db.session() as s:
        row = s.get(SessionRecord, w.sessions["consultation"])
        row.start_at = row.start_at.replace(hour=20, tzinfo=UTC)
    a = _asset(archive, archive.ingest_recording(w.sessions["consultation"], media.lecture).asset_id)
    assert a.dc_date == date(2026, 11, 17)


def test_a_composer_output_folder_is_archived_as_it_is(archive: Archive, sqlite_world, media: Media, tmp_path: Path) -> None:
    """media.composition writes lecture.mp4, chat.vtt, poster.jpg and chapters.json into one folder."""
    import json
    import shutil

    _, w = sqlite_world
    folder = tmp_path / "composition"
    folder.mkdir()
    shutil.copy(media.lecture, folder / "lecture.mp4")
    (folder / "chat.vtt").write_text("WEBVTT\n\nchat-1\n00:00:02.000 --> 00:00:08.000\n<v Bob &amp; Co>a &lt;b&gt; c\n")
    (folder / "chapters.json").write_text(json.dumps([{"start": 0, "end": 3, "title": "Lecture"},
                                                      {"start": 3, "end": 8, "title": "Aigerim"}]))  # fmt: skip
    result = archive.ingest_composition(w.sessions["consultation"], folder)
    a = _asset(archive, result.asset_id)
    assert a.chapters == [{"start": 0.0, "title": "Lecture"}, {"start": 3.0, "title": "Aigerim"}]  # not the MP4's
    assert [(c["start"], c["speaker"], c["text"]) for c in a.chat] == [(2.0, "Bob & Co", "a <b> c")]
    assert archive.ingest_composition(w.sessions["consultation"], folder).asset_id == a.id
    with pytest.raises(UserError, match="no lecture.mp4"):
        archive.ingest_composition(w.sessions["consultation"], tmp_path)

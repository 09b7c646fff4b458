"""The archive of one node: media in (content-addressed, described in Dublin Core), records edited, media out.

    archive = Archive.from_settings(settings, db)
    result = archive.ingest_recording(7, Path("lecture.mp4"), chat_vtt=Path("chat.vtt"),
                                      poster=Path("poster.jpg"), chapters=[Chapter(0, "Intro")])
    result.asset_id, result.created          # the same session and kind again -> the same asset
    archive.import_video(Path("old-lecture.mp4"), title="Linear algebra, lecture 1")

Every call is synchronous and does its own transactions: a job worker calls it as it
is, the HTTP layer through a worker thread. Bytes are filed before the catalogue row
that names them is committed, and removed only after the row that named them is gone,
so the catalogue never points at missing bytes; a crash between leaves only unnamed
blobs, which ``verify`` reports and ``sweep_orphans`` removes.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from media.errors import MediaError
from media.transcode.ffmpeg import FFmpeg
from media.transcode.hls import cut_hls
from media.transcode.intake import IntakeLimits, inspect, is_archive_format, normalise, read_chapters
from media.transcode.probe import MediaInfo
from orchestrator import audit
from orchestrator.archive import search
from orchestrator.archive.models import DC_TYPES, Asset, AssetFile
from orchestrator.archive.storage import LocalStorage, make_storage, sha256_of
from orchestrator.config import ARCHIVE_KINDS, Settings
from orchestrator.errors import Conflict, NotFound, UserError
from orchestrator.store.db import Database
from orchestrator.store.models import ChatMessage, Discipline, Offering, Person, SessionRecord
from orchestrator.store.types import utcnow
from signaling.chat import ChatRecord, parse_webvtt, timeline, to_webvtt

log = logging.getLogger("aulacast.archive")

MASTER_VIDEO = "master.mp4"
MASTER_PDF = "work.pdf"
POSTER = "poster.jpg"
CHAT = "chat.vtt"
HLS_PREFIX = "hls/"
MEDIA_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".mp4": "video/mp4", ".m4s": "video/mp4",
               ".jpg": "image/jpeg", ".vtt": "text/vtt", ".pdf": "application/pdf"}  # fmt: skip

# What an archived lecture may be: generous, since these come from our own composer or an operator.
ARCHIVE_LIMITS = IntakeLimits(max_seconds=12 * 3600, max_height=2160)

EDITABLE = ("title", "creator", "date", "subject", "description", "language", "rights", "visibility", "chapters")


@dataclass(frozen=True)
class Chapter:
    start: float  # seconds from the start of the video
    title: str


@dataclass(frozen=True)
class IngestResult:
    asset_id: int
    sha256: str
    created: bool  # False: this source was archived before and that asset is returned
    kind: str


class Archive:
    """Catalogue (SQL) + blobs (``Storage``) + ffmpeg, as configured for this node."""

    def __init__(self, settings: Settings, db: Database, *, storage: LocalStorage | None = None,
                 ffmpeg: FFmpeg | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.db = db
        self.storage = storage or make_storage(settings)
        self._ffmpeg = ffmpeg

    @classmethod
    def from_settings(cls, settings: Settings, db: Database | None = None) -> Archive:
        return cls(settings, db or Database.from_url(settings.effective_database_url))

    @property
    def ffmpeg(self) -> FFmpeg:
        if self._ffmpeg is None:
            self._ffmpeg = FFmpeg.locate(self.settings.ffmpeg_path)
        return self._ffmpeg

    # ---------------------------------------------------------------- in

    def ingest_recording(
        self,
        session_id: int,
        video: Path,
        *,
        chat_vtt: Path | None = None,
        poster: Path | None = None,
        chapters: Sequence[Chapter] | None = None,
        recording_started_at: datetime | None = None,
        kind: str | None = None,
        description: str = "",
        actor_id: int | None = None,
    ) -> IngestResult:
        """Archive a session's composed video (MP4 H.264/AAC; anything else is normalised first).

        The Dublin Core record is filled from the session (title, tutor as creator, date,
        discipline as subject). Chat: ``chat_vtt`` (the composer's WebVTT) or else the
        session's stored chat timed from ``recording_started_at`` (default: the session start).
        Chapters: given, or else those in the MP4. ``kind`` defaults from the session
        (consultation/control/defense; ``lecture`` for a TV offering). Idempotent per session
        and kind: a retried job gets the asset the first run made.
        """
        with self.db.session() as s:
            row = s.get(SessionRecord, session_id)
            if row is None:
                raise NotFound(f"session {session_id} does not exist")
            offering = s.get(Offering, row.offering_id) if row.offering_id else None
            kind = kind or _kind_of(row, offering)
            source_key = f"session:{session_id}:{kind}"
            existing = _by_source(s, source_key)
            if existing is not None:
                return IngestResult(existing.id, existing.sha256, False, existing.kind)
            discipline = s.get(Discipline, offering.discipline_id) if offering else None
            tutor = s.get(Person, row.tutor_id or (offering.tutor_id if offering else 0) or 0)
            origin = recording_started_at or row.start_at
            records = [
                ChatRecord(m.id, m.session_id, m.sender_id, m.sender_name, m.body, m.sent_at, m.offline, m.deleted_at)
                for m in s.scalars(select(ChatMessage).where(ChatMessage.session_id == session_id))
            ]
            facts: dict[str, Any] = dict(
                kind=kind, source_key=source_key, session_id=row.id,
                offering_id=offering.id if offering else None,
                discipline_id=discipline.id if discipline else None,
                group_id=row.group_id or (offering.group_id if offering else None),
                tutor_id=tutor.id if tutor else None, sitting=row.sitting,
                title=row.title, creator=tutor.display_name if tutor else "",
                dc_date=row.start_at.astimezone(ZoneInfo(self.settings.timezone)).date(),
                subject=_subject(discipline), description=description,
            )  # fmt: skip
        if chat_vtt is not None:
            try:
                cues = parse_webvtt(chat_vtt.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise UserError(f"{chat_vtt.name}: not a readable WebVTT file ({exc})") from None
            chat = [{"start": c.start, "end": c.end, "speaker": _unescape(c.speaker),
                     "text": c.text.removesuffix("</v>")} for c in cues]  # fmt: skip
            chat_bytes = chat_vtt.read_bytes()
        else:
            cues = timeline(records, origin)
            chat = [{"start": c.start, "end": c.end, "speaker": c.speaker, "text": c.text} for c in cues]
            chat_bytes = to_webvtt(records, origin).encode() if cues else None
        return self._ingest_video(video, facts, poster=poster, chapters=chapters, chat=chat,
                                  chat_bytes=chat_bytes, actor_id=actor_id)  # fmt: skip

    def ingest_composition(self, session_id: int, folder: Path, *, actor_id: int | None = None) -> IngestResult:
        """Archive a composer's output folder (media.composition): ``lecture.mp4`` and, when present,
        ``chat.vtt``, ``poster.jpg`` and ``chapters.json`` (``[{"start": s, "title": ...}, ...]``).

        The chat cues and chapters are already on the video's clock, so nothing is re-timed.
        """
        folder = Path(folder)
        video = folder / "lecture.mp4"
        if not video.is_file():
            raise UserError(f"{folder} holds no lecture.mp4: not a finished composition")
        chapters: list[Chapter] | None = None
        if (folder / "chapters.json").is_file():
            try:
                raw = json.loads((folder / "chapters.json").read_text(encoding="utf-8"))
                chapters = [Chapter(float(c["start"]), str(c["title"])) for c in raw]
            except (ValueError, KeyError, TypeError) as exc:
                raise UserError(f"{folder / 'chapters.json'}: not a list of {{start, title}} ({exc})") from None
        chat = folder / "chat.vtt"
        poster = folder / "poster.jpg"
        return self.ingest_recording(session_id, video, chat_vtt=chat if chat.is_file() else None,
                                     poster=poster if poster.is_file() else None, chapters=chapters,
                                     actor_id=actor_id)  # fmt: skip

    def import_video(
        self,
        path: Path,
        *,
        title: str,
        creator: str = "",
        on: date | None = None,
        discipline_code: str | None = None,
        tutor_username: str | None = None,
        description: str = "",
        language: str | None = None,
        rights: str | None = None,
        visibility: str = "restricted",
        actor_id: int | None = None,
    ) -> IngestResult:
        """Add an existing lecture video (checked whole with PyAV, normalised to MP4 H.264/AAC if need be)."""
        if not title.strip():
            raise UserError("an imported video needs a title (--title)")
        if visibility not in ("restricted", "public"):
            raise UserError("visibility must be restricted or public")
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path} does not exist or is not a file")
        with self.db.session() as s:
            discipline = tutor = None
            if discipline_code:
                discipline = s.scalar(select(Discipline).where(Discipline.code == discipline_code))
                if discipline is None:
                    raise UserError(f"unknown discipline {discipline_code!r}")
            if tutor_username:
                tutor = s.scalar(select(Person).where(Person.username == tutor_username))
                if tutor is None:
                    raise UserError(f"unknown person {tutor_username!r}")
            facts: dict[str, Any] = dict(
                kind="lecture", discipline_id=discipline.id if discipline else None,
                tutor_id=tutor.id if tutor else None, title=title.strip(),
                creator=creator or (tutor.display_name if tutor else ""),
                dc_date=on or datetime.now(ZoneInfo(self.settings.timezone)).date(),
                subject=_subject(discipline), description=description, visibility=visibility,
            )  # fmt: skip
            if language:
                facts["language"] = language
            if rights:
                facts["rights"] = rights
        facts["source_key"] = f"import:{sha256_of(path)}"
        with self.db.session() as s:
            existing = _by_source(s, facts["source_key"])
            if existing is not None:
                return IngestResult(existing.id, existing.sha256, False, existing.kind)
        return self._ingest_video(path, facts, poster=None, chapters=None, chat=[], chat_bytes=None,
                                  actor_id=actor_id)  # fmt: skip

    def add_student_work(
        self,
        session_id: int,
        owner_id: int,
        path: Path,
        *,
        kind: str,
        source_key: str,
        filename: str,
        info: MediaInfo | None = None,
        pages: int | None = None,
        actor_id: int | None = None,
    ) -> IngestResult:
        """Archive a checked presentation video (normalised here) or written work (PDF) for a defense (§31)."""
        with self.db.session() as s:
            existing = _by_source(s, source_key)
            if existing is not None:
                return IngestResult(existing.id, existing.sha256, False, existing.kind)
            row = s.get(SessionRecord, session_id)
            owner = s.get(Person, owner_id)
            if row is None or owner is None:
                raise NotFound("the defense or the student no longer exists")
            offering = s.get(Offering, row.offering_id) if row.offering_id else None
            discipline = s.get(Discipline, offering.discipline_id) if offering else None
            what = "Presentation" if kind == "presentation" else "Written work"
            facts: dict[str, Any] = dict(
                kind=kind, source_key=source_key, session_id=row.id, owner_id=owner.id,
                offering_id=offering.id if offering else None,
                discipline_id=discipline.id if discipline else None, group_id=row.group_id,
                tutor_id=row.tutor_id or (offering.tutor_id if offering else None), sitting=row.sitting,
                title=f"{what}: {owner.display_name} — {row.title}", creator=owner.display_name,
                dc_date=utcnow().astimezone(ZoneInfo(self.settings.timezone)).date(),
                subject=_subject(discipline), description=f"Handed in as {filename}",
            )  # fmt: skip
        if kind == "presentation":
            return self._ingest_video(path, facts, poster=None, chapters=None, chat=[], chat_bytes=None,
                                      actor_id=actor_id, info=info, max_height=self.settings.archive.archive_height)  # fmt: skip
        if kind != "written_work":
            raise UserError(f"unknown kind of student work {kind!r}")
        blob = self.storage.put_file(path)
        files = [AssetFile(name=MASTER_PDF, role="master", sha256=blob.sha256, size=blob.size,
                           media_type="application/pdf")]  # fmt: skip
        facts.update(sha256=blob.sha256, size=blob.size, media_type="application/pdf", dc_type=DC_TYPES["pdf"],
                     detail_pages=pages)  # fmt: skip
        return self._commit(facts, files, transcript="", actor_id=actor_id)

    def _ingest_video(
        self,
        video: Path,
        facts: dict[str, Any],
        *,
        poster: Path | None,
        chapters: Sequence[Chapter] | None,
        chat: list[dict[str, Any]],
        chat_bytes: bytes | None,
        actor_id: int | None,
        info: MediaInfo | None = None,
        max_height: int = 2160,
    ) -> IngestResult:
        video = Path(video)
        try:
            info = info or inspect(video, ARCHIVE_LIMITS)
            if chapters is None:
                chapters = [Chapter(c[0], c[1]) for c in read_chapters(video)]
            with self._workdir() as work:
                master = video
                if not is_archive_format(info, max_height) or video.suffix.lower() != ".mp4":
                    master = work / MASTER_VIDEO
                    normalise(self.ffmpeg, video, master, info, max_height=max_height)
                    info = inspect(master, ARCHIVE_LIMITS)
                files: list[AssetFile] = []
                blob = self.storage.put_file(master)
                files.append(AssetFile(name=MASTER_VIDEO, role="master", sha256=blob.sha256, size=blob.size,
                                       media_type="video/mp4"))  # fmt: skip
                if poster is None:
                    poster = work / POSTER
                    self._poster(self.storage.path(blob.sha256), poster, info.duration)
                files.append(self._file(self.storage.put_file(poster), POSTER, "poster"))
                if chat_bytes:
                    files.append(self._file(self.storage.put_bytes(chat_bytes), CHAT, "chat"))
                hls = cut_hls(self.ffmpeg, self.storage.path(blob.sha256), work / "hls",
                              segment_seconds=self.settings.archive.hls_segment_seconds)  # fmt: skip
                for name in hls.files:
                    files.append(self._file(self.storage.put_file(hls.directory / name), HLS_PREFIX + name, "hls"))
        except MediaError as exc:
            raise UserError(str(exc), code="bad_media", status=422) from None
        size = info.size
        facts.update(
            sha256=blob.sha256, size=blob.size, media_type="video/mp4", duration=round(info.duration, 3),
            width=size[0] if size else None, height=size[1] if size else None, dc_type=DC_TYPES["video"],
            chapters=[{"start": round(c.start, 3), "title": c.title} for c in chapters], chat=chat,
        )  # fmt: skip
        transcript = "\n".join(c["text"] for c in chat)
        return self._commit(facts, files, transcript=transcript, actor_id=actor_id)

    def _commit(self, facts: dict[str, Any], files: list[AssetFile], *, transcript: str,
                actor_id: int | None) -> IngestResult:  # fmt: skip
        facts.pop("detail_pages", None)
        facts.setdefault("language", self.settings.archive.default_language)
        facts.setdefault("rights", self.settings.archive.default_rights)
        facts["retain_until"] = retention_date(self.settings, facts["kind"], facts["dc_date"])
        try:
            with self.db.session() as s:
                asset = Asset(**facts)
                asset.files = files
                s.add(asset)
                s.flush()
                search.index_asset(s, asset.id, asset.title, asset.description, transcript)
                audit.record(s, actor_id, "archive.ingest", f"asset:{asset.id}", kind=asset.kind,
                             sha256=asset.sha256, source=asset.source_key, title=asset.title)  # fmt: skip
                result = IngestResult(asset.id, asset.sha256, True, asset.kind)
        except IntegrityError:
            # Another worker archived the same source meanwhile: theirs stands, ours was the same bytes.
            with self.db.session() as s:
                existing = _by_source(s, facts["source_key"])
                if existing is None:
                    raise
                return IngestResult(existing.id, existing.sha256, False, existing.kind)
        log.info("archived", extra={"asset": result.asset_id, "kind": result.kind, "sha256": result.sha256})
        return result

    def _file(self, blob: Any, name: str, role: str) -> AssetFile:
        return AssetFile(name=name, role=role, sha256=blob.sha256, size=blob.size,
                         media_type=MEDIA_TYPES.get(Path(name).suffix, "application/octet-stream"))  # fmt: skip

    def _poster(self, video: Path, out: Path, duration: float) -> None:
        at = min(max(duration * 0.1, 0.0), 5.0)
        self.ffmpeg.run(["-ss", f"{at:.3f}", "-i", str(video), "-frames:v", "1", "-vf", "scale=-2:'min(360,ih)'",
                         "-q:v", "4", "-f", "image2"], output=out, subject=video.name)  # fmt: skip

    @contextmanager
    def _workdir(self) -> Iterator[Path]:
        work = self.storage.root / "tmp" / f"work-{uuid.uuid4().hex}"
        work.mkdir(parents=True)
        try:
            yield work
        finally:
            shutil.rmtree(work, ignore_errors=True)

    # ---------------------------------------------------------------- records

    def update_record(self, s: Session, asset: Asset, changes: dict[str, Any], *, actor_id: int | None) -> None:
        """Apply Dublin Core edits (and visibility, chapters); re-index the text; audit what changed."""
        before: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in EDITABLE:
                raise UserError(f"{key!r} cannot be edited (editable: {', '.join(EDITABLE)})")
            if key == "visibility":
                if value not in ("restricted", "public"):
                    raise UserError("visibility must be restricted or public", status=422)
                if value == "public" and asset.kind in ("presentation", "written_work"):
                    raise UserError("a student's presentation or written work cannot be made public", status=422)
            if key == "title" and not str(value).strip():
                raise UserError("title cannot be empty", status=422)
            column = "dc_date" if key == "date" else key
            before[key] = _plain(getattr(asset, column))
            setattr(asset, column, value)
        transcript = "\n".join(c.get("text", "") for c in asset.chat)
        search.index_asset(s, asset.id, asset.title, asset.description, transcript)
        if "date" in changes:
            asset.retain_until = retention_date(self.settings, asset.kind, asset.dc_date)
        audit.record(s, actor_id, "archive.edit", f"asset:{asset.id}", before=before,
                     after={k: _plain(v) for k, v in changes.items()})  # fmt: skip

    def set_hold(self, s: Session, asset: Asset, *, hold: bool, reason: str, actor_id: int | None) -> None:
        if hold and not reason.strip():
            raise UserError("a legal hold needs a reason (e.g. the appeal it serves)", status=422)
        asset.legal_hold = hold
        asset.hold_reason = reason.strip() if hold else None
        audit.record(s, actor_id, "archive.hold" if hold else "archive.release", f"asset:{asset.id}", reason=reason)

    def delete_asset(self, asset_id: int, *, actor_id: int | None, reason: str) -> list[str]:
        """Delete an asset's files (a held asset refuses); the row stays as a tombstone; audited.

        Returns the digests whose bytes were removed (a blob another asset still names stays).
        """
        with self.db.session() as s:
            asset = s.get(Asset, asset_id)
            if asset is None:
                raise NotFound(f"archive item {asset_id} does not exist")
            if asset.status != "active":
                return []
            if asset.legal_hold:
                raise Conflict(f"archive item {asset_id} is under legal hold ({asset.hold_reason}); it is not deleted")
            digests = {f.sha256 for f in asset.files}
            audit.record(s, actor_id, "archive.delete", f"asset:{asset.id}", reason=reason, kind=asset.kind,
                         title=asset.title, sha256=asset.sha256, files=sorted(f.name for f in asset.files),
                         session_id=asset.session_id)  # fmt: skip
            asset.files = []
            asset.status = "deleted"
            # The source is free again: composing the session anew after a deletion makes a new item.
            asset.source_key = f"{asset.source_key}#deleted-{asset.id}"[:200]
            asset.deleted_at = utcnow()
            asset.chat = []
            search.drop_asset(s, asset.id)
            s.flush()
            still = set(s.scalars(select(AssetFile.sha256).where(AssetFile.sha256.in_(digests))))
        removed = [d for d in sorted(digests - still) if self.storage.delete(d)]
        return removed

    def blob_path(self, digest: str) -> Path:
        return self.storage.path(digest)


def _by_source(s: Session, source_key: str) -> Asset | None:
    return s.scalar(select(Asset).where(Asset.source_key == source_key))


def _kind_of(row: SessionRecord, offering: Offering | None) -> str:
    if offering is not None and offering.technology == "tv":
        return "lecture"
    return row.kind if row.kind in ARCHIVE_KINDS else "lecture"


def _subject(discipline: Discipline | None) -> str:
    return f"{discipline.title} ({discipline.code})" if discipline else ""


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def retention_date(settings: Settings, kind: str, dc_date: date) -> date | None:
    """The day an asset of ``kind`` dated ``dc_date`` may go; None keeps it for good (0 days configured)."""
    days = settings.archive.retention_days.get(kind, 0)
    return dc_date + timedelta(days=days) if days else None

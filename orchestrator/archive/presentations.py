"""Recorded presentations instead of a live defense (§31): checking a handed-in file and archiving it.

    checked = check_handin(settings, path, kind="presentation", filename="talk.webm")   # or HandinRefused
    result = archive_handin(archive, upload_id, checked)     # normalised, archived, upload marked
    rows = presentations(s, session_id=7)                    # what the committee sees

A video is read whole with PyAV (not media, cut short, too long or too tall are
refused with a sentence for the student); a written work must be a PDF that
opens and has pages. Accepted videos become the archive's MP4 (H.264/AAC, at
most ``archive.archive_height`` lines) and get an HLS rendition like lectures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from fileio.message import Message, Messages
from media.errors import MediaError
from media.transcode.intake import REFUSALS, IntakeLimits, inspect
from media.transcode.probe import NOT_MEDIA, MediaInfo
from orchestrator import audit
from orchestrator.archive.catalogue import Archive
from orchestrator.archive.models import Asset, Upload
from orchestrator.config import Settings
from orchestrator.errors import UserError
from orchestrator.store.types import utcnow

HANDIN_KINDS = ("presentation", "written_work")
PDF_TAIL = 2048  # "%%EOF" must appear this close to the end of a whole PDF


# why a hand-in is refused (the upload's message; the hand-in page words archive.msg.<code>). A video's
# reason is media's (media.transcode NOT_MEDIA/REFUSALS) with AGAIN after it.
HANDIN_REFUSALS = Messages({
    "pdf_not_pdf": "{file} is not a PDF file; hand in the written work as PDF",
    "pdf_cut_short": "{file} is cut short (the PDF has no end marker); upload the whole file again",
    "pdf_locked": "{file} is password-protected; hand in a PDF the committee can open",
    "pdf_damaged": "{file} is a damaged PDF ({detail}); export it again and upload it",
    "pdf_no_pages": "{file} has no pages",
    "handin_server_error": "the file could not be processed because of a server error; the operator has "
                           "the details — please upload it again later",
})  # fmt: skip
AGAIN = ". Please record or export the presentation again and upload it."


def upload_message(text: str | None) -> Message | None:
    """The code and values of an upload's refusal (made here or by media's intake), else None."""
    if not text:
        return None
    if text.endswith(AGAIN):
        base = text.removesuffix(AGAIN)
        return REFUSALS.parse(base) or NOT_MEDIA.parse(base)
    return HANDIN_REFUSALS.parse(text)


class HandinRefused(UserError):
    code = "refused_upload"
    status = 422


@dataclass(frozen=True)
class Checked:
    kind: str
    info: MediaInfo | None = None
    pages: int | None = None


def check_handin(settings: Settings, path: Path, *, kind: str, filename: str) -> Checked:
    """Read the whole file; ``HandinRefused`` with a sentence for the student when it will not do."""
    if kind == "written_work":
        return Checked(kind, pages=_check_pdf(path, filename))
    cfg = settings.archive
    limits = IntakeLimits(max_seconds=cfg.upload_max_seconds, max_height=cfg.upload_max_height)
    try:
        info = inspect(path, limits)
    except MediaError as exc:
        # Name the student's file, never this server's temporary path.
        message = str(exc).replace(str(path), filename).replace(path.name, filename)
        raise HandinRefused(f"{message}{AGAIN}") from None
    return Checked(kind, info=info)


def _check_pdf(path: Path, filename: str) -> int:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    with path.open("rb") as f:
        head = f.read(8)
        f.seek(max(0, path.stat().st_size - PDF_TAIL))
        tail = f.read()
    if not head.startswith(b"%PDF-"):
        raise HandinRefused(HANDIN_REFUSALS.make("pdf_not_pdf", file=filename).text)
    if b"%%EOF" not in tail:
        raise HandinRefused(HANDIN_REFUSALS.make("pdf_cut_short", file=filename).text)
    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            raise HandinRefused(HANDIN_REFUSALS.make("pdf_locked", file=filename).text)
        pages = len(reader.pages)
    except HandinRefused:
        raise
    except PdfReadError as exc:
        raise HandinRefused(HANDIN_REFUSALS.make("pdf_damaged", file=filename, detail=exc).text) from None
    except Exception as exc:  # a malformed PDF makes pypdf fail in many ways; none may escape as a crash
        raise HandinRefused(HANDIN_REFUSALS.make("pdf_damaged", file=filename, detail=type(exc).__name__).text) from None
    if pages < 1:
        raise HandinRefused(HANDIN_REFUSALS.make("pdf_no_pages", file=filename).text)
    return pages


def archive_handin(archive: Archive, upload_id: str, checked: Checked, path: Path) -> int:
    """Archive a checked upload (idempotent: a second run returns the same asset); marks the upload archived."""
    with archive.db.session() as s:
        up = s.get(Upload, upload_id)
        if up is None:
            raise UserError(f"upload {upload_id} does not exist")
        session_id, owner_id, kind, filename = up.session_id, up.owner_id, up.kind, up.filename
    result = archive.add_student_work(
        session_id, owner_id, path, kind=kind, source_key=f"upload:{upload_id}", filename=filename,
        info=checked.info, pages=checked.pages, actor_id=owner_id,
    )  # fmt: skip
    with archive.db.session() as s:
        up = s.get(Upload, upload_id)
        if up is not None:
            up.status, up.asset_id, up.updated_at = "archived", result.asset_id, utcnow()
            up.message = "archived; the committee can see it"
            audit.record(s, owner_id, "archive.handin", f"upload:{upload_id}", asset=result.asset_id, kind=kind,
                         filename=filename, session_id=session_id)  # fmt: skip
    path.unlink(missing_ok=True)
    return result.asset_id


def presentations(s: Session, *, session_id: int | None = None, student_id: int | None = None) -> list[Asset]:
    """Handed-in presentations and written works of a defense and/or a student, oldest first.

    Callers filter by ``policy.archive_access`` (the committee, the student, the tutor, staff).
    """
    q = select(Asset).where(Asset.kind.in_(HANDIN_KINDS), Asset.status == "active")
    if session_id is not None:
        q = q.where(Asset.session_id == session_id)
    if student_id is not None:
        q = q.where(Asset.owner_id == student_id)
    return list(s.scalars(q.order_by(Asset.created_at, Asset.id)))

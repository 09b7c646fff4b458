"""The protocol of a sitting (§30–31): the record of who defended, when, what was asked and graded.

    env = signed_protocol(s, sitting, settings)     # {"protocol": {...}, "signature": {...}} (Ed25519)
    html = to_html(env); pdf = to_pdf(env)          # both carry the signed JSON inside them
    doc = verify_file(path, keys)                   # offline: signature, and the PDF's or page's text

The protocol is a JSON document first (``format: aulacast-protocol/1``); the HTML page and the PDF
are renderings of it that embed the signed JSON (a ``<script type="application/json">`` element,
a PDF file attachment ``protocol.json``). Verifying a rendering checks the signature of the
embedded JSON and that every grade line the rendering shows is the signed one, so editing
either the embedded JSON or the visible text is caught.
"""

from __future__ import annotations

import html
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.archive.models import Asset
from orchestrator.config import Settings
from orchestrator.defenses.models import Sitting
from orchestrator.defenses.scoring import grade_of, history_of, scores_of
from orchestrator.defenses.signing import Invalid, sign, signing_key, verify_envelope
from orchestrator.defenses.sittings import room_session
from orchestrator.errors import UserError
from orchestrator.store.models import Discipline, Offering, Person

FORMAT = "aulacast-protocol/1"
ATTACHMENT = "protocol.json"


def _t(v: datetime | None) -> str | None:
    return None if v is None else v.astimezone(UTC).replace(microsecond=0).isoformat()


def recording_zero(settings: Settings, room: int) -> datetime | None:
    """When the room's first recording began: the archived video's 0 s (the composition starts there).

    A turn's position in the video is its start minus this, not minus the sitting's start: the room
    may be recorded from its opening, long before the chair opens the sitting (or from the first
    track, after it). None when this node holds no recording folder of the room (the caller then
    falls back to the turn's stored offset, counted from the sitting's start).
    """
    from media.recording.folder import parse_utc, read_manifest

    starts = []
    for path in (settings.effective_media_root / "recordings" / str(room)).glob("*/manifest.json"):
        try:
            manifest = read_manifest(path.parent)
        except Exception:  # noqa: BLE001 - a damaged folder says nothing about when the video begins
            continue
        if manifest.status != "failed":  # a recorder that never started made no video
            starts.append(parse_utc(manifest.started_at))
    return datetime.fromtimestamp(min(starts), UTC) if starts else None


def _offset(turn: Any, zero: datetime | None) -> float | None:
    if zero is None or turn.started_at is None:
        return turn.recording_offset
    started = turn.started_at if turn.started_at.tzinfo else turn.started_at.replace(tzinfo=UTC)
    return max(0.0, (started - zero).total_seconds())


def protocol_doc(s: Session, sitting: Sitting, settings: Settings) -> dict[str, Any]:
    people: dict[int, Person] = {}

    def who(pid: int | None) -> dict[str, Any] | None:
        if pid is None:
            return None
        p = people.get(pid) or s.get(Person, pid)
        if p is None:
            return {"id": pid}
        people[pid] = p
        return {"id": p.id, "username": p.username, "name": p.display_name}

    off = s.get(Offering, sitting.offering_id) if sitting.offering_id else None
    disc = s.get(Discipline, off.discipline_id) if off else None
    room = room_session(s, sitting)
    recording = s.scalar(select(Asset).where(Asset.session_id == room, Asset.kind == "defense",
                                             Asset.status == "active").order_by(Asset.id)) if room else None
    base = settings.effective_public_url
    zero = recording_zero(settings, room) if recording is not None and room else None
    turns = []
    for t in sorted(sitting.turns, key=lambda t: t.position):
        g = grade_of(s, t)
        item: dict[str, Any] = {
            "position": t.position, "student": who(t.student_id), "status": t.status, "path": t.path,
            "note": t.note, "started_at": _t(t.started_at), "ended_at": _t(t.ended_at),
            "questions": [{"by": who(q.get("by")), "at": q.get("at"), "text": q.get("text")} for q in t.questions],
            "points": [{"member": who(x.member_id), "points": x.points, "criteria": x.criteria} for x in scores_of(s, t)],
            "grade": None if g is None else {
                "points": g.points, "letter": g.letter, "grade_point": g.grade_point, "mark": g.mark,
                "passed": g.passed, "final": g.final, "scale": g.scale,
                "changes": [{"at": _t(h.at), "by": who(h.by), "reason": h.reason, "before": h.before, "after": h.after}
                            for h in history_of(s, g)]},
            "recording": None,
        }
        at = _offset(t, zero) if recording is not None else None
        if at is not None:
            offset = round(at, 1)
            item["recording"] = {"asset": recording.id, "offset_seconds": offset,
                                 "url": f"{base}/archive/{recording.id}#t={offset:g}"}
        turns.append(item)
    graded = [x for x in turns if x["grade"]]
    return {
        "format": FORMAT,
        "institution": settings.institution_domain,
        "sitting": {"id": sitting.id, "key": sitting.key, "title": sitting.title,
                    "offering": off.code if off else None, "discipline": disc.title if disc else None,
                    "planned_start": _t(sitting.start_at), "started_at": _t(sitting.started_at),
                    "signed_at": _t(sitting.signed_at), "signed_by": who(sitting.signed_by),
                    "status": sitting.status, "rule": sitting.rule, "rubric": sitting.rubric},
        "committee": [{"seat": x.seat, **(who(x.person_id) or {})}
                      for x in sorted(sitting.seats, key=lambda x: ("chair", "member", "secretary").index(x.seat))],
        "turns": turns,
        "decision": (f"{len(graded)} student(s) graded, {sum(1 for x in graded if x['grade']['passed'])} passed; "
                     f"{sum(1 for x in turns if x['status'] in ('absent', 'moved'))} absent, "
                     f"{sum(1 for x in turns if x['status'] == 'refused')} not admitted (§29)"),
        "generated_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "recording": None if recording is None else {"asset": recording.id, "url": f"{base}/archive/{recording.id}"},
    }


def signed_protocol(s: Session, sitting: Sitting, settings: Settings) -> dict[str, Any]:
    return sign("protocol", protocol_doc(s, sitting, settings), signing_key(settings))


def grade_line(turn: dict[str, Any]) -> str:
    """The line a rendering shows for a graded turn; verification looks for exactly this text."""
    g, st = turn["grade"], turn["student"] or {}
    return f"{turn['position']}. {st.get('name', '?')}: {g['letter']}, {g['points']} points, grade point {g['grade_point']:.2f}"


def _lines(doc: dict[str, Any]) -> list[str]:
    return [grade_line(t) for t in doc["turns"] if t.get("grade")]


# --- renderings -------------------------------------------------------------------------------------

def to_html(env: dict[str, Any]) -> str:
    doc = env["protocol"]
    e = html.escape
    sit = doc["sitting"]
    rows = []
    for t in doc["turns"]:
        st = t["student"] or {}
        rec = f' <a href="{e(t["recording"]["url"])}">recording at {t["recording"]["offset_seconds"]:g} s</a>' if t["recording"] else ""
        pts = "; ".join(f"{e((p['member'] or {}).get('name', '?'))}: {p['points']}" for p in t["points"])
        qs = "".join(f"<li>{e(q['text'] or '')}</li>" for q in t["questions"])
        grade = f'<p class="grade">{e(grade_line(t))}</p>' if t["grade"] else ""
        rows.append(f"<section><h3>{t['position']}. {e(st.get('name', '?'))} — {e(t['status'])}</h3>"
                    f"<p>{e(t['started_at'] or '')} – {e(t['ended_at'] or '')}{rec}</p>"
                    f"{'<p>' + e(t['note']) + '</p>' if t['note'] else ''}"
                    f"{'<ul>' + qs + '</ul>' if qs else ''}<p>Points: {pts or '—'}</p>{grade}</section>")
    committee = ", ".join(f"{e(c.get('name', '?'))} ({e(c['seat'])})" for c in doc["committee"])
    embedded = json.dumps(env, ensure_ascii=False).replace("</", "<\\/")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Protocol: {e(sit["title"])}</title>'
            f'<script type="application/json" id="aulacast-protocol">{embedded}</script></head><body>'
            f"<h1>Protocol of the sitting</h1><h2>{e(sit['title'])}</h2>"
            f"<p>Committee: {committee}</p><p>Rule: {e(sit['rule'])}. Signed off: {e(sit['signed_at'] or 'not yet')}</p>"
            f"{''.join(rows)}<p><strong>Decision:</strong> {e(doc['decision'])}</p>"
            f"<p>Signed with Ed25519 key {e(env['signature']['key_id'])}; check it with "
            f"<code>aulacast protocol verify</code> and the key at /.well-known/aulacast/protocol-key.</p></body></html>")


def to_pdf(env: dict[str, Any]) -> bytes:
    """The protocol as PDF (ReportLab), with the signed JSON attached as ``protocol.json``."""
    from pypdf import PdfReader, PdfWriter
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    doc = env["protocol"]
    sit = doc["sitting"]
    styles = getSampleStyleSheet()
    e = html.escape
    story: list[Any] = [Paragraph("Protocol of the sitting", styles["Title"]), Paragraph(e(sit["title"]), styles["Heading2"]),
                        Paragraph("Committee: " + e(", ".join(f"{c.get('name', '?')} ({c['seat']})" for c in doc["committee"])),
                                  styles["Normal"]),
                        Paragraph(f"Rule: {e(sit['rule'])}. Signed off: {e(sit['signed_at'] or 'not yet')}", styles["Normal"]),
                        Spacer(1, 12)]
    for t in doc["turns"]:
        st = t["student"] or {}
        story.append(Paragraph(f"{t['position']}. {e(st.get('name', '?'))} ({e(t['status'])})", styles["Heading3"]))
        span = f"{t['started_at'] or ''} to {t['ended_at'] or ''}"
        story.append(Paragraph(e(span), styles["Normal"]))
        if t["recording"]:
            url = t["recording"]["url"]
            story.append(Paragraph(f'<link href="{e(url)}">Recording at {t["recording"]["offset_seconds"]:g} s</link>',
                                   styles["Normal"]))
        if t["note"]:
            story.append(Paragraph(e(t["note"]), styles["Normal"]))
        for q in t["questions"]:
            story.append(Paragraph("Question: " + e(q["text"] or ""), styles["Normal"]))
        pts = "; ".join(f"{(p['member'] or {}).get('name', '?')}: {p['points']}" for p in t["points"])
        story.append(Paragraph("Points: " + e(pts or "none"), styles["Normal"]))
        if t["grade"]:
            story.append(Paragraph(e(grade_line(t)), styles["Normal"]))
        story.append(Spacer(1, 8))
    story.append(Paragraph("Decision: " + e(doc["decision"]), styles["Normal"]))
    story.append(Paragraph(f"Signed with Ed25519 key {e(env['signature']['key_id'])} (the attached protocol.json); "
                           "check it with: aulacast protocol verify FILE", styles["Normal"]))
    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=A4, title=f"Protocol: {sit['title']}", author="aulacast",
                      pageCompression=0).build(story)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(buf.getvalue())))
    writer.add_attachment(ATTACHMENT, json.dumps(env, ensure_ascii=False).encode())
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- verification -----------------------------------------------------------------------------------

def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def verify_bytes(data: bytes, name: str, keys: list[Ed25519PublicKey]) -> dict[str, Any]:
    """The verified protocol from a JSON, HTML or PDF file's bytes; Invalid saying what is wrong."""
    if data.startswith(b"%PDF"):
        env, shown = _from_pdf(data)
    elif data.lstrip()[:15].lower().startswith(b"<!doctype html") or data.lstrip().startswith(b"<html"):
        env, shown = _from_html(data)
    else:
        try:
            env, shown = json.loads(data), None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise Invalid(f"{name} is neither a protocol's JSON, its HTML page nor its PDF") from None
    doc = verify_envelope(env, "protocol", keys)
    if doc.get("format") != FORMAT:
        raise Invalid(f"unknown protocol format {doc.get('format')!r}")
    if shown is not None:
        text = _norm(shown)
        for line in _lines(doc):
            if _norm(line) not in text:
                raise Invalid(f"the visible text differs from the signed protocol: {line!r} is not shown as signed")
    return doc


def _from_pdf(data: bytes) -> tuple[Any, str]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        attached = reader.attachments.get(ATTACHMENT)
        if not attached:
            raise Invalid("the PDF carries no signed protocol.json")
        env = json.loads(attached[0])
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except Invalid:
        raise
    except (PyPdfError, ValueError, KeyError, OSError) as exc:
        raise Invalid(f"the PDF cannot be read: {exc}") from None
    return env, text


def _from_html(data: bytes) -> tuple[Any, str]:
    text = data.decode("utf-8", errors="replace")
    m = re.search(r'<script type="application/json" id="aulacast-protocol">(.*?)</script>', text, re.S)
    if m is None:
        raise Invalid("the page carries no signed protocol")
    try:
        env = json.loads(m.group(1).replace("<\\/", "</"))
    except json.JSONDecodeError:
        raise Invalid("the page's embedded protocol is not JSON") from None
    body = re.sub(r"<script.*?</script>", " ", text, flags=re.S)
    return env, html.unescape(re.sub(r"<[^>]+>", " ", body))


def verify_file(path: Path, keys: list[Ed25519PublicKey]) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    return verify_bytes(data, path.name, keys)

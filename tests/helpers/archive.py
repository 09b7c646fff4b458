"""A small institution for the archive tests: two disciplines, three groups, tutors, students, a committee.

    world = build_world(db)          # ids by name: world.people["s1"], world.sessions["consultation"], ...
    make_media(tmp)                  # small generated files: lecture.mp4 (chapters), talk.webm, broken ones

People (username = key): t1 tutors discipline D1 for groups G1 and G3 (two offerings); t2 tutors D2
for G2. Students s1, s4 in G1, s2 in G2, s3 in G3. c1 chairs the defense sitting SIT-1 (defenses of
s1 and s4); c2 sits on no committee. Staff: adm (admin), reg (registrar), pro (producer),
eng (engineer). Everyone's password is PASSWORD.
"""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from orchestrator.auth import create_person, hash_password
from orchestrator.store.models import (
    Discipline,
    Group,
    GroupMember,
    Offering,
    SessionParticipant,
    SessionRecord,
)

PASSWORD = "correct horse battery"
START = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)

PEOPLE = {
    "t1": ["tutor"], "t2": ["tutor"], "s1": ["student"], "s2": ["student"], "s3": ["student"], "s4": ["student"],
    "c1": ["committee"], "c2": ["committee"], "adm": ["admin"], "reg": ["registrar"], "pro": ["producer"],
    "eng": ["engineer"],
}  # fmt: skip


@dataclass
class World:
    people: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)
    disciplines: dict[str, int] = field(default_factory=dict)
    offerings: dict[str, int] = field(default_factory=dict)
    sessions: dict[str, int] = field(default_factory=dict)


@functools.cache
def _password_hash() -> str:
    # One argon2 hash for everyone: hashing twelve times costs seconds per test on a busy machine.
    return hash_password(PASSWORD)


def build_world(db: Any) -> World:
    w = World()
    with db.session() as s:
        for name, roles in PEOPLE.items():
            person = create_person(s, username=name, display_name=name.upper(), roles=roles)
            person.password_hash = _password_hash()
            w.people[name] = person.id
        for code in ("G1", "G2", "G3"):
            g = Group(code=code, name=f"Group {code}")
            s.add(g)
            s.flush()
            w.groups[code] = g.id
        for member, group in (("s1", "G1"), ("s4", "G1"), ("s2", "G2"), ("s3", "G3")):
            s.add(GroupMember(group_id=w.groups[group], person_id=w.people[member]))
        for code, title in (("D1", "Databases"), ("D2", "Microeconomics")):
            d = Discipline(code=code, title=title)
            s.add(d)
            s.flush()
            w.disciplines[code] = d.id
        for code, disc, group, tutor in (("D1-G1", "D1", "G1", "t1"), ("D2-G2", "D2", "G2", "t2"), ("D1-G3", "D1", "G3", "t1")):
            o = Offering(code=code, discipline_id=w.disciplines[disc], group_id=w.groups[group], period="2026-fall",
                         tutor_id=w.people[tutor], technology="network", rules={})  # fmt: skip
            s.add(o)
            s.flush()
            w.offerings[code] = o.id

        def session(key: str, kind: str, title: str, offering: str, group: str | None, tutor: str,
                    parts: dict[str, str], sitting: str | None = None, hours: int = 0) -> None:  # fmt: skip
            row = SessionRecord(key=key, kind=kind, title=title, offering_id=w.offerings[offering],
                                start_at=START + timedelta(hours=hours), end_at=START + timedelta(hours=hours + 1),
                                status="closed", tutor_id=w.people[tutor],
                                group_id=w.groups[group] if group else None, sitting=sitting)  # fmt: skip
            row.participants = [SessionParticipant(person_id=w.people[p], role=r) for p, r in parts.items()]
            s.add(row)
            s.flush()
            w.sessions[key] = row.id

        session("consultation", "consultation", "Databases: normal forms", "D1-G1", "G1", "t1", {"t1": "host"})
        session("consultation-g2", "consultation", "Microeconomics: demand curves", "D2-G2", "G2", "t2", {"t2": "host"})
        session("defense-s1", "defense", "Course work defense: s1", "D1-G1", None, "t1",
                {"c1": "chair", "s1": "presenter"}, sitting="SIT-1", hours=2)  # fmt: skip
        session("defense-s4", "defense", "Course work defense: s4", "D1-G1", None, "t1",
                {"c1": "chair", "s4": "presenter"}, sitting="SIT-1", hours=3)  # fmt: skip
    return w


# ---------------------------------------------------------------- media


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


@dataclass(frozen=True)
class Media:
    lecture: Path  # 8 s H.264/AAC MP4, keyframe every 1 s, chapters "Intro" at 0 and "Normal forms" at 4 s
    webm: Path  # 4 s VP8/Opus 640x360, as a browser's MediaRecorder makes
    truncated_mp4: Path  # fast-start MP4 cut in the middle of its data
    truncated_plain_mp4: Path  # MP4 whose index (moov) at the end was cut off
    text: Path  # not media at all
    pdf: Path  # a two-page PDF
    chat_vtt: Path  # two cues: 1.5 s "first question", 5 s "about the second normal form"


def make_media(folder: Path) -> Media:
    folder.mkdir(parents=True, exist_ok=True)
    meta = folder / "chapters.txt"
    meta.write_text(";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=4000\ntitle=Intro\n"
                    "[CHAPTER]\nTIMEBASE=1/1000\nSTART=4000\nEND=8000\ntitle=Normal forms\n")  # fmt: skip
    lecture = folder / "lecture.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000",
           "-i", str(meta), "-map", "0:v", "-map", "1:a", "-map_chapters", "2", "-t", "8",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25", "-c:a", "aac", "-b:a", "64k",
           "-movflags", "+faststart", str(lecture))  # fmt: skip
    webm = folder / "talk.webm"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=f=660:sample_rate=48000",
           "-t", "4", "-c:v", "libvpx", "-deadline", "realtime", "-b:v", "300k", "-c:a", "libopus", str(webm))  # fmt: skip
    plain = folder / "plain.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x180:rate=25", "-t", "4", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", str(plain))  # fmt: skip
    data = lecture.read_bytes()
    truncated = folder / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])
    pdata = plain.read_bytes()
    truncated_plain = folder / "truncated-plain.mp4"
    truncated_plain.write_bytes(pdata[: len(pdata) // 2])
    text = folder / "notes.mp4"  # a misleading name: the content decides
    text.write_text("These are my notes, not a video.\n" * 50)
    pdf = folder / "work.pdf"
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.add_blank_page(595, 842)
    with pdf.open("wb") as f:
        writer.write(f)
    vtt = folder / "chat.vtt"
    vtt.write_text("WEBVTT\n\n1\n00:00:01.500 --> 00:00:05.000\n<v S1>first question\n\n"
                   "2\n00:00:05.000 --> 00:00:08.000\n<v T1>about the second normal form\n")  # fmt: skip
    return Media(lecture, webm, truncated, truncated_plain, text, pdf, vtt)


def add_asset(db: Any, *, kind: str, title: str = "An item", transcript: str = "", **facts: Any) -> int:
    """A catalogue row without media (for policy and search tests); indexed for search like an ingest."""
    import hashlib
    from datetime import date

    from orchestrator.archive import search
    from orchestrator.archive.models import Asset

    with db.session() as s:
        values: dict[str, Any] = dict(
            kind=kind, source_key=f"test:{title}:{facts.get('session_id')}:{facts.get('owner_id')}:{kind}",
            sha256=hashlib.sha256(title.encode()).hexdigest(), media_type="video/mp4", size=1, title=title,
            dc_date=date(2026, 11, 16), language="en", rights="", chapters=[], chat=[],
        )  # fmt: skip
        values.update(facts)
        a = Asset(**values)
        s.add(a)
        s.flush()
        search.index_asset(s, a.id, a.title, a.description or "", transcript)
        return a.id

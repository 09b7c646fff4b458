"""The channel's episodes from the archive: every archived lecture of a TV offering, packaged for the channel.

    found = archived_lectures(s)                          # {offering code: [ArchivedLecture, ...]}
    records = lecture_records(found, {asset_id: (path, duration)})   # for series_from_offerings

The packaging itself is the job queue's ``package`` job (``orchestrator.channel.packaging``);
``aulacast tv series --from-archive`` submits one per lecture and waits for them.

A lecture is an active ``lecture`` asset with a video, made from a session of an
offering whose technology is ``tv``. Its episode number is the session's place
among all sessions of the offering by start time (planned ones count too, so an
episode keeps its number when an earlier lecture is archived later); its date
is the asset's date, its title the asset's title in the asset's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.archive.models import Asset
from orchestrator.store.models import Offering, SessionRecord


@dataclass(frozen=True)
class ArchivedLecture:
    """One archived lecture of a TV offering, as an episode-to-be."""

    asset_id: int
    offering: str
    number: int
    date: date
    title: dict[str, str]
    description: dict[str, str]


def _lang(language: str) -> str:
    return (language or "en").split("-")[0].lower() or "en"


def archived_lectures(s: Session) -> dict[str, list[ArchivedLecture]]:
    """Per TV offering code, its archived lectures in episode order (offerings without any are left out)."""
    out: dict[str, list[ArchivedLecture]] = {}
    for o in s.scalars(select(Offering).where(Offering.technology == "tv").order_by(Offering.code)):
        order = s.scalars(select(SessionRecord.id).where(SessionRecord.offering_id == o.id)
                          .order_by(SessionRecord.start_at, SessionRecord.id)).all()  # fmt: skip
        number = {sid: i + 1 for i, sid in enumerate(order)}
        assets = s.scalars(select(Asset).where(Asset.offering_id == o.id, Asset.kind == "lecture",
                                               Asset.status == "active", Asset.media_type == "video/mp4"))  # fmt: skip
        found = []
        for a in assets:
            if a.session_id not in number:
                continue
            lang = _lang(a.language)
            found.append(ArchivedLecture(a.id, o.code, number[a.session_id], a.dc_date, {lang: a.title},
                                         {lang: a.description} if a.description else {}))  # fmt: skip
        if found:
            out[o.code] = sorted(found, key=lambda x: (x.number, x.asset_id))
    return out


def lecture_records(found: dict[str, list[ArchivedLecture]], media: Mapping[int, tuple[str, float]],
                    ) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """The records ``schedules.tv.series.series_from_offerings`` takes, per offering code, for the lectures
    whose packaged stream is known (``media``: asset id -> (path, duration)); the others are left out."""
    out: dict[str, list[dict[str, Any]]] = {}
    for code, lectures in found.items():
        for lec in lectures:
            if lec.asset_id not in media:
                continue
            path, duration = media[lec.asset_id]
            out.setdefault(code, []).append({
                "number": lec.number, "date": lec.date, "title": lec.title, "description": lec.description,
                "media": path, "duration": duration,
            })
    return out

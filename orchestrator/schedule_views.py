"""Who sees which sessions, and those sessions as JSON rows or iCalendar feeds (§13).

A person's sessions: those they host or sit on (tutor, committee), those
naming them (defense slots), and those of the groups they belong to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from orchestrator.session_titles import titles_of
from orchestrator.store.models import Group, GroupMember, Person, SessionParticipant, SessionRecord
from schedules.academic.ical import IcalEvent, render_calendar


def group_ids_of(s: Session, person_id: int) -> list[int]:
    return list(s.scalars(select(GroupMember.group_id).where(GroupMember.person_id == person_id)))


def sessions_of_person(
    s: Session, person_id: int, *, start: datetime | None = None, end: datetime | None = None,
    include_cancelled: bool = True,
) -> list[SessionRecord]:
    groups = group_ids_of(s, person_id)
    named = select(SessionParticipant.session_id).where(SessionParticipant.person_id == person_id)
    q = select(SessionRecord).where(
        or_(SessionRecord.tutor_id == person_id, SessionRecord.id.in_(named), SessionRecord.group_id.in_(groups))
    )
    if start is not None:
        q = q.where(SessionRecord.end_at > start)
    if end is not None:
        q = q.where(SessionRecord.start_at < end)
    if not include_cancelled:
        q = q.where(SessionRecord.status != "cancelled")
    return list(s.scalars(q.order_by(SessionRecord.start_at, SessionRecord.key)))


def sessions_of_group(s: Session, group_id: int, include_cancelled: bool = True) -> list[SessionRecord]:
    q = select(SessionRecord).where(SessionRecord.group_id == group_id)
    if not include_cancelled:
        q = q.where(SessionRecord.status != "cancelled")
    return list(s.scalars(q.order_by(SessionRecord.start_at, SessionRecord.key)))


def join_url(public_url: str, session_id: int) -> str:
    return f"{public_url}/join/{session_id}"


FEED_YEARS = range(1970, 2200)
"""Sessions a feed shows: a stored date outside these years (bad data) is left out rather than
turning every feed of the people in it into an error."""


def _local(at: datetime, zone: ZoneInfo) -> str:
    try:
        return at.astimezone(zone).isoformat()
    except (OverflowError, ValueError):
        return at.isoformat()


def session_json(row: SessionRecord, tz: str, public_url: str) -> dict[str, Any]:
    zone = ZoneInfo(tz)
    return {
        "id": row.id,
        "key": row.key,
        "kind": row.kind,
        "title": row.title,
        "titles": titles_of(row),
        "status": row.status,
        "sequence": row.sequence,
        "start": row.start_at.isoformat(),
        "end": row.end_at.isoformat(),
        "local_start": _local(row.start_at, zone),
        "local_end": _local(row.end_at, zone),
        "timezone": tz,
        "sitting": row.sitting,
        "join_url": join_url(public_url, row.id),
    }


def ical_events(rows: list[SessionRecord], public_url: str, language: str | None = None) -> list[IcalEvent]:
    """``language``: a person's feed speaks their profile's language; a group's keeps the canonical title."""
    return [
        IcalEvent(
            uid_key=r.key,
            summary=titles_of(r).get(language, r.title) if language else r.title,
            start=r.start_at,
            end=r.end_at,
            sequence=r.sequence,
            status="CANCELLED" if r.status == "cancelled" else "CONFIRMED",
            join_url=None if r.status == "cancelled" else join_url(public_url, r.id),
            description=f"{r.kind.capitalize()} ({r.key})",
            location="" if r.status == "cancelled" else "On-line",
            categories=(r.kind,),
        )
        for r in rows
        if r.start_at.year in FEED_YEARS and r.end_at.year in FEED_YEARS
    ]


def person_feed(s: Session, person: Person, *, public_url: str, domain: str) -> bytes:
    rows = sessions_of_person(s, person.id)
    return render_calendar(
        ical_events(rows, public_url, person.language), name=f"{person.display_name} — aulacast", tz=person.timezone, domain=domain
    )


def group_feed(s: Session, group: Group, *, tz: str, public_url: str, domain: str) -> bytes:
    rows = sessions_of_group(s, group.id)
    return render_calendar(ical_events(rows, public_url), name=f"{group.name} — aulacast", tz=tz, domain=domain)

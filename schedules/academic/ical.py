"""iCalendar (RFC 5545) feeds of planned sessions, built with the ``icalendar`` library.

    events = [event_from_session(s, sequence=seq[s.key], join_url=url(s)) for s in schedule_of(plan, pid, groups)]
    body = render_calendar(events, name="Aigerim's schedule", tz="Europe/Berlin", domain="aulacast.example.edu")

Times are written as local times of the reader's display zone with a TZID and
a VTIMEZONE (students abroad see their own hours, §10); the UID is the
session's stable key at the institution's domain, so a calendar client
updates an event in place when SEQUENCE grows and removes it on
STATUS:CANCELLED.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Timezone, vText
from icalendar.parser import foldline

from schedules.academic.model import PlannedSession

PRODID = "-//aulacast//academic schedule//EN"
STATUSES = ("CONFIRMED", "TENTATIVE", "CANCELLED")


@dataclass(frozen=True, slots=True)
class IcalEvent:
    """One event of a feed; the store supplies ``sequence`` and ``status`` (it remembers what it published)."""

    uid_key: str  # the session key: the UID is ``{uid_key}@{domain}``
    summary: str
    start: datetime  # aware
    end: datetime  # aware
    sequence: int = 0
    status: str = "CONFIRMED"
    join_url: str | None = None
    description: str = ""
    location: str = ""
    categories: tuple[str, ...] = ()


def uid_for(key: str, domain: str) -> str:
    """The UID a session keeps for its whole life."""
    return f"{key}@{domain}"


def event_from_session(
    session: PlannedSession,
    *,
    sequence: int = 0,
    cancelled: bool = False,
    join_url: str | None = None,
    description: str = "",
) -> IcalEvent:
    """The feed event of a planned session (title as summary, kind as category)."""
    return IcalEvent(
        uid_key=session.key,
        summary=session.title,
        start=session.start,
        end=session.end,
        sequence=sequence,
        status="CANCELLED" if cancelled else "CONFIRMED",
        join_url=join_url,
        description=description,
        location="On-line" if join_url else "",
        categories=(session.kind.value,),
    )


def render_calendar(
    events: Iterable[IcalEvent],
    *,
    name: str,
    tz: str,
    domain: str,
    dtstamp: datetime | None = None,
) -> bytes:
    """A complete VCALENDAR (bytes, CRLF lines) for one person's or one group's feed.

    ``tz`` is the display zone (IANA); ``dtstamp`` defaults to now and can be
    fixed for reproducible output.
    """
    zone = ZoneInfo(tz)
    items = sorted(events, key=lambda e: (e.start, e.uid_key))
    for e in items:
        if e.start.tzinfo is None or e.end.tzinfo is None:
            raise ValueError(f"event {e.uid_key}: start and end must be aware datetimes")
        if e.status not in STATUSES:
            raise ValueError(f"event {e.uid_key}: status {e.status!r} is not one of {', '.join(STATUSES)}")
    stamp = (dtstamp or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", _CONTROLS.sub("", name.replace("\r", " ").replace("\n", " ")))
    cal.add("x-wr-timezone", tz)
    first = items[0].start.year if items else stamp.year
    last = items[-1].end.year if items else stamp.year
    cal.add_component(_vtimezone(tz, first, last))
    head = cal.to_ical()
    tail = b"END:VCALENDAR\r\n"
    assert head.endswith(tail)
    # Events are written line by line with icalendar's own value encoders and
    # folding: building a Component per event costs ~0.35 ms, too slow for a
    # feed of a few hundred events served on every client poll.
    stamp_text = stamp.strftime("%Y%m%dT%H%M%SZ")
    tzparam = f"TZID={tz}" if all(c not in tz for c in ':;,"') else f'TZID="{tz}"'
    out = [head[: -len(tail)]]
    for e in items:
        lines = [
            "BEGIN:VEVENT",
            "UID:" + _text(uid_for(e.uid_key, domain)),
            "DTSTAMP:" + stamp_text,
            f"DTSTART;{tzparam}:" + e.start.astimezone(zone).strftime("%Y%m%dT%H%M%S"),
            f"DTEND;{tzparam}:" + e.end.astimezone(zone).strftime("%Y%m%dT%H%M%S"),
            "SUMMARY:" + _text(e.summary),
            f"SEQUENCE:{int(e.sequence)}",
            "STATUS:" + e.status,
        ]
        text = e.description
        if e.join_url:
            lines.append("URL:" + e.join_url)
            text = f"{text}\n\nJoin: {e.join_url}".strip()
        if text:
            lines.append("DESCRIPTION:" + _text(text))
        if e.location:
            lines.append("LOCATION:" + _text(e.location))
        if e.categories:
            lines.append("CATEGORIES:" + ",".join(_text(c) for c in e.categories))
        if e.status == "CANCELLED":
            lines.append("TRANSP:TRANSPARENT")
        lines.append("END:VEVENT")
        out.append("".join(foldline(line) + "\r\n" for line in lines).encode("utf-8"))
    out.append(tail)
    return b"".join(out)


_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _text(value: str) -> str:
    """An RFC 5545 TEXT value: line breaks (CRLF, CR, LF) become the escaped \\n, other control
    characters (not allowed in TEXT, §3.3.11) are dropped; then icalendar escapes , ; \\."""
    value = _CONTROLS.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    return vText(value).to_ical().decode("utf-8")


@lru_cache(maxsize=64)
def _vtimezone_ical(tz: str, first_year: int, last_year: int) -> bytes:
    return Timezone.from_tzid(
        tz, first_date=date(first_year - 1, 1, 1), last_date=date(last_year + 1, 12, 31)
    ).to_ical()


def _vtimezone(tz: str, first_year: int, last_year: int) -> Timezone:
    # Building a VTIMEZONE walks the zone's transitions (tens of ms); parsing the cached text back is cheap.
    return Timezone.from_ical(_vtimezone_ical(tz, first_year, last_year))

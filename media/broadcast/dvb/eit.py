"""Event Information Tables (EN 300 468 §5.2.4, scheduling rules of TS 101 211 §4.1.4).

Callers describe programmes as ``EitEvent`` values (start, duration, titles per
language, content nibbles) and get complete sections back:

    service = ServiceRef(service_id=1, transport_stream_id=1, original_network_id=0x2001)
    pf = eit_pf_sections(service, present=lecture, following=next_lecture, version_number=3)
    sched = eit_schedule_sections(service, week_of_events, now=utc_now)

EIT p/f (table 0x4E) is two sections: 0 = present, 1 = following. EIT schedule
(0x50 + n) splits time from midnight UTC of "today" into 3-hour segments, 32 per
table (4 days), up to 8 sections per segment, section_number = 8 × segment + k;
a segment with no events is sent as one empty section so receivers know it is
complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from media.broadcast.dvb.psi import (
    TAG_CONTENT,
    TAG_EXTENDED_EVENT,
    TAG_SHORT_EVENT,
    TID_EIT_PF_ACTUAL,
    TID_EIT_PF_OTHER,
    Descriptor,
    Section,
    SectionError,
    build_long_section,
    decode_duration,
    decode_utc_time,
    encode_descriptors,
    encode_duration,
    encode_utc_time,
    parse_descriptors,
)
from media.broadcast.dvb.si_text import decode_text, encode_text
from media.errors import MediaError

TID_EIT_SCHEDULE_ACTUAL = 0x50
MAX_SECTION_BYTES = 4096
SEGMENT = timedelta(hours=3)
SEGMENTS_PER_TABLE = 32

RUNNING_UNDEFINED = 0
RUNNING_NOT_RUNNING = 1
RUNNING_STARTS_SOON = 2
RUNNING_PAUSING = 3
RUNNING_RUNNING = 4

# content_nibble_level_1 0x9 is "education/science/factual topics" (EN 300 468 Table 29)
CONTENT_EDUCATION = 0x90
CONTENT_NATURAL_SCIENCES = 0x92
CONTENT_FURTHER_EDUCATION = 0x96
CONTENT_LANGUAGES = 0x97


class EitError(MediaError):
    """Events that cannot be put in an EIT (overlaps, bad language code, too long)."""


@dataclass(frozen=True)
class EventText:
    """Title and description of an event in one language (ISO 639-2, e.g. "kaz", "rus", "eng")."""

    language: str
    title: str
    description: str = ""

    def __post_init__(self) -> None:
        if len(self.language) != 3 or not self.language.isascii() or not self.language.isalpha():
            raise EitError(f"language code {self.language!r} is not a 3-letter ISO 639-2 code")


def event_id_for(start: datetime) -> int:
    """A stable event_id from the start time: minutes since the Unix epoch mod 65536.

    Two events of one service never start in the same minute, and 65536 minutes
    (45 days) exceed the 7-day schedule, so ids are unique where they must be and
    identical every time the same day is injected again.
    """
    return (int(_utc(start).timestamp()) // 60) & 0xFFFF


@dataclass(frozen=True)
class EitEvent:
    """One programme as the EIT carries it.

    ``start`` must be timezone-aware (it is sent as UTC). ``texts`` holds one
    ``EventText`` per language, the first being the main one. ``content`` holds
    content descriptor bytes (level-1 nibble << 4 | level-2 nibble, e.g. 0x90).
    ``event_id`` defaults to ``event_id_for(start)``. ``running_status`` is set by
    the section builders (and by the decoder); leave it None when building.
    """

    start: datetime
    duration: timedelta
    texts: tuple[EventText, ...]
    content: tuple[int, ...] = ()
    event_id: int = -1
    free_ca_mode: bool = False
    running_status: int | None = None

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise EitError(f"event {self.title!r}: start time {self.start} has no time zone")
        if self.duration < timedelta(0):
            raise EitError(f"event {self.title!r}: negative duration")
        if self.event_id == -1:
            object.__setattr__(self, "event_id", event_id_for(self.start))
        if not 0 <= self.event_id <= 0xFFFF:
            raise EitError(f"event {self.title!r}: event_id {self.event_id} outside 0..65535")

    @classmethod
    def simple(
        cls,
        start: datetime,
        duration: timedelta,
        title: str,
        description: str = "",
        *,
        language: str = "kaz",
        content: tuple[int, ...] = (CONTENT_EDUCATION,),
        event_id: int = -1,
    ) -> EitEvent:
        """An event with one language's title and description."""
        return cls(start, duration, (EventText(language, title, description),), content, event_id)

    @property
    def title(self) -> str:
        return self.texts[0].title if self.texts else ""

    @property
    def end(self) -> datetime:
        return self.start + self.duration


@dataclass(frozen=True)
class ServiceRef:
    """Which service an EIT describes, and in which transport stream and network."""

    service_id: int
    transport_stream_id: int
    original_network_id: int


@dataclass(frozen=True)
class Eit:
    """A decoded EIT section."""

    table_id: int
    service: ServiceRef
    version_number: int
    section_number: int
    last_section_number: int
    segment_last_section_number: int
    last_table_id: int
    events: tuple[EitEvent, ...] = field(default_factory=tuple)

    @property
    def is_present_following(self) -> bool:
        return self.table_id in (TID_EIT_PF_ACTUAL, TID_EIT_PF_OTHER)


def _utc(when: datetime) -> datetime:
    return when.astimezone(UTC)


# --------------------------------------------------------------------------- descriptors


def short_event_descriptor(language: str, name: str, text: str) -> Descriptor:
    """Short event descriptor (0x4D): ISO 639 code, event name, short text (≤ 250 bytes together)."""
    name_b = encode_text(name, 250)
    text_b = encode_text(text, 250 - len(name_b))
    return Descriptor(
        TAG_SHORT_EVENT,
        language.lower().encode("ascii") + bytes([len(name_b)]) + name_b + bytes([len(text_b)]) + text_b,
    )


def parse_short_event(d: Descriptor) -> tuple[str, str, str]:
    """(language, name, text) of a short event descriptor."""
    data = d.data
    lang = data[:3].decode("ascii", errors="replace")
    nlen = data[3]
    name = decode_text(data[4 : 4 + nlen])
    tlen = data[4 + nlen]
    return lang, name, decode_text(data[5 + nlen : 5 + nlen + tlen])


def extended_event_descriptors(language: str, text: str) -> list[Descriptor]:
    """Extended event descriptors (0x4E) carrying ``text`` in pieces of ≤ 249 bytes, at most 16."""
    pieces: list[bytes] = []
    rest = text
    while rest and len(pieces) < 16:
        piece = encode_text(rest, 249)
        pieces.append(piece)
        used = len(decode_text(piece))
        rest = rest[used:] if used else ""
    last = len(pieces) - 1
    return [
        Descriptor(
            TAG_EXTENDED_EVENT,
            bytes([(n << 4) | last]) + language.lower().encode("ascii") + b"\x00" + bytes([len(p)]) + p,
        )
        for n, p in enumerate(pieces)
    ]


def parse_extended_event(d: Descriptor) -> tuple[int, int, str, str]:
    """(descriptor_number, last_descriptor_number, language, text) of an extended event descriptor."""
    data = d.data
    items_len = data[4]
    pos = 5 + items_len
    tlen = data[pos]
    return (
        data[0] >> 4,
        data[0] & 0x0F,
        data[1:4].decode("ascii", errors="replace"),
        decode_text(data[pos + 1 : pos + 1 + tlen]),
    )


def content_descriptor(nibbles: Sequence[int]) -> Descriptor:
    """Content descriptor (0x54): one (level1 << 4 | level2) byte per genre, user byte 0."""
    return Descriptor(TAG_CONTENT, b"".join(bytes([n & 0xFF, 0x00]) for n in nibbles))


def event_descriptors(event: EitEvent) -> list[Descriptor]:
    """The descriptors we send for an event: short event per language, extended text when the
    description does not fit the short one, then the content descriptor."""
    out: list[Descriptor] = []
    for t in event.texts:
        short = short_event_descriptor(t.language, t.title, t.description)
        out.append(short)
        if t.description and parse_short_event(short)[2] != t.description:
            out.extend(extended_event_descriptors(t.language, t.description))
    if event.content:
        out.append(content_descriptor(event.content))
    return out


def encode_event(event: EitEvent, running_status: int) -> bytes:
    """One entry of an EIT event loop."""
    loop = encode_descriptors(event_descriptors(event))
    if len(loop) > 4096 - 14 - 12 - 4:
        raise EitError(f"event {event.title!r}: descriptors of {len(loop)} bytes do not fit one section")
    return (
        bytes([event.event_id >> 8, event.event_id & 0xFF])
        + encode_utc_time(event.start)
        + encode_duration(event.duration)
        + bytes(
            [(running_status << 5) | (0x10 if event.free_ca_mode else 0) | (len(loop) >> 8), len(loop) & 0xFF]
        )
        + loop
    )


def _eit_section(
    table_id: int,
    service: ServiceRef,
    events_bytes: bytes,
    *,
    version_number: int,
    section_number: int,
    last_section_number: int,
    segment_last_section_number: int,
    last_table_id: int,
) -> bytes:
    body = (
        bytes(
            [
                service.transport_stream_id >> 8,
                service.transport_stream_id & 0xFF,
                service.original_network_id >> 8,
                service.original_network_id & 0xFF,
                segment_last_section_number,
                last_table_id,
            ]
        )
        + events_bytes
    )
    return build_long_section(
        table_id,
        service.service_id,
        body,
        version_number=version_number,
        section_number=section_number,
        last_section_number=last_section_number,
        private_indicator=True,
    )


# --------------------------------------------------------------------------- tables


def eit_pf_sections(
    service: ServiceRef,
    present: EitEvent | None,
    following: EitEvent | None,
    *,
    version_number: int = 0,
    actual: bool = True,
) -> list[bytes]:
    """EIT present/following: section 0 holds the running event (or none), section 1 the next."""
    table_id = TID_EIT_PF_ACTUAL if actual else TID_EIT_PF_OTHER
    entries = [
        encode_event(present, RUNNING_RUNNING) if present else b"",
        encode_event(following, RUNNING_NOT_RUNNING) if following else b"",
    ]
    return [
        _eit_section(
            table_id,
            service,
            entry,
            version_number=version_number,
            section_number=n,
            last_section_number=1,
            segment_last_section_number=1,
            last_table_id=table_id,
        )
        for n, entry in enumerate(entries)
    ]


def present_following(events: Sequence[EitEvent], at: datetime) -> tuple[EitEvent | None, EitEvent | None]:
    """The event running at ``at`` (start ≤ at < end) and the next one to start after it."""
    present = None
    following = None
    for event in sorted(events, key=lambda e: e.start):
        if event.start <= at < event.end:
            present = event
        elif event.start > at:
            following = event
            break
    return present, following


def schedule_day0(now: datetime) -> datetime:
    """Midnight UTC of the day containing ``now``: the origin of EIT schedule segments."""
    u = _utc(now)
    return datetime(u.year, u.month, u.day, tzinfo=UTC)


def eit_schedule_sections(
    service: ServiceRef,
    events: Sequence[EitEvent],
    *,
    now: datetime,
    days: int = 7,
    version_number: int = 0,
) -> list[bytes]:
    """EIT schedule actual sections for ``days`` days from midnight UTC of ``now``.

    Events that start before that midnight or after the last day are left out (the
    running one is in EIT p/f). All sub-tables share ``version_number``.
    """
    if not 1 <= days <= 64:
        raise EitError(f"schedule of {days} days: must be 1..64")
    check_no_overlap(events)
    day0 = schedule_day0(now)
    n_segments = days * 8
    by_segment: dict[int, list[EitEvent]] = {}
    for event in events:
        offset = _utc(event.start) - day0
        if offset < timedelta(0):
            continue
        seg = int(offset / SEGMENT)
        if seg >= n_segments:
            continue
        by_segment.setdefault(seg, []).append(event)
    n_tables = (n_segments + SEGMENTS_PER_TABLE - 1) // SEGMENTS_PER_TABLE
    last_table_id = TID_EIT_SCHEDULE_ACTUAL + n_tables - 1
    sections: list[bytes] = []
    for table in range(n_tables):
        table_id = TID_EIT_SCHEDULE_ACTUAL + table
        first_seg = table * SEGMENTS_PER_TABLE
        last_seg = min(n_segments, first_seg + SEGMENTS_PER_TABLE) - 1
        # events of each segment, split into section payloads that fit
        plan: list[tuple[int, list[bytes]]] = []
        for seg in range(first_seg, last_seg + 1):
            payloads = _split_entries(
                [
                    encode_event(e, RUNNING_UNDEFINED)
                    for e in sorted(by_segment.get(seg, []), key=lambda e: e.start)
                ],
                service,
                seg,
            )
            plan.append((seg - first_seg, payloads))
        last_section_number = plan[-1][0] * 8 + len(plan[-1][1]) - 1
        for seg_in_table, payloads in plan:
            seg_last = seg_in_table * 8 + len(payloads) - 1
            for k, payload in enumerate(payloads):
                sections.append(
                    _eit_section(
                        table_id,
                        service,
                        payload,
                        version_number=version_number,
                        section_number=seg_in_table * 8 + k,
                        last_section_number=last_section_number,
                        segment_last_section_number=seg_last,
                        last_table_id=last_table_id,
                    )
                )
    return sections


def _split_entries(entries: list[bytes], service: ServiceRef, seg: int) -> list[bytes]:
    room = MAX_SECTION_BYTES - 14 - 4
    payloads: list[bytes] = [b""]
    for entry in entries:
        if len(payloads[-1]) + len(entry) > room:
            payloads.append(b"")
        payloads[-1] += entry
    if len(payloads) > 8:
        raise EitError(
            f"service {service.service_id}: the events of one 3-hour schedule segment need "
            f"{len(payloads)} sections (at most 8)"
        )
    return payloads


def check_no_overlap(events: Sequence[EitEvent]) -> None:
    """Raise EitError naming the first two events of one service that overlap or share an id."""
    ordered = sorted(events, key=lambda e: e.start)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.start < a.end:
            raise EitError(
                f"events overlap: {a.title!r} ({a.start.isoformat()}–{a.end.isoformat()}) and "
                f"{b.title!r} starting {b.start.isoformat()}"
            )
    ids: dict[int, EitEvent] = {}
    for e in ordered:
        if e.event_id in ids:
            raise EitError(f"events {ids[e.event_id].title!r} and {e.title!r} share event_id {e.event_id}")
        ids[e.event_id] = e


# --------------------------------------------------------------------------- decoding


def _valid_language(code: str) -> str:
    return code if len(code) == 3 and code.isascii() and code.isalpha() else "und"


def decode_event_loop(data: bytes) -> tuple[EitEvent, ...]:
    events: list[EitEvent] = []
    pos = 0
    while pos + 12 <= len(data):
        event_id = (data[pos] << 8) | data[pos + 1]
        start = decode_utc_time(data[pos + 2 : pos + 7])
        duration = decode_duration(data[pos + 7 : pos + 10])
        status_len = (data[pos + 10] << 8) | data[pos + 11]
        loop_len = status_len & 0x0FFF
        descs = parse_descriptors(data[pos + 12 : pos + 12 + loop_len])
        texts: list[EventText] = []
        extended: dict[str, list[tuple[int, str]]] = {}
        content: list[int] = []
        for d in descs:
            if d.tag == TAG_SHORT_EVENT:
                lang, name, text = parse_short_event(d)
                texts.append(EventText(_valid_language(lang), name, text))
            elif d.tag == TAG_EXTENDED_EVENT:
                num, _last, lang, text = parse_extended_event(d)
                extended.setdefault(_valid_language(lang), []).append((num, text))
            elif d.tag == TAG_CONTENT:
                content.extend(d.data[i] for i in range(0, len(d.data) - 1, 2))
        for i, t in enumerate(texts):
            if t.language in extended:
                full = "".join(text for _n, text in sorted(extended[t.language]))
                texts[i] = EventText(t.language, t.title, full)
        events.append(
            EitEvent(
                start=start or datetime(1858, 11, 17, tzinfo=UTC),
                duration=duration,
                texts=tuple(texts),
                content=tuple(content),
                event_id=event_id,
                free_ca_mode=bool(status_len & 0x1000),
                running_status=status_len >> 13,
            )
        )
        pos += 12 + loop_len
    return tuple(events)


def decode_eit(section: Section) -> Eit:
    """Decode an EIT section (p/f or schedule, actual or other)."""
    if not 0x4E <= section.table_id <= 0x6F:
        raise SectionError(f"table id 0x{section.table_id:02X} is not an EIT")
    b = section.body
    if len(b) < 6:
        raise SectionError("EIT section too short")
    return Eit(
        table_id=section.table_id,
        service=ServiceRef(section.table_id_extension, (b[0] << 8) | b[1], (b[2] << 8) | b[3]),
        version_number=section.version_number,
        section_number=section.section_number,
        last_section_number=section.last_section_number,
        segment_last_section_number=b[4],
        last_table_id=b[5],
        events=decode_event_loop(b[6:]),
    )

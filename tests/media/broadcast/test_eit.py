"""EIT sections: descriptors and a p/f section worked out by hand, schedule segmentation,
CRCs by crcmod, round trips through our decoder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import crcmod.predefined
import pytest

from media.broadcast.dvb.eit import (
    CONTENT_EDUCATION,
    EitError,
    EitEvent,
    EventText,
    ServiceRef,
    content_descriptor,
    decode_eit,
    eit_pf_sections,
    eit_schedule_sections,
    event_descriptors,
    event_id_for,
    present_following,
    short_event_descriptor,
)
from media.broadcast.dvb.psi import parse_section

CRC = crcmod.predefined.mkCrcFun("crc-32-mpeg")
ALMATY = ZoneInfo("Asia/Almaty")
SERVICE = ServiceRef(service_id=7, transport_stream_id=3, original_network_id=0x2001)


def test_short_event_descriptor_by_hand() -> None:
    # tag 0x4D, length, ISO 639 "eng", name length 7 "Physics", text length 0
    assert short_event_descriptor("eng", "Physics", "").encode() == bytes.fromhex(
        "4D 0C 656E67 07" + b"Physics".hex() + "00"
    )
    # Kazakh title: UTF-8 behind the 0x15 selector; "kaz" language code
    name = "Физика".encode()
    assert short_event_descriptor("kaz", "Физика", "").encode() == (
        bytes([0x4D, 3 + 1 + 1 + len(name) + 1]) + b"kaz" + bytes([1 + len(name), 0x15]) + name + b"\x00"
    )


def test_content_descriptor_by_hand() -> None:
    # education/science/factual (level 1 = 0x9), level 2 = 0x0, user byte 0
    assert content_descriptor([CONTENT_EDUCATION]).encode() == bytes.fromhex("54 02 90 00")


def test_eit_present_following_section_by_hand() -> None:
    start = datetime(2026, 11, 26, 9, 0, tzinfo=ALMATY)  # 04:00 UTC
    event = EitEvent.simple(start, timedelta(minutes=80), "Physics", "", language="eng", event_id=0x1234)
    expected_body = (
        "4E F0 2D  0007 C1 00 01  0003 2001 01 4E"  # header: service 7, v0, section 0 of 1; tsid, onid, seg last, last tid
        "1234 EFBA 040000 012000 80 12"  # event id, MJD 61370 04:00:00, 01:20:00, running 4, loop 18 bytes
        "4D 0C 656E67 07" + b"Physics".hex() + "00"  # short event descriptor
        "54 02 90 00"  # content descriptor
    )
    data = bytes.fromhex(expected_body.replace(" ", ""))
    expected = data + CRC(data).to_bytes(4, "big")
    sections = eit_pf_sections(SERVICE, event, None)
    assert sections[0] == expected
    assert CRC(sections[1]) == 0 and parse_section(sections[1]).section_number == 1
    back = decode_eit(parse_section(sections[0]))
    assert back.service == SERVICE and back.is_present_following
    assert back.events[0].start == start and back.events[0].duration == timedelta(minutes=80)
    assert back.events[0].title == "Physics" and back.events[0].running_status == 4
    assert back.events[0].content == (0x90,)


def test_multilingual_texts_and_long_descriptions_round_trip() -> None:
    long_text = "Лекция по физике, часть первая. " * 20  # > 250 bytes: goes to extended event descriptors
    event = EitEvent(
        start=datetime(2026, 11, 26, 10, 30, tzinfo=ALMATY),
        duration=timedelta(minutes=45),
        texts=(
            EventText("kaz", "Физика 1-дәріс", "Механика негіздері"),
            EventText("rus", "Физика, лекция 1", long_text),
            EventText("eng", "Physics lecture 1", "Basics of mechanics"),
        ),
        content=(0x90, 0x92),
    )
    tags = [d.tag for d in event_descriptors(event)]
    assert tags.count(0x4D) == 3 and 0x4E in tags and tags[-1] == 0x54
    back = decode_eit(parse_section(eit_pf_sections(SERVICE, event, None)[0])).events[0]
    assert [(t.language, t.title) for t in back.texts] == [(t.language, t.title) for t in event.texts]
    assert back.texts[1].description == long_text
    assert back.texts[0].description == "Механика негіздері"
    assert back.content == (0x90, 0x92) and back.event_id == event.event_id


def _day(n: int, minutes: int = 80) -> list[EitEvent]:
    first = datetime(2026, 11, 26, 9, 0, tzinfo=ALMATY)
    return [
        EitEvent.simple(first + timedelta(minutes=90 * i), timedelta(minutes=minutes), f"Дәріс {i}", "Физика")
        for i in range(n)
    ]


def test_schedule_segments_and_section_numbers() -> None:
    now = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
    events = _day(8) + [EitEvent.simple(now + timedelta(days=5, hours=2), timedelta(hours=1), "Later")]
    sections = eit_schedule_sections(SERVICE, events, now=now, days=7)
    for s in sections:
        assert CRC(s) == 0
    decoded = [decode_eit(parse_section(s)) for s in sections]
    # 7 days = 56 segments: table 0x50 has 32, table 0x51 has 24; one section each here
    assert [d.table_id for d in decoded].count(0x50) == 32 and [d.table_id for d in decoded].count(0x51) == 24
    assert {d.last_table_id for d in decoded} == {0x51}
    for d in decoded:
        assert d.section_number % 8 == 0 and d.segment_last_section_number == d.section_number
    assert {d.last_section_number for d in decoded if d.table_id == 0x50} == {31 * 8}
    assert {d.last_section_number for d in decoded if d.table_id == 0x51} == {23 * 8}
    # every event sits in the 3-hour segment of its start time, from midnight UTC
    day0 = datetime(2026, 11, 26, tzinfo=UTC)
    got = []
    for d in decoded:
        for e in d.events:
            segment = (d.table_id - 0x50) * 32 + d.section_number // 8
            assert day0 + timedelta(hours=3 * segment) <= e.start < day0 + timedelta(hours=3 * segment + 3)
            got.append(e.event_id)
    assert sorted(got) == sorted(e.event_id for e in events)


def test_crowded_segment_spills_into_more_sections() -> None:
    now = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
    long = "x" * 240
    events = [
        EitEvent(now + timedelta(minutes=i), timedelta(minutes=1),
                 tuple(EventText(lang, f"t{i}", long) for lang in ("kaz", "rus", "eng")), event_id=i)
        for i in range(60)
    ]  # fmt: skip
    decoded = [
        decode_eit(parse_section(s)) for s in eit_schedule_sections(SERVICE, events[:20], now=now, days=1)
    ]
    first_segment = [d for d in decoded if d.section_number < 8]
    assert len(first_segment) > 1
    assert {d.segment_last_section_number for d in first_segment} == {len(first_segment) - 1}
    assert sum(len(d.events) for d in first_segment) == 20
    with pytest.raises(EitError, match="at most 8"):
        eit_schedule_sections(SERVICE, events, now=now, days=1)


def test_present_following_and_stable_ids() -> None:
    events = _day(3)
    assert present_following(events, events[1].start + timedelta(minutes=5)) == (events[1], events[2])
    gap = events[0].end + timedelta(minutes=1)
    assert present_following(events, gap) == (None, events[1])
    assert present_following(events, events[2].end) == (None, None)
    assert events[0].event_id == event_id_for(events[0].start) == _day(1)[0].event_id


def test_bad_events_are_refused_with_their_titles() -> None:
    with pytest.raises(EitError, match="no time zone"):
        EitEvent.simple(datetime(2026, 11, 26, 9, 0), timedelta(hours=1), "Naive")
    with pytest.raises(EitError, match="ISO 639"):
        EventText("kk", "Title")
    a, b = _day(2, minutes=120)
    with pytest.raises(EitError, match="overlap.*Дәріс 0.*Дәріс 1"):
        eit_schedule_sections(SERVICE, [a, b], now=a.start)

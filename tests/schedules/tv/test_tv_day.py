"""The channel day: fixed start times, fillers to the millisecond, DST, overlaps, the day file."""

from __future__ import annotations

import json
from datetime import date, time, timedelta
from pathlib import Path

import pytest
import yaml

from orchestrator.cli import main
from schedules.tv.channelfile import channel_config
from schedules.tv.day import (
    Channel,
    Clock,
    Episode,
    Filler,
    FillerPool,
    RepeatRule,
    Series,
    TvScheduleError,
    day_from_dict,
    day_to_json,
    load_day,
    save_day,
)
from schedules.tv.fill import build_day
from tests.helpers.support import REPO

DAY = date(2026, 11, 26)
EXAMPLE = REPO / "examples" / "channel-demo.yaml"


def channel(**kw) -> Channel:  # type: ignore[no-untyped-def]
    base = dict(id="aulacast-1.kz", name="Aulacast 1", slots=(time(9), time(10, 30), time(12)))
    base.update(kw)
    return Channel(**base)  # type: ignore[arg-type]


def ep(n: int, dur: float, day: date = DAY, start: time | None = None) -> Episode:
    return Episode(n, {"en": f"Lecture {n}", "ru": f"Лекция {n}"}, f"/m/l{n}.ts", dur, date=day, start=start)


POOL = FillerPool(
    idents=(Filler("ident", "/m/ident.ts", 10),),
    announcements=(Filler("announcement", "/m/next.ts", 20),),
    loops=(Filler("loop", "/m/loop-a.ts", 300), Filler("loop", "/m/loop-b.ts", 123.4)),
    clock=Clock(5, 60),
)


def starts(day) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {f"{i.kind}:{i.series}:{i.episode}": day.at(i).strftime("%H:%M:%S") for i in day.programmes()}


def test_lectures_land_on_fixed_times_and_fillers_fill_exactly() -> None:
    s = Series("math", {"en": "Mathematics"}, (ep(1, 4000.5), ep(2, 3333.333)), slot=None)
    day = build_day(channel(), DAY, [s], POOL)
    assert starts(day) == {"lecture:math:1": "09:00:00", "lecture:math:2": "10:30:00"}
    # back to back, exactly 24 h, no item longer than its source
    assert day.length_ms == 24 * 3600 * 1000
    cursor = 0
    for item in day.items:
        assert item.offset_ms == cursor and item.duration_ms > 0
        cursor = item.end_ms
        if item.kind == "loop":
            assert item.duration <= (300 if "loop-a" in item.source else 123.4)
    assert cursor == day.length_ms
    kinds = [i.kind for i in day.items]
    # the gap before 09:00 ends with announcement then clock; the clock is at most 60 s there
    k = kinds.index("lecture")
    assert kinds[k - 2 : k] == ["announcement", "clock"] and day.items[k - 1].duration <= 60
    assert any(w.startswith("slot 12:00 has no lecture") for w in day.report.warnings)
    # both loop clips are used in rotation
    assert {i.source for i in day.items if i.kind == "loop"} == {"/m/loop-a.ts", "/m/loop-b.ts"}


def test_a_cut_sliver_is_absorbed_by_the_clock() -> None:
    pool = FillerPool(loops=(Filler("loop", "/m/loop.ts", 100),), clock=Clock(5, 30))
    s = Series("s", {"en": "S"}, (ep(1, 60),))
    day = build_day(channel(slots=(time(0, 2, 11),)), DAY, [s], pool, length=timedelta(minutes=10))
    # 131 s before the lecture: 100 s loop, then 31 s -> 30 s clock + a 1 s sliver given to the clock
    head = [(i.kind, i.duration) for i in day.items[:3]]
    assert head == [("loop", 100.0), ("clock", 31.0), ("lecture", 60.0)]


def test_without_loops_the_clock_takes_any_length_and_without_anything_black_is_reported() -> None:
    s = Series("s", {"en": "S"}, (ep(1, 60),))
    day = build_day(channel(slots=(time(0, 5),)), DAY, [s], FillerPool(clock=Clock(5, 60)), length=timedelta(minutes=10))
    assert [(i.kind, i.duration) for i in day.items] == [("clock", 300.0), ("lecture", 60.0), ("clock", 240.0)]
    bare = build_day(channel(slots=(time(0, 5),)), DAY, [s], FillerPool(), length=timedelta(minutes=10))
    assert [i.kind for i in bare.items] == ["black", "lecture", "black"]
    assert sum("left black" in w for w in bare.report.warnings) == 2


def test_repeats_same_day_and_next_day_carry_first_showing() -> None:
    s = Series("math", {"en": "Mathematics"}, (ep(1, 1800), ep(2, 1800, day=DAY - timedelta(days=1))), slot=time(9))
    rules = [RepeatRule("math", time(21)), RepeatRule("math", time(7), day_offset=1)]
    day = build_day(channel(), DAY, [s], POOL, rules)
    assert starts(day) == {"lecture:math:1": "09:00:00", "repeat:math:1": "21:00:00", "repeat:math:2": "07:00:00"}
    rep = {i.episode: i for i in day.programmes() if i.kind == "repeat"}
    assert rep[1].first_shown.isoformat() == "2026-11-26T09:00:00+05:00"
    assert rep[2].first_shown.isoformat() == "2026-11-25T09:00:00+05:00"


def test_overlap_is_refused_naming_both_or_shifted_and_reported() -> None:
    s = Series("math", {"en": "Mathematics"}, (ep(1, 6000, start=time(9)), ep(2, 1800, start=time(10, 30))))
    with pytest.raises(TvScheduleError, match=r"Mathematics ep\. 2 starts 10:30 but overlaps 'Mathematics' \(09:00–10:40\)"):
        build_day(channel(), DAY, [s], POOL)
    day = build_day(channel(), DAY, [s], POOL, overlap="shift")
    assert starts(day)["lecture:math:2"] == "12:00:00"
    assert any("moved to 12:00" in w for w in day.report.warnings)
    # the same with its code and values, for the engineer's page to word (and through the day file)
    moved = next(n for n in day.report.notes if n.code == "tv_moved")
    assert dict(moved.params) == {"programme": "Mathematics ep. 2", "title": "Mathematics", "episode": "2", "repeat": "",
                                  "start": "10:30", "other": "Mathematics", "other_start": "09:00",
                                  "other_end": "10:40", "moved_to": "12:00"}  # fmt: skip
    assert moved.text in day.report.warnings
    assert day_from_dict(json.loads(day_to_json(day))).report == day.report


def test_programme_past_the_end_of_the_day_is_refused() -> None:
    s = Series("s", {"en": "S"}, (ep(1, 7200, start=time(23)),))
    with pytest.raises(TvScheduleError, match="overlaps the end of the day"):
        build_day(channel(), DAY, [s], POOL)


@pytest.mark.parametrize(("day", "hours"), [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25), (date(2026, 6, 1), 24)])
def test_dst_days_have_their_real_length_and_keep_local_slot_times(day: date, hours: int) -> None:
    ch = channel(tz="Europe/Berlin", slots=(time(1), time(9), time(21)))
    s = Series("s", {"en": "S"}, tuple(ep(n, 1800, day=day, start=t) for n, t in ((1, time(9)), (2, time(21)))))
    d = build_day(ch, day, [s], POOL)
    assert d.length_ms == hours * 3600 * 1000
    assert [d.at(i).strftime("%H:%M") for i in d.programmes()] == ["09:00", "21:00"]
    assert sum(i.duration_ms for i in d.items) == d.length_ms


def test_day_file_round_trips_and_is_one_item_per_line(tmp_path: Path) -> None:
    s = Series("math", {"kk": "Математика", "en": "Mathematics"}, (ep(1, 4000.5),), description={"ru": "Курс"})
    day = build_day(channel(), DAY, [s], POOL, [RepeatRule("math", time(21))])
    path = tmp_path / "day.json"
    save_day(day, path)
    text = path.read_text(encoding="utf-8")
    assert "Математика" in text  # readable, not \u-escaped
    lines = text.splitlines()
    assert sum(1 for line in lines if line.startswith('    {"start": ')) == len(day.items)
    assert '"start": "2026-11-26T10:06:40.500+05:00"' in text  # local time, offset, ms
    back = load_day(path)
    assert back.items == day.items and back.start == day.start and back.report == day.report
    assert day_to_json(back) == text  # stable: a rebuilt file diffs clean
    assert not list(tmp_path.glob(".*part"))


def test_day_file_errors_name_file_and_item(tmp_path: Path) -> None:
    s = Series("math", {"en": "Mathematics"}, (ep(1, 600),))
    day = build_day(channel(), DAY, [s], POOL, length=timedelta(hours=10))
    data = json.loads(day_to_json(day))
    bad = tmp_path / "bad.json"

    def expect(mutate, pattern: str) -> None:  # type: ignore[no-untyped-def]
        d = json.loads(json.dumps(data))
        mutate(d)
        bad.write_text(json.dumps(d), encoding="utf-8")
        with pytest.raises(TvScheduleError, match=pattern):
            load_day(bad)

    expect(lambda d: d["items"][2].update(duration=d["items"][2]["duration"] + 1, out=d["items"][2]["out"] + 1), r"bad\.json: item 3 starts .*overlap")
    expect(lambda d: d["items"][4].update(kind="sitcom"), r"bad\.json: item 4: unknown kind 'sitcom'")
    expect(lambda d: d["items"][1].update(source=None), r"item 1: a \w+ item needs a source file")
    expect(lambda d: d["items"].pop(), r"items end .* but the day ends")
    expect(lambda d: d.update(format="x"), r"not an aulacast day file")
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(TvScheduleError, match=r"bad\.json: not a JSON day file"):
        load_day(bad)


def test_channel_file_errors_name_the_key(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    cfg = channel_config(data, source="demo.yaml", base=tmp_path)
    assert cfg.channel.slots[1] == time(10, 30) and cfg.series[0].episodes[0].duration == 4800
    assert cfg.series[0].episodes[0].media == str(tmp_path / "media/math101-04.ts")
    data["series"][1]["episodes"][0]["duration"] = "an hour"
    with pytest.raises(TvScheduleError, match=r"demo\.yaml: series\[1\]\.episodes\[0\]\.duration: not a duration"):
        channel_config(data, source="demo.yaml")
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["channel"]["tz"] = "Mars/Olympus"
    with pytest.raises(TvScheduleError, match=r"channel\.tz: .*unknown time zone"):
        channel_config(data, source="demo.yaml")
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["repeats"][0]["series"] = "nope"
    with pytest.raises(TvScheduleError, match=r"repeats\[0\]\.series: no series 'nope'"):
        channel_config(data, source="demo.yaml")


def test_cli_build_and_refusal_leave_no_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "day.json"
    assert main(["tv", "schedule", "build", "--channel", str(EXAMPLE), "--date", "2026-11-26", "-o", str(out)]) == 0
    day = load_day(out)
    assert [day.at(i).strftime("%H:%M") for i in day.programmes()] == ["09:00", "10:30", "12:00", "21:00"]
    assert "slot 14:00 has no lecture" in capsys.readouterr().err
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["series"][1]["episodes"][0]["start"] = "09:30"  # inside the 09:00 maths lecture
    clash = tmp_path / "clash.yaml"
    clash.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out2 = tmp_path / "day2.json"
    rc = main(["tv", "schedule", "build", "--channel", str(clash), "--date", "2026-11-26", "-o", str(out2)])
    assert rc == 2 and "overlaps" in capsys.readouterr().err
    assert not out2.exists() and not list(tmp_path.glob(".*part"))

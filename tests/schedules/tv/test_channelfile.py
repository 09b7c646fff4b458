"""The channel file read from disk: every refusal names the file, the line and the key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from orchestrator.cli import main
from schedules.tv.channelfile import ChannelFileError, read_channel_file, read_series_file, with_series
from schedules.tv.day import ChannelService, TvScheduleError, load_day, save_day
from schedules.tv.fill import build_day
from tests.helpers.support import REPO

EXAMPLE = REPO / "examples" / "channel-demo.yaml"


def line_of(text: str, needle: str, nth: int = 1) -> int:
    at = -1
    for _ in range(nth):
        at = text.index(needle, at + 1)
    return text.count("\n", 0, at) + 1


def refused(tmp_path: Path, text: str) -> ChannelFileError:
    path = tmp_path / "channel.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ChannelFileError) as caught:
        read_channel_file(path)
    assert isinstance(caught.value, TvScheduleError)  # callers catching the TV error still do
    return caught.value


def test_the_example_reads_with_media_beside_it() -> None:
    cfg = read_channel_file(EXAMPLE)
    assert cfg.channel.id == "aulacast-1.kz" and [s.id for s in cfg.series] == ["math101", "hist201"]
    assert cfg.series[0].episodes[0].duration == 4800 and cfg.series[0].episodes[0].media == str(
        EXAMPLE.parent.resolve() / "media/math101-04.ts"
    )


@pytest.mark.parametrize(
    ("old", "new", "nth", "key", "message"),
    [
        ("duration: 3600", "duration: an hour", 1, "series[1].episodes[0].duration", "not a duration: 'an hour'"),
        ("tz: Asia/Almaty", "tz: Mars/Olympus", 1, "channel.tz", "unknown time zone 'Mars/Olympus'"),
        ('start: "10:30"', 'start: "25:30"', 1, "series[1].episodes[0].start", "25:30 is not a time of day"),
        ("date: 2026-11-27", "date: 2026-11-31", 1, "series[0].episodes[1].date", "2026-11-31 is not a date"),
        ("season: 1", "season: first", 1, "series[0].season", "must be an integer, not str 'first'"),
        ("duration: 10,", "duration: -10,", 1, "fillers.idents[0].duration", "must not be negative"),
        ("    id: 103 ", "    id: 70000 ", 1, "channel.service.id", "outside 1..65535"),
        ("original_network_id: 0xFF10", "original_network_id: lots", 1, "channel.service.original_network_id",
         "must be an integer"),
        ("    name: Aulacast 1 ", "    name: " + "Аулакаст " * 12, 1, "channel.service.name", "100"),
        ("    provider: Aulacast ", "    provder: Aulacast ", 1, "channel.service.provder", "unknown key"),
    ],
)
def test_bad_values_name_their_line(tmp_path: Path, old: str, new: str, nth: int, key: str, message: str) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text
    err = refused(tmp_path, text.replace(old, new, 1))
    assert (err.key, err.line) == (key, line_of(text, old, nth)), str(err)
    assert str(err).startswith(f"{tmp_path / 'channel.yaml'}:{err.line}: {key}: ") and message in str(err)


def test_the_channel_owns_its_service_and_the_day_file_carries_it(tmp_path: Path) -> None:
    cfg = read_channel_file(EXAMPLE)
    assert cfg.channel.service == ChannelService(103, "Aulacast 1", "Aulacast", 0xFF10, 1)
    day = build_day(cfg.channel, date(2026, 11, 26), cfg.series, cfg.fillers, cfg.repeats)
    save_day(day, tmp_path / "day.json")
    assert load_day(tmp_path / "day.json").channel.service == cfg.channel.service
    # without a service block: the channel's name, service 1 in the private network range
    text = EXAMPLE.read_text(encoding="utf-8")
    start, end = text.index("  service:"), text.index("\nseries:")
    (tmp_path / "plain.yaml").write_text(text[:start] + text[end:], encoding="utf-8")
    plain = read_channel_file(tmp_path / "plain.yaml").channel
    assert plain.service == ChannelService(1, "Aulacast 1", "Aulacast 1", 0xFF01, 1)


def test_repeat_of_an_unknown_series_and_a_duplicate_key(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    err = refused(tmp_path, text.replace("- {series: math101", "- {series: nope", 1))
    assert err.key == "repeats[0].series" and err.line == line_of(text, "- {series: math101")
    err = refused(tmp_path, text.replace("  tz: Asia/Almaty", "  tz: Asia/Almaty\n  tz: UTC", 1))
    tz = line_of(text, "  tz: Asia/Almaty")
    assert str(err).endswith(f"channel.tz: duplicate key (first given on line {tz})") and err.line == tz + 1


def test_aliases_are_refused_in_channel_files(tmp_path: Path) -> None:
    err = refused(tmp_path, "channel: &c {id: a, name: b}\nseries: [*c]\n")
    assert err.line == 1 and "aliases and anchors" in str(err)


def test_cli_prints_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    bad = tmp_path / "channel.yaml"
    bad.write_text(text.replace("duration: 3600", "duration: an hour", 1), encoding="utf-8")
    out = tmp_path / "day.json"
    assert main(["tv", "schedule", "build", "--channel", str(bad), "--date", "2026-11-26", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:{line_of(text, 'duration: 3600')}: series[1].episodes[0].duration: not a duration" in err
    assert not out.exists()


def test_a_series_file_fills_the_channel_files_series_of_the_same_offering(tmp_path: Path) -> None:
    cfg = read_channel_file(EXAMPLE)
    (tmp_path / "archive-series.yaml").write_text(
        "series:\n"
        "  - {id: off-2026-math101-tv, offering: OFF-2026-MATH101-TV, title: {en: Maths},\n"
        "     episodes: [{number: 9, title: {en: Integrals}, media: m9.ts, duration: 60, date: 2026-11-28}]}\n"
        "  - {id: new, offering: NEW-TV, title: {en: New}, episodes: []}\n", encoding="utf-8")
    merged = with_series(cfg, read_series_file(tmp_path / "archive-series.yaml"))
    math = next(s for s in merged.series if s.id == "math101")
    assert math.title == cfg.series[0].title and math.slot == cfg.series[0].slot  # the channel file's stay
    assert [e.number for e in math.episodes] == [*(e.number for e in cfg.series[0].episodes), 9]
    assert math.episodes[-1].media == str(tmp_path / "m9.ts")
    assert [s.id for s in merged.series] == [*(s.id for s in cfg.series), "new"]
    clash = tmp_path / "clash.yaml"
    clash.write_text("series:\n  - {id: x, offering: OFF-2026-MATH101-TV, title: {en: M},\n"
                     "     episodes: [{number: 4, title: {en: L}, media: m.ts, duration: 60}]}\n", encoding="utf-8")
    with pytest.raises(TvScheduleError, match=r"clash.yaml: series x: episode\(s\) 4 are also in the channel file's"):
        with_series(cfg, read_series_file(clash), source=str(clash))
    (tmp_path / "bad.yaml").write_text("series: []\nchannel: {}\n", encoding="utf-8")
    with pytest.raises(ChannelFileError, match="channel: unknown key"):
        read_series_file(tmp_path / "bad.yaml")

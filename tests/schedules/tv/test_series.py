"""Series from the calendar's TV offerings, from plain records."""

from __future__ import annotations

from datetime import date, time

import pytest

from schedules.tv.day import Channel, Clock, FillerPool, TvScheduleError
from schedules.tv.fill import build_day
from schedules.tv.series import TvLecture, TvOffering, series_from_offerings


def test_tv_offerings_become_series_and_unrecorded_lectures_are_reported() -> None:
    skipped: list[str] = []
    series = series_from_offerings([
        TvOffering("OFF/MATH 101", {"ru": "Высшая математика", "en": "Higher Mathematics"},
                   date(2026, 9, 1), date(2026, 12, 25), slot=time(9), lectures=[
                       TvLecture(2, date(2026, 11, 27), {"en": "Derivative"}, "/m/2.ts", 4800),
                       TvLecture(1, date(2026, 11, 26), {"en": "Limits"}, "/m/1.ts", 4800),
                       TvLecture(3, date(2026, 11, 28), {"en": "Integrals"}),
                   ]),
        {"id": "OFF-NET", "title": "Networked", "period_start": "2026-09-01", "period_end": "2026-12-25",
         "technology": "network"},
        {"id": "OFF-HIST", "discipline": {"kk": "Тарих"}, "period_start": "2026-09-01", "period_end": "2026-12-25",
         "technology": "Technology.TV",
         "lectures": [{"number": 1, "date": "2026-11-26", "start": "10:30", "media": "/m/h1.ts", "duration": 3600}]},
    ], skipped)
    assert [s.id for s in series] == ["off-math-101", "off-hist"]
    assert [e.number for e in series[0].episodes] == [1, 2] and series[0].offering_id == "OFF/MATH 101"
    assert skipped == ["offering OFF/MATH 101: lecture 3 (2026-11-28) has no packaged media yet"]
    day = build_day(Channel("c", "C", slots=(time(9), time(10, 30))), date(2026, 11, 26), series, FillerPool(clock=Clock()))
    assert [day.at(i).strftime("%H:%M") for i in day.programmes()] == ["09:00", "10:30"]


def test_lecture_outside_its_period_is_named() -> None:
    with pytest.raises(TvScheduleError, match=r"offering X: lecture 4 on 2027-02-01 is outside the period"):
        series_from_offerings([TvOffering("X", {"en": "X"}, date(2026, 9, 1), date(2026, 12, 25),
                                          lectures=[TvLecture(4, date(2027, 2, 1), media="/m.ts", duration=60)])])

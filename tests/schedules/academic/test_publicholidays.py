"""A country's public holidays from the pinned `holidays` library: five- and six-day weeks, decree
transfers, estimated lunar dates, names by language, unknown codes, and the library internals we rely on."""

from __future__ import annotations

import inspect
from datetime import date

import holidays
import pytest
from holidays.holiday_base import HolidayBase
from holidays.observed_holiday_base import SAT_SUN_TO_NEXT_WORKDAY, ObservedHolidayBase

from schedules.academic.publicholidays import (
    DECREE,
    HOLIDAY,
    MOVED,
    UnknownCountry,
    UnknownSubdivision,
    countries,
    country_year,
)

FIVE = frozenset(range(5))  # mon-fri
SIX = frozenset(range(6))  # mon-sat
YEAR_2026 = (date(2026, 9, 1), date(2027, 8, 31))


def days_off(country: str, week: frozenset[int], start: date, end: date, **kw) -> dict[date, str]:
    year = country_year(country, kw.pop("subdivision", None), start, end, teaching_weekdays=week, **kw)
    return {d.day: d.kind for d in year.days}


def test_guard_the_library_internals_we_rely_on() -> None:
    """Fails on an upgrade that moves what schedules/academic/publicholidays.py reaches into; re-check it then."""
    assert holidays.__version__ == "0.108"
    kz = holidays.country_holidays("KZ", years=())
    # The rule the library applies for Kazakhstan (holidays/countries/kazakhstan.py): a holiday on Saturday or
    # Sunday gives the next working day off (not a holiday, not Sat/Sun), since 2002; Orthodox Christmas and
    # Kurban Ait are not in its set of moved holidays. That is the five-day week's rule.
    assert kz._observed_rule == SAT_SUN_TO_NEXT_WORKDAY
    assert kz._observed_since == 2002
    assert kz.weekend == {5, 6}
    assert list(inspect.signature(HolidayBase._get_weekend).parameters) == ["self", "dt"]
    assert list(inspect.signature(ObservedHolidayBase._get_observed_date).parameters) == [
        "self",
        "dt",
        "rule",
    ]
    assert kz.substituted_label and kz.substituted_date_format and kz.estimated_label


def test_kazakhstan_2026_27_five_and_six_day_weeks() -> None:
    five = days_off("KZ", FIVE, *YEAR_2026)
    six = days_off("KZ", SIX, *YEAR_2026)
    # Constitution Day is 15 March from 2027; 30 August no longer.
    assert five[date(2027, 3, 15)] == six[date(2027, 3, 15)] == HOLIDAY
    assert date(2027, 8, 30) not in five and date(2027, 8, 30) not in six
    # Sunday holidays move to the next working day for both weeks.
    for sunday, moved in [
        (date(2026, 10, 25), date(2026, 10, 26)),  # Republic Day
        (date(2027, 3, 21), date(2027, 3, 24)),  # Nauryz 21-23 March: the Sunday's day off is Wednesday
        (date(2027, 5, 9), date(2027, 5, 10)),  # Victory Day
    ]:
        assert five[sunday] == six[sunday] == HOLIDAY
        assert five[moved] == six[moved] == MOVED
    # Saturday holidays move only for the five-day week: Saturday is a working day of a six-day week.
    for saturday, moved in [(date(2027, 5, 1), date(2027, 5, 3)), (date(2027, 1, 2), date(2027, 1, 4))]:
        assert five[saturday] == six[saturday] == HOLIDAY
        assert five[moved] == MOVED
        assert moved not in six
    assert set(five) - set(six) == {date(2027, 5, 3), date(2027, 1, 4)}
    # Kurban Ait does not move even on a Sunday.
    assert date(2027, 5, 17) not in five


def test_other_years_follow_the_same_rules() -> None:
    # 2021: 1 May Saturday -> Monday 3 May (five-day week only); 9 May Sunday -> 10 May (both).
    five = days_off("KZ", FIVE, date(2021, 1, 1), date(2021, 12, 31))
    six = days_off("KZ", SIX, date(2021, 1, 1), date(2021, 12, 31))
    assert five[date(2021, 5, 3)] == MOVED and date(2021, 5, 3) not in six
    assert five[date(2021, 5, 10)] == six[date(2021, 5, 10)] == MOVED
    # 2026: 8 March Sunday -> Monday 9 March; Nauryz Sat 21 - Mon 23: the five-day week gets Tue 24 and Wed 25
    # off (one for the Saturday, one for the Sunday), the six-day week only Tue 24 (for the Sunday).
    five = days_off("KZ", FIVE, date(2026, 1, 1), date(2026, 12, 31))
    six = days_off("KZ", SIX, date(2026, 1, 1), date(2026, 12, 31))
    assert five[date(2026, 3, 9)] == six[date(2026, 3, 9)] == MOVED
    assert five[date(2026, 3, 24)] == five[date(2026, 3, 25)] == MOVED
    assert six[date(2026, 3, 24)] == MOVED and date(2026, 3, 25) not in six


def test_decree_transfers_of_the_library_follow_the_week() -> None:
    """Kazakhstan 2021: Saturday 3 July worked, Monday 5 July off; 2020: Sunday 20 December worked, Friday 18 off."""
    start, end = date(2020, 9, 1), date(2021, 8, 31)
    five = country_year("KZ", None, start, end, teaching_weekdays=FIVE, languages=("en",))
    off = {d.day: d for d in five.days}
    assert off[date(2021, 7, 5)].kind == DECREE and off[date(2021, 7, 5)].work_day == date(2021, 7, 3)
    assert [(w.day, w.off) for w in five.work_days] == [
        (date(2020, 12, 20), date(2020, 12, 18)),
        (date(2021, 7, 3), date(2021, 7, 5)),
    ]
    assert five.not_applied == ()
    # A six-day week already works on Saturday 3 July: that transfer is not for it; the Sunday one is.
    six = country_year("KZ", None, start, end, teaching_weekdays=SIX, languages=("en",))
    assert date(2021, 7, 5) not in {d.day for d in six.days}
    assert [(w.day, w.off) for w in six.work_days] == [(date(2020, 12, 20), date(2020, 12, 18))]
    assert six.not_applied == (
        "Mon 2021-07-05 off / Sat 2021-07-03 worked: Sat is already a teaching day here",
    )


def test_estimated_lunar_dates_are_marked() -> None:
    year = country_year("KZ", None, *YEAR_2026, teaching_weekdays=FIVE, languages=("en",))
    estimated = [(d.day, d.name) for d in year.days if d.estimated]
    assert estimated == [(date(2027, 5, 16), "Eid al-Adha")]  # the "(estimated)" label is ours to show
    past = country_year("KZ", None, date(2021, 1, 1), date(2021, 12, 31), teaching_weekdays=FIVE)
    assert not any(d.estimated for d in past.days)  # the library has confirmed dates up to 2025


def test_names_in_the_calendars_languages_where_the_library_has_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "de_DE.UTF-8")  # the machine's locale never picks the names
    monkeypatch.setenv("LANGUAGE", "de")
    year = country_year("KZ", None, *YEAR_2026, teaching_weekdays=FIVE, languages=("ru", "en", "kk"))
    assert year.languages == ("en", "kk")  # no Russian names in the library for KZ
    nauryz = next(d for d in year.days if d.day == date(2027, 3, 22))
    assert nauryz.names == (("en", "Nowruz Holiday"), ("kk", "Наурыз мейрамы"))
    assert nauryz.name == "Nowruz Holiday"
    default = country_year("KZ", None, *YEAR_2026, teaching_weekdays=FIVE, languages=("ru",))
    assert default.languages == ()
    assert next(d for d in default.days if d.day == date(2027, 3, 22)).names == (("kk", "Наурыз мейрамы"),)


def test_subdivision_and_another_country() -> None:
    bavaria = days_off("DE", FIVE, date(2027, 1, 1), date(2027, 12, 31), subdivision="BY", languages=("de",))
    germany = days_off("DE", FIVE, date(2027, 1, 1), date(2027, 12, 31), languages=("de",))
    assert date(2027, 1, 6) in bavaria and date(2027, 1, 6) not in germany  # Heilige Drei Könige
    assert country_year("kaz", None, *YEAR_2026, teaching_weekdays=FIVE).country == "KZ"  # alpha-3, any case


def test_unknown_country_and_subdivision_say_how_to_find_the_codes() -> None:
    with pytest.raises(UnknownCountry) as info:
        country_year("Kazakhstan", None, *YEAR_2026, teaching_weekdays=FIVE)
    assert str(info.value) == (
        "Kazakhstan is not a country known to holidays 0.108; did you mean KZ (Kazakhstan)? "
        "(codes are ISO 3166-1, e.g. KZ; `aulacast calendar countries` lists them all)"
    )
    with pytest.raises(UnknownCountry, match=r"^QQ is not a country known to holidays 0\.108 \(codes"):
        country_year("QQ", None, *YEAR_2026, teaching_weekdays=FIVE)
    with pytest.raises(UnknownSubdivision) as info:
        country_year("KZ", "ALA", *YEAR_2026, teaching_weekdays=FIVE)
    assert str(info.value) == (
        "ALA is not a subdivision of KZ (KZ has none in holidays 0.108; "
        "`aulacast calendar countries KZ` lists them)"
    )
    with pytest.raises(UnknownSubdivision, match=r"^XY is not a subdivision of DE \(DE has: BB, BE, BW, BY,"):
        country_year("DE", "XY", *YEAR_2026, teaching_weekdays=FIVE)


def test_countries_lists_codes_names_subdivisions_and_languages() -> None:
    by_code = {c.code: c for c in countries()}
    assert len(by_code) > 200
    kz = by_code["KZ"]
    assert (kz.name, kz.subdivisions, kz.default_language) == ("Kazakhstan", (), "kk")
    assert "kk" in kz.languages and "en_US" in kz.languages
    assert "BY" in by_code["DE"].subdivisions

"""XMLTV export: valid against the project's DTD (checked by the XMLTV project's own validator), read back equal."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date, time
from pathlib import Path

import pytest

from schedules.tv.day import Channel, Clock, Episode, FillerPool, RepeatRule, Series
from schedules.tv.fill import build_day
from schedules.tv.xmltv import programmes, read_xmltv, to_xmltv, write_xmltv, xmltv_ns
from tests.helpers.support import TEST_DATA

# The XMLTV project's current DTD (a copy of shared/data/xmltv.dtd), so the check needs nothing outside the repo.
DTD = TEST_DATA / "xmltv.dtd"

CH = Channel(
    "aulacast-1.kz", "Aulacast 1", slots=(time(9), time(10, 30)),
    display_names={"kk": "Аулакаст 1", "ru": "Аулакаст 1", "en": "Aulacast 1"},
)
MATH = Series(
    "math", {"kk": "Жоғары математика", "ru": "Высшая математика", "en": "Higher Mathematics"},
    tuple(
        Episode(n, {"ru": f"Лекция {n}", "en": f"Lecture {n} & <notes>"}, f"/m/{n}.ts", 4000.5,
                description={"en": "Limits, series"}, date=date(2026, 11, 26 if n == 1 else 27))
        for n in (1, 2, 3)
    ),
    season=2, slot=time(9),
)


def days():  # type: ignore[no-untyped-def]
    pool = FillerPool(clock=Clock())
    rules = [RepeatRule("math", time(21)), RepeatRule("math", time(7), day_offset=1)]
    return [build_day(CH, date(2026, 11, 26), [MATH], pool, rules), build_day(CH, date(2026, 11, 27), [MATH], pool, rules)]


def test_element_order_and_content() -> None:
    xml = to_xmltv(days()).decode()
    assert '<!DOCTYPE tv SYSTEM "xmltv.dtd">' in xml
    first = xml[xml.index("<programme"): xml.index("</programme>")]
    tags = [line.strip()[1:].split(">")[0].split()[0] for line in first.splitlines()[1:] if line.strip()]
    assert tags == ["title", "title", "title", "sub-title", "sub-title", "desc", "category", "episode-num"]
    assert 'start="20261126090000 +0500" stop="20261126100641 +0500" channel="aulacast-1.kz"' in first
    assert '<title lang="kk">Жоғары математика</title>' in first
    assert '<episode-num system="xmltv_ns">1.0.</episode-num>' in first
    assert "Lecture 1 &amp; &lt;notes&gt;" in first
    assert '<previously-shown start="20261126090000 +0500" />' in xml
    assert xmltv_ns(1, 5) == "0.4."


def test_parses_back_equal_to_the_days() -> None:
    ds = days()
    back = read_xmltv(to_xmltv(ds))
    assert back == programmes(ds)
    # day 1: lecture 1, its repeat; day 2: yesterday's repeat, lectures 2 and 3, their repeats back to back
    assert [p.start.strftime("%d %H:%M:%S") for p in back] == [
        "26 09:00:00", "26 21:00:00", "27 07:00:00", "27 09:00:00", "27 10:30:00", "27 21:00:00", "27 22:06:41"]
    assert all(a.stop <= b.start for a, b in zip(back, back[1:], strict=False))


@pytest.mark.skipif(shutil.which("tv_validate_file") is None, reason="tv_validate_file not installed (Debian xmltv-util)")
def test_tv_validate_file_accepts_it_and_rejects_a_broken_one(tmp_path: Path) -> None:
    sup = tmp_path / "supplement"
    sup.mkdir()
    shutil.copy(DTD, sup / "xmltv.dtd")
    env = {**os.environ, "XMLTV_SUPPLEMENT": str(sup)}
    good = tmp_path / "guide.xml"
    write_xmltv(days(), good)
    res = subprocess.run(["tv_validate_file", str(good)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert res.returncode == 0 and "Validated ok" in res.stdout + res.stderr, res.stdout + res.stderr
    # the validator really checks: category before desc breaks the DTD's order
    text = good.read_text(encoding="utf-8")
    bad = tmp_path / "bad.xml"
    bad.write_text(text.replace('<category lang="en">Education</category>', "", 1).replace(
        "<desc ", '<category lang="en">Education</category><desc ', 1), encoding="utf-8")
    res = subprocess.run(["tv_validate_file", str(bad)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert res.returncode != 0, res.stdout + res.stderr

"""XMLTV export of channel days, and a reader to check what was written.

    write_xmltv([day], "guide.xml")                 # valid against xmltv.dtd
    programmes = read_xmltv(Path("guide.xml").read_bytes())

Element order follows the DTD's content model for <programme> exactly:
title+, sub-title*, desc*, ..., category*, ..., episode-num*, ..., previously-shown?.
Times are local with their UTC offset ("20261126090000 +0500"), to the second.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fileio import write_bytes_atomic
from schedules.tv.day import Day, Item, TvScheduleError, programme_window

XMLTV_TIME = "%Y%m%d%H%M%S %z"
GENERATOR = "aulacast"


@dataclass(frozen=True)
class XmltvProgramme:
    """One <programme> as data: what a guide shows, in a form both sides can compare."""

    channel: str
    start: datetime
    stop: datetime
    titles: Mapping[str, str]
    sub_titles: Mapping[str, str] = field(default_factory=dict)
    descs: Mapping[str, str] = field(default_factory=dict)
    categories: tuple[str, ...] = ()
    episode_num: str | None = None
    previously_shown: datetime | None = None
    repeat: bool = False


def xmltv_ns(season: int | None, episode: int | None) -> str:
    """The xmltv_ns number: zero-based season.episode.part; ours count from 1, so subtract one."""
    s = "" if season is None else str(season - 1)
    e = "" if episode is None else str(episode - 1)
    return f"{s}.{e}."


def programme_of(day: Day, item: Item) -> XmltvProgramme:
    start, stop = programme_window(day, item)
    langs = _order(day.channel.languages)
    return XmltvProgramme(
        channel=day.channel.id,
        start=start,
        stop=stop,
        titles=_pick(item.title, langs),
        sub_titles=_pick(item.episode_title, langs),
        descs=_pick(item.description, langs),
        categories=(item.category,) if item.category else (),
        episode_num=xmltv_ns(item.season, item.episode) if item.episode is not None else None,
        previously_shown=item.first_shown.replace(microsecond=0) if item.first_shown else None,
        repeat=item.kind == "repeat",
    )


def programmes(days: Sequence[Day]) -> list[XmltvProgramme]:
    return [programme_of(day, item) for day in days for item in day.programmes()]


def xmltv_element(days: Sequence[Day]) -> ET.Element:
    """The <tv> element for ``days``: channels sorted by id, then programmes in time order."""
    tv = ET.Element("tv", {"generator-info-name": GENERATOR})
    channels = {d.channel.id: d.channel for d in days}
    for cid in sorted(channels):
        ch = channels[cid]
        el = ET.SubElement(tv, "channel", {"id": cid})
        names = dict(ch.display_names) or {}
        for lang in _order(ch.languages):
            if names.get(lang):
                ET.SubElement(el, "display-name", {"lang": lang}).text = names[lang]
        for lang, name in names.items():
            if lang not in ch.languages:
                ET.SubElement(el, "display-name", {"lang": lang}).text = name
        if not names:
            ET.SubElement(el, "display-name").text = ch.name
        if ch.dvb_service.name not in (set(names.values()) or {ch.name}):
            # what receivers list (the SDT's service name) is a name of this channel in the guide too
            ET.SubElement(el, "display-name").text = ch.dvb_service.name
    progs = sorted(programmes(days), key=lambda p: (p.channel, p.start))
    for p in progs:
        el = ET.SubElement(
            tv, "programme",
            {"start": p.start.strftime(XMLTV_TIME), "stop": p.stop.strftime(XMLTV_TIME), "channel": p.channel},
        )
        if not p.titles:
            raise TvScheduleError(f"programme at {p.start.isoformat()} on {p.channel} has no title")
        for tag, texts in (("title", p.titles), ("sub-title", p.sub_titles), ("desc", p.descs)):
            for lang, text in texts.items():
                ET.SubElement(el, tag, {"lang": lang}).text = text
        for cat in p.categories:
            ET.SubElement(el, "category", {"lang": "en"}).text = cat
        if p.episode_num is not None:
            ET.SubElement(el, "episode-num", {"system": "xmltv_ns"}).text = p.episode_num
        if p.repeat:
            attrs = {"start": p.previously_shown.strftime(XMLTV_TIME)} if p.previously_shown else {}
            ET.SubElement(el, "previously-shown", attrs)
    return tv


def to_xmltv(days: Sequence[Day]) -> bytes:
    """The XMLTV document as UTF-8 bytes, one element per line, with the DOCTYPE."""
    tv = xmltv_element(days)
    ET.indent(tv, space="  ")
    body = ET.tostring(tv, encoding="unicode")
    head = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE tv SYSTEM "xmltv.dtd">\n'
    return (head + body + "\n").encode("utf-8")


def write_xmltv(days: Sequence[Day], path: str | os.PathLike[str]) -> None:
    write_bytes_atomic(Path(path), to_xmltv(days))


def read_xmltv(data: bytes) -> list[XmltvProgramme]:
    """Parse the programmes back (our own output or any XMLTV file using lang attributes)."""
    root = ET.fromstring(data)
    out: list[XmltvProgramme] = []
    for el in root.iter("programme"):
        ps = el.find("previously-shown")
        ps_start = ps.get("start") if ps is not None else None
        num = el.find("episode-num[@system='xmltv_ns']")
        out.append(
            XmltvProgramme(
                channel=el.get("channel", ""),
                start=datetime.strptime(el.get("start", ""), XMLTV_TIME),
                stop=datetime.strptime(el.get("stop", ""), XMLTV_TIME),
                titles=_texts(el, "title"),
                sub_titles=_texts(el, "sub-title"),
                descs=_texts(el, "desc"),
                categories=tuple(c.text or "" for c in el.findall("category")),
                episode_num=num.text if num is not None else None,
                previously_shown=datetime.strptime(ps_start, XMLTV_TIME) if ps_start else None,
                repeat=ps is not None,
            )
        )
    return out


def _texts(el: ET.Element, tag: str) -> dict[str, str]:
    return {c.get("lang", ""): c.text or "" for c in el.findall(tag)}


def _order(languages: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(languages))


def _pick(text: Mapping[str, str], langs: Sequence[str]) -> dict[str, str]:
    """Texts in the channel's language order first, then any other language given."""
    out = {lang: text[lang] for lang in langs if text.get(lang)}
    out.update({k: v for k, v in text.items() if v and k not in out})
    return out

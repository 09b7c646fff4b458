"""``aulacast tv playout``: a channel day file to one continuous CBR TS; send it, cut HLS, log what aired.

    aulacast tv playout day.json -o day.ts --profile hd-720p25
    aulacast tv playout day.json -o day.ts --profile hd-720p25 --udp udp://127.0.0.1:5000 --as-run asrun.jsonl
    aulacast tv playout day.json -o day.ts --profile hd-720p25 --hls var/hls/aulacast-1

Each distinct clip is normalised once (cached by content hash under --cache), the
day is spliced without re-encoding, and EIT present/following (switching at each
programme change) + 7-day schedule, TDT and TOT are put into the null packets.
The EIT events are the day's programmes, exactly as the XMLTV export lists them.
The service in SDT and EIT (name, provider, service id, network and TS ids) is
the channel's, from the day file (its channel file's ``channel.service``); the
profile gives only the encoding.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from media.broadcast.dvb.eit import CONTENT_EDUCATION, EitEvent, EventText, event_id_for
from media.broadcast.inject import SiConfig
from media.broadcast.playout import PlayoutItem, PlayoutReport, assemble_day, hls_from_ts, send_realtime
from media.errors import MediaError
from media.transcode.profiles import Profile, load_profile
from media.transcode.service import Service
from orchestrator.channel.playout_state import PlayoutState, write_state
from orchestrator.config import load_settings
from orchestrator.errors import UserError
from orchestrator.ffmpeg_binary import ffmpeg_from_settings
from schedules.errors import ScheduleError
from schedules.tv.day import ISO639_2, Channel, Day, Item, load_day, programme_window
from schedules.tv.playlist import AsRunLog, AsRunRecord

CONTENT = {"education": CONTENT_EDUCATION, "science": 0x92, "languages": 0x97, "further education": 0x96,
           "news": 0x20, "arts": 0x70, "children": 0x50}
"""XMLTV category (lower case) -> EN 300 468 content nibbles; anything else is education (0x90)."""


def register(tv_sub: argparse._SubParsersAction) -> None:
    p = tv_sub.add_parser("playout", help="assemble a day file into one CBR TS with EPG; send over UDP/SRT, cut HLS")
    p.add_argument("day", type=Path, help="day file written by 'tv schedule build'")
    p.add_argument("-o", "--output", required=True, type=Path, help="transport stream to write (.ts)")
    p.add_argument("--profile", required=True, help="broadcast profile name or .toml file")
    p.add_argument("--profiles-dir", action="append", default=[], type=Path, metavar="DIR",
                   help="directory of operator profiles; repeatable")
    p.add_argument("--cache", type=Path, metavar="DIR",
                   help="where normalised clips are kept (default: .playout-cache beside the output)")
    p.add_argument("--no-epg", action="store_true", help="leave out EIT/TDT/TOT")
    p.add_argument("--udp", metavar="URL", help="then send in real time: udp://HOST:PORT (or srt://... if ffmpeg has srt)")
    p.add_argument("--now", action="store_true",
                   help="send from the day's first item at once (a rehearsal: TDT/EIT still carry the "
                        "schedule's times); by default sending waits for the day's start, or joins the day "
                        "where the clock says it is")
    p.add_argument("--hls", type=Path, metavar="DIR", help="also cut the day into HLS (no re-encode) in DIR")
    p.add_argument("--as-run", type=Path, metavar="LOG",
                   help="append what aired (JSON lines) to LOG (default when sending: the tv.as_run_log setting, if set)")
    p.add_argument("--state", type=Path, metavar="FILE",
                   help="while sending, keep what is on air and what comes next in FILE, for the engineer's page and "
                        "'tv status' (default: the tv.playout_state setting, if set)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def eit_events(day: Day) -> list[EitEvent]:
    """The day's programmes as EIT events: same start/stop (whole seconds) and texts as the XMLTV export.

    Per language of the channel: event name = XMLTV title, text = sub-title (episode title),
    followed by " — " and the description when there is one. Event ids come from the start
    minute (stable across re-injection); programmes closer than a minute get ids in sequence.
    """
    events: list[EitEvent] = []
    used: set[int] = set()
    for item in day.programmes():
        start, stop = programme_window(day, item)
        texts = tuple(
            EventText(ISO639_2.get(lang, lang), item.title[lang], event_text(item, lang))
            for lang in _langs(day, item) if item.title.get(lang)
        )
        eid = event_id_for(start)
        while eid in used:
            eid = (eid + 1) & 0xFFFF
        used.add(eid)
        content = (CONTENT.get((item.category or "").lower(), CONTENT_EDUCATION),)
        events.append(EitEvent(start.astimezone(UTC), stop - start, texts, content, eid))
    return events


def event_text(item: Item, lang: str) -> str:
    sub = item.episode_title.get(lang, "")
    desc = item.description.get(lang, "")
    return f"{sub} — {desc}" if sub and desc else sub or desc


def _langs(day: Day, item: Item) -> list[str]:
    order = list(dict.fromkeys(day.channel.languages))
    return order + [lang for lang in item.title if lang not in order]


def playout_items(day: Day) -> list[PlayoutItem]:
    out = []
    for item in day.items:
        title = next((item.title[lang] for lang in _langs(day, item) if item.title.get(lang)), item.kind)
        if item.episode is not None:
            title = f"{title} ep. {item.episode}"
        out.append(PlayoutItem(
            source=Path(item.source) if item.source else None, duration=item.duration, media_in=item.media_in,
            title=title, generator=None if item.source else item.kind, offset=item.offset_ms / 1000,
        ))
    return out


def channel_service(channel: Channel) -> Service:
    """The channel's DVB service as the packager and the SI injector take it."""
    s = channel.dvb_service
    return Service(s.name, s.provider, service_id=s.id, original_network_id=s.original_network_id,
                   transport_stream_id=s.transport_stream_id)


def channel_profile(day: Day, profile: Profile) -> Profile:
    """``profile``'s encoding carrying the day's channel's service."""
    return profile.for_service(channel_service(day.channel))


def si_config(day: Day, profile: Profile) -> SiConfig:
    s = profile.service
    return SiConfig(
        start_utc=day.start.astimezone(UTC), service_id=s.service_id, transport_stream_id=s.transport_stream_id,
        original_network_id=s.original_network_id, time_zone=day.channel.tz, country_code=day.channel.country,
    )


def run(args: argparse.Namespace) -> int:
    try:
        day = load_day(args.day)
    except ScheduleError as exc:
        raise UserError(str(exc)) from exc
    ff = ffmpeg_from_settings(getattr(args, "config", None))
    tv = load_settings(getattr(args, "config", None)).tv
    args.as_run = args.as_run or (tv.as_run_log if args.udp else None)  # the configured log: what went to air only
    args.state = getattr(args, "state", None) or tv.playout_state
    tty = sys.stderr.isatty() and not args.json

    def progress(stage: str, done: int, total: int) -> None:
        if tty:
            print(f"\r{stage}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)

    try:
        profile = channel_profile(day, load_profile(args.profile, extra_dirs=args.profiles_dir))
        items = playout_items(day)
        report = assemble_day(
            items, args.output, profile, si=None if args.no_epg else si_config(day, profile),
            events=eit_events(day), cache_dir=args.cache, ffmpeg=ff, progress=progress,
        )
        if args.hls:
            hls_from_ts(args.output, args.hls, ffmpeg=ff)
    except MediaError as exc:
        raise UserError(f"{args.day}: {exc}") from exc
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        print(summary(report, day))
    for w in report.warnings:
        print(f"aulacast: warning: {w}", file=sys.stderr)
    if args.udp:
        _send(args, day, report)
    elif args.as_run:
        with AsRunLog(args.as_run) as log:
            for item in day.items:
                log.append(AsRunRecord.of(day, item, day.at(item), day.local(item.end_ms), status="assembled",
                                          note=str(args.output)))
    return 0


def summary(report: PlayoutReport, day: Day) -> str:
    lines = [
        f"{report.output}: {day.channel.id} {day.date}, {report.items} items, {report.duration:.3f} s, "
        f"{report.mux_rate} bit/s CBR, {report.packets} packets",
        f"  clips: {report.distinct_clips} distinct, {report.normalised} normalised now, {report.cache_hits} from cache",
        f"  splice: {report.cut_items} cut to their slot, {report.padded_packets} padding packets, "
        f"{report.pcr_packets_added} PCR packets added; {report.splice_seconds:.2f} s",
    ]
    if report.inject is not None:
        r = report.inject
        lines.append(f"  EPG: {len(r.pf_switches)} EIT p/f versions, sections {r.sections}, "
                     f"max intervals {({k: round(v, 2) for k, v in r.max_interval_s.items()})}; "
                     f"{report.inject_seconds:.2f} s")
    return "\n".join(lines)


def _send(args: argparse.Namespace, day: Day, report: PlayoutReport) -> None:
    """Send in real time; as each item leaves the air, append it to the as-run log with wall-clock times."""
    bounds = [*report.boundaries, report.duration]  # item i airs from bounds[i] to bounds[i + 1]
    log = AsRunLog(args.as_run) if args.as_run else None
    state: dict[str, Any] = {"index": 0, "started": datetime.now(UTC), "joined": None, "partial": False}
    stop = threading.Event()
    state_file: Path | None = args.state
    playing = PlayoutState.starting(day, pid=os.getpid(), day_file=str(args.day), target=args.udp)
    if state_file is not None:
        write_state(state_file, playing)
    at = None if args.now or args.udp.startswith("srt:") else day.start.astimezone(UTC)
    if at is not None and at > datetime.now(UTC):
        print(f"waiting for the day's start, {day.start.isoformat(timespec='seconds')} "
              f"({(at - datetime.now(UTC)).total_seconds():.0f} s); --now sends at once", file=sys.stderr)

    def aired(i: int, end: datetime, status: str) -> None:
        if log is not None:
            if state["partial"] and status == "played":
                status = "joined"  # went to air part-way through: sending started after its start
            log.append(AsRunRecord.of(day, day.items[i], state["started"], end, status=status, note=args.udp))
        state["partial"] = False

    def on_datagram(_: int, stream_s: float) -> None:
        i = state["index"]
        if state["joined"] is None:  # first datagram: items the day had already passed did not air
            state["joined"] = stream_s
            while i < len(day.items) and stream_s >= bounds[i + 1]:
                if log is not None:
                    log.append(AsRunRecord.of(day, day.items[i], day.at(day.items[i]),
                                              day.local(day.items[i].end_ms), status="missed", note=args.udp))
                i += 1
            state["partial"] = i < len(day.items) and stream_s > bounds[i] + 0.5
            state["started"] = datetime.now(UTC)
            on_air(i)
        while i < len(day.items) and stream_s >= bounds[i + 1]:
            now = datetime.now(UTC)
            aired(i, now, "played")
            state["started"] = now
            i += 1
            on_air(i)
        state["index"] = i

    def on_air(i: int) -> None:
        nonlocal playing
        if state_file is not None and i < len(day.items):
            playing = playing.at_item(day, i)
            write_state(state_file, playing)

    completed = False
    try:
        sent = send_realtime(args.output, args.udp, mux_rate=report.mux_rate, stop=stop, on_datagram=on_datagram,
                             at=at)
        completed = True
    except KeyboardInterrupt:
        stop.set()
        raise
    except MediaError as exc:
        raise UserError(str(exc)) from exc
    finally:
        i = state["index"]
        if log is not None:
            if i < len(day.items) and state["joined"] is not None:
                aired(i, datetime.now(UTC), "played" if i == len(day.items) - 1 else "interrupted")
            log.close()
        if state_file is not None:
            write_state(state_file, playing.ended("finished" if completed else "interrupted"))
    print(f"sent {sent.packets} packets in {sent.datagrams} datagrams to {args.udp}: "
          f"{sent.stream_seconds:.1f} s of stream in {sent.seconds:.1f} s")

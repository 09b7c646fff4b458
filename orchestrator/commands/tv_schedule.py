"""``aulacast tv schedule``: build a channel's day from its channel file, export it.

    aulacast tv schedule build --channel examples/channel-demo.yaml --date 2026-11-26 -o day.json
    aulacast tv schedule build --channel channel.yaml --series archive-series.yaml --date 2026-11-26 -o day.json
    aulacast tv schedule export day.json --xmltv guide.xml --ffplayout 2026-11-26.json --csv day.csv
    aulacast tv schedule as-run asrun.jsonl --csv asrun.csv
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from pathlib import Path

from orchestrator.errors import UserError
from schedules.errors import ScheduleError
from schedules.tv import channelfile
from schedules.tv.channelfile import ChannelConfig
from schedules.tv.day import Day, load_day, save_day
from schedules.tv.fill import build_day
from schedules.tv.playlist import read_as_run, write_as_run_csv, write_csv, write_ffplayout
from schedules.tv.xmltv import write_xmltv


def register(tv_sub: argparse._SubParsersAction) -> None:
    parser = tv_sub.add_parser("schedule", help="build a channel day from a channel file; export XMLTV/ffplayout/CSV")
    sub = parser.add_subparsers(dest="schedule_command", metavar="SCHEDULE_COMMAND")
    sub.required = True

    b = sub.add_parser("build", help="place the day's lectures at fixed start times and fill the gaps")
    b.add_argument("--channel", required=True, type=Path, help="channel file (YAML): channel, series, fillers, repeats")
    b.add_argument("--date", required=True, help="the day, YYYY-MM-DD (local to the channel)")
    b.add_argument("-o", "--output", required=True, type=Path, help="day file to write (JSON)")
    b.add_argument("--series", action="append", default=[], type=Path, metavar="FILE",
                   help="series file ('tv series', e.g. --from-archive): its episodes join the channel file's "
                        "series of the same offering; repeatable")
    b.add_argument("--overlap", choices=("refuse", "shift"), default="refuse",
                   help="refuse a day with overlapping programmes (default), or move them to the next free slot")
    b.add_argument("--length", type=float, help="day length in seconds (previews and tests; default: to the next day start)")
    b.set_defaults(func=_build)

    e = sub.add_parser("export", help="export day files as XMLTV, an ffplayout playlist or CSV")
    e.add_argument("days", nargs="+", type=Path, help="day file(s) written by 'schedule build'")
    e.add_argument("--xmltv", type=Path, help="XMLTV file (all days given)")
    e.add_argument("--ffplayout", type=Path, help="ffplayout daily playlist JSON (one day)")
    e.add_argument("--csv", type=Path, help="CSV, one row per item (one day)")
    e.set_defaults(func=_export)

    a = sub.add_parser("as-run", help="export an as-run log (JSON lines written by playout) as CSV")
    a.add_argument("log", type=Path)
    a.add_argument("--csv", required=True, type=Path)
    a.set_defaults(func=_as_run)


def read_channel_file(path: Path) -> ChannelConfig:
    """Parse a channel file into a ``ChannelConfig``; errors are ``FILE:LINE: KEY: message``."""
    try:
        return channelfile.read_channel_file(path)
    except ScheduleError as exc:
        raise UserError(str(exc)) from exc


def _build(args: argparse.Namespace) -> int:
    try:
        day_date = date.fromisoformat(args.date)
    except ValueError as exc:
        raise UserError(f"--date {args.date!r}: not a date (YYYY-MM-DD)") from exc
    cfg = read_channel_file(args.channel)
    for path in args.series:
        try:
            cfg = channelfile.with_series(cfg, channelfile.read_series_file(path), source=str(path))
        except ScheduleError as exc:
            raise UserError(str(exc)) from exc
    length = timedelta(seconds=args.length) if args.length else None
    try:
        day = build_day(cfg.channel, day_date, cfg.series, cfg.fillers, cfg.repeats, overlap=args.overlap, length=length)
        save_day(day, args.output)
    except ScheduleError as exc:
        raise UserError(f"{args.channel}: {exc}") from exc
    progs = day.programmes()
    print(f"{args.output}: {cfg.channel.id} {day.date} {day.start.isoformat()} .. {day.end.isoformat()}: "
          f"{len(day.items)} items, {len(progs)} programmes, "
          f"{sum(i.duration for i in day.items if not i.is_programme):.0f} s of fillers")
    for w in day.report.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return 0


def _load(path: Path) -> Day:
    try:
        return load_day(path)
    except ScheduleError as exc:
        raise UserError(str(exc)) from exc


def _export(args: argparse.Namespace) -> int:
    if not (args.xmltv or args.ffplayout or args.csv):
        raise UserError("nothing to export: give --xmltv, --ffplayout and/or --csv")
    days = [_load(p) for p in args.days]
    if (args.ffplayout or args.csv) and len(days) != 1:
        raise UserError("--ffplayout and --csv take exactly one day file")
    try:
        if args.xmltv:
            write_xmltv(days, args.xmltv)
            print(f"{args.xmltv}: XMLTV, {sum(len(d.programmes()) for d in days)} programmes")
        if args.ffplayout:
            write_ffplayout(days[0], args.ffplayout)
            print(f"{args.ffplayout}: ffplayout playlist, {len(days[0].items)} items")
        if args.csv:
            write_csv(days[0], args.csv)
            print(f"{args.csv}: CSV, {len(days[0].items)} rows")
    except ScheduleError as exc:
        raise UserError(str(exc)) from exc
    return 0


def _as_run(args: argparse.Namespace) -> int:
    try:
        records = read_as_run(args.log)
    except FileNotFoundError as exc:
        raise UserError(f"{args.log}: no such as-run log") from exc
    except ScheduleError as exc:
        raise UserError(str(exc)) from exc
    write_as_run_csv(records, args.csv)
    print(f"{args.csv}: {len(records)} as-run records")
    return 0

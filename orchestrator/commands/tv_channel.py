"""``aulacast tv day|status|as-run``: the configured channel as the engineer's page shows it.

    aulacast tv day [--date 2026-11-26] [--json] [--xmltv guide.xml] [--ffplayout day.json] [--csv day.csv]
    aulacast tv status [--json]                  # is playout running, what is on air, what comes next
    aulacast tv as-run [--date 2026-11-26] [--json | --csv asrun.csv]

The channel comes from the settings (``tv.channel_file``, ``tv.series_files``, ``tv.as_run_log``,
``tv.playout_state``), as on ``/staff/engineer``; the same policy function
(``policy.can_view_channel``) is asked, with the command line's actor.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from orchestrator import policy
from orchestrator.errors import UserError


def register(tv_sub: argparse._SubParsersAction) -> None:
    d = tv_sub.add_parser("day", help="the configured channel's day (as the engineer's page shows it); export it")
    d.add_argument("--date", help="YYYY-MM-DD (default: the broadcast day on air now)")
    d.add_argument("--json", action="store_true", help="print the day as the API gives it")
    d.add_argument("--xmltv", help="write the day as XMLTV to this file")
    d.add_argument("--ffplayout", help="write the day as an ffplayout playlist to this file")
    d.add_argument("--csv", help="write the day as CSV to this file")
    d.set_defaults(func=day)
    s = tv_sub.add_parser("status", help="is playout running; what is on air and what comes next")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=status)
    a = tv_sub.add_parser("as-run", help="what aired on a day, from the configured as-run log (tv.as_run_log)")
    a.add_argument("--date", help="YYYY-MM-DD (default: the broadcast day on air now)")
    a.add_argument("--json", action="store_true")
    a.add_argument("--csv", help="write the records as CSV to this file")
    a.set_defaults(func=as_run)


def _settings(args: argparse.Namespace) -> Any:
    from orchestrator.config import load_settings

    policy.can_view_channel(policy.OPERATOR).enforce()
    return load_settings(getattr(args, "config", None))


def _title(t: dict[str, str], langs: list[str]) -> str:
    return next((t[lang] for lang in [*langs, "en", "ru", "kk"] if t.get(lang)), next(iter(t.values()), ""))


def day(args: argparse.Namespace) -> int:
    from orchestrator.channel.day_view import channel_day, day_json
    from schedules.errors import ScheduleError
    from schedules.tv.playlist import write_csv, write_ffplayout
    from schedules.tv.xmltv import write_xmltv

    the_day = channel_day(_settings(args), args.date)
    out = day_json(the_day)
    try:
        for path, write in ((args.xmltv, lambda p: write_xmltv([the_day], p)), (args.ffplayout, lambda p: write_ffplayout(the_day, p)),
                            (args.csv, lambda p: write_csv(the_day, p))):  # fmt: skip
            if path:
                write(path)
                print(f"wrote {path}")
    except (ScheduleError, OSError) as exc:
        raise UserError(str(exc)) from exc
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return 0
    langs = out["channel"]["languages"]
    print(f"{out['channel']['id']} {out['date']}: {out['start']} .. {out['end']}, {len(out['items'])} items")
    for it in out["items"]:
        sub = _title(it["episode_title"], langs)
        print(f"  {it['start'][11:19]}  {it['type']:<9} {it['kind']:<12} {_title(it['title'], langs)}"
              f"{': ' + sub if sub else ''}")  # fmt: skip
    for w in out["warnings"]:
        print(f"warning: {w}")
    return 0


def status(args: argparse.Namespace) -> int:
    from orchestrator.channel.playout_state import playout_status

    out = playout_status(_settings(args).tv.playout_state)
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return 0
    print(out["message"])
    for label in ("current", "next"):
        if out.get(label):
            it = out[label]
            print(f"  {label:<8} {it['start'][11:19]}-{it['end'][11:19]}  {it['kind']:<12} {_title(it['title'], [])}")
    return 0


def as_run(args: argparse.Namespace) -> int:
    from orchestrator.channel.day_view import as_run_for, channel_day
    from schedules.tv.playlist import AsRunRecord, write_as_run_csv

    settings = _settings(args)
    the_day = channel_day(settings, args.date)
    out = as_run_for(settings, the_day)
    if args.csv:
        try:
            write_as_run_csv([AsRunRecord(**r) for r in out["records"]], args.csv)
        except OSError as exc:
            raise UserError(str(exc)) from exc
        print(f"{args.csv}: {len(out['records'])} as-run records")
        return 0
    if args.json:
        print(json.dumps({"date": the_day.date.isoformat(), "channel": the_day.channel.id, **out}, ensure_ascii=False,
                         indent=1))  # fmt: skip
        return 0
    for r in out["records"]:
        print(f"  {r['start'][:19]} .. {r['end'][11:19]}  {r['status']:<11} {r['kind']:<12} {r['title']}")
    if out["message"]:
        print(out["message"])
    return 0

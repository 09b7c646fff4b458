"""``aulacast tv check FILE.ts``: TR 101 290 priority 1/2 checks, bitrate and tables of a TS.

    aulacast tv check lecture.ts          # readable report
    aulacast tv check lecture.ts --json   # the same as one JSON document

Exit status: 0 clean, 1 when any priority-1 or priority-2 error was found,
2 when the file cannot be read or is not a transport stream (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from media.broadcast.analyzer import analyze, format_report
from media.errors import MediaError
from orchestrator.errors import UserError


def register(tv_sub: argparse._SubParsersAction) -> None:
    parser = tv_sub.add_parser(
        "check",
        help="analyse an MPEG-TS: TR 101 290 P1/P2 errors, bitrate per second, PSI/SI tables",
        description="Analyse a transport stream with our own parser: TR 101 290 priority 1/2 errors, "
        "bitrate per second, null share, every PSI/SI table with its content and repetition interval.",
        epilog="exit status: 0 clean, 1 priority-1/2 errors found, 2 unreadable or not a transport stream",
    )
    parser.add_argument("file", type=Path, help="transport stream file (188-byte packets)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--pid-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="PID_error when a stream named in a PMT is absent this long (default 5)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        raise UserError(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")
    try:
        report = analyze(path, pid_timeout_s=args.pid_timeout)
    except MediaError as exc:
        raise UserError(str(exc)) from exc
    text = json.dumps(report.as_dict(), ensure_ascii=False, indent=2) if args.json else format_report(report)
    try:
        print(text)
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        pass
    return 0 if report.ok else 1

"""``aulacast tv package``: a lecture file to a constant-bitrate DVB transport stream in a broadcast profile.

    aulacast tv package lecture.mp4 -o lecture.ts --profile hd-720p25
    aulacast tv package lecture.mp4 -o lecture.ts --profile sd-576i25 --hls web/lecture --profiles-dir /etc/aulacast/profiles

Loudness is measured, normalised to EBU R128 in the same encode and measured
again; both measurements and every flag are printed. A progress bar goes to
stderr when it is a terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from media.broadcast.package import PackageReport, package
from media.errors import MediaError
from media.transcode.ffmpeg import Progress
from media.transcode.loudness import Loudness, LoudnessReport
from media.transcode.profiles import available_profiles, load_profile
from orchestrator.commands.tv_playout import channel_service
from orchestrator.commands.tv_schedule import read_channel_file
from orchestrator.errors import UserError
from orchestrator.ffmpeg_binary import ffmpeg_from_settings

STAGES = {"measure": "measuring loudness", "encode": "encoding", "inject": "injecting EPG",
          "verify": "measuring result", "mux": "multiplexing", "hls": "cutting HLS"}


def register(tv_sub: argparse._SubParsersAction) -> None:
    shipped = ", ".join(available_profiles())
    p = tv_sub.add_parser("package", help="encode a lecture into a CBR DVB MPEG-TS (profile, EBU R128 loudness)")
    p.add_argument("input", type=Path, help="the lecture (any file ffmpeg reads)")
    p.add_argument("-o", "--output", required=True, type=Path, help="transport stream to write (.ts)")
    p.add_argument("--profile", required=True, help=f"profile name or .toml file (shipped: {shipped})")
    p.add_argument("--profiles-dir", action="append", default=[], type=Path, metavar="DIR",
                   help="directory of operator profiles (NAME.toml) overriding or adding to the shipped ones; repeatable")
    p.add_argument("--channel", type=Path, metavar="FILE",
                   help="channel file whose service (SDT name, provider, DVB ids) the stream carries; without it "
                        "the stream carries the default service 'Aulacast' (id 1, network 0xFF01)")
    p.add_argument("--hls", type=Path, metavar="DIR", help="also cut HLS for the web into DIR (no re-encode)")
    p.add_argument("--preset", default="veryfast", help="x264 preset (default: veryfast)")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ffmpeg = ffmpeg_from_settings(getattr(args, "config", None))
    try:
        profile = load_profile(args.profile, extra_dirs=args.profiles_dir)
        if args.channel is not None:
            profile = profile.for_service(channel_service(read_channel_file(args.channel).channel))
        bar = ProgressBar(sys.stderr) if sys.stderr.isatty() and not args.json else None
        try:
            report = package(args.input, args.output, profile, hls_dir=args.hls, ffmpeg=ffmpeg,
                             progress=bar.update if bar else None, preset=args.preset)
        finally:
            if bar is not None:
                bar.close()
    except MediaError as exc:
        raise UserError(str(exc)) from exc
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        print(summary(report))
    for flag in report.loudness.flags:
        print(f"aulacast: warning: loudness: {FLAG_TEXT.get(flag, flag)}", file=sys.stderr)
    return 0


FLAG_TEXT = {
    "generated_silence": "the input has no audio; silence was put in its place",
    "silent": "the input's audio is silent; nothing to normalise",
    "true_peak_limits_gain": "reaching the target loudness would push the true peak over the limit",
    "range_above_target": "the loudness range is above the profile's target range",
    "dynamic": "loudnorm fell back from linear gain to dynamic processing (compression/limiting)",
    "integrated_off_target": "the result's integrated loudness is outside the target tolerance",
    "true_peak_over": "the result's true peak is above the limit",
}


def _loudness(value: Loudness) -> str:
    if value.silent:
        return "silence"
    return f"{value.integrated:.1f} LUFS, LRA {value.range:.1f} LU, true peak {value.true_peak:.1f} dBTP"


def _loudness_lines(r: LoudnessReport) -> list[str]:
    t = r.target
    verdict = "on target" if r.target_met else "NOT on target"
    return [
        f"  loudness target {t.integrated:g} LUFS ±{t.tolerance:g}, true peak ≤ {t.true_peak:g} dBTP",
        f"  loudness before {_loudness(r.before)}",
        f"  loudness after  {_loudness(r.after)} ({verdict})",
        f"  normalisation   {r.normalization_type}, gain {r.gain_db:+.1f} dB"
        + (f"; flags: {', '.join(r.flags)}" if r.flags else ""),
    ]


def summary(r: PackageReport) -> str:
    lines = [
        f"{r.output}: {r.profile}, {r.duration:.2f} s, {r.size_bytes / 1e6:.1f} MB",
        f"  mux rate {r.mux_rate / 1e6:.3f} Mbit/s (file average {r.average_bitrate / 1e6:.3f} Mbit/s)",
        *_loudness_lines(r.loudness),
    ]
    if r.hls_dir is not None:
        lines.append(f"  HLS             {r.hls_dir / 'index.m3u8'}")
    lines.append(f"  took {r.total_seconds:.1f} s ({r.realtime_multiple:.1f}x realtime; encode {r.encode_seconds:.1f} s)")
    return "\n".join(lines)


class ProgressBar:
    """One redrawn line on a terminal: stage, bar, percent, speed."""

    width = 30

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()
        self.last = 0.0
        self.drawn = False
        self.encoding = False

    def update(self, p: Progress) -> None:
        # Sound, copy mux and EPG run beside the picture encode; once that runs, the bar follows it alone.
        self.encoding = self.encoding or p.stage == "encode"
        if self.encoding and p.stage in ("measure", "verify", "mux", "inject"):
            return
        now = time.monotonic()
        fraction = p.fraction or 0.0
        if now - self.last < 0.1 and fraction < 1.0:
            return
        self.last = now
        filled = int(fraction * self.width)
        speed = f" {p.speed:.1f}x" if p.speed else ""
        label = STAGES.get(p.stage, p.stage or "working")
        with self.lock:
            self.stream.write(f"\r{label:<20} [{'#' * filled}{'.' * (self.width - filled)}] {fraction * 100:5.1f}%{speed}  ")
            self.stream.flush()
            self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * (self.width + 40) + "\r")
            self.stream.flush()

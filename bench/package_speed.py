"""Benchmark: package a lecture to hd-720p25 with EBU R128 (+EPG) against bare ffmpeg doing the same encode.

    .venv/bin/python bench/package_speed.py                 # 10-minute source (the issue's figure)
    .venv/bin/python bench/package_speed.py --minutes 1     # quick look
    .venv/bin/python bench/package_speed.py --markdown docs/bench/package.md

Both variants run in the same process, one after the other on the same
source, so their ratio is meaningful on a shared machine even when the
absolute times are not. "Bare" is the identical single encode pass (same
filters, encoder settings and CBR mux) without loudness measurement, loudnorm,
EPG injection or the verifying measurement. Goals (issue 4): total/bare
<= 1.10, package speed >= 6x realtime on 2 cores with x264 veryfast.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from media.broadcast.package import encode_args, package  # noqa: E402
from media.transcode.ffmpeg import FFmpeg  # noqa: E402
from media.transcode.loudness import SILENCE, plan_normalisation  # noqa: E402
from media.transcode.probe import probe  # noqa: E402
from media.transcode.profiles import load_profile  # noqa: E402

SPEECH = (
    "aevalsrc='0.05*sin(2*PI*180*t)*(0.2+0.8*gt(mod(t,0.9),0.4))*(0.6+0.4*sin(2*PI*0.05*t))"
    "+0.03*sin(2*PI*410*t)*gt(mod(t,1.7),0.8)':s=48000:d={seconds}"
)


# "slides": a still slide with a small moving inset where the speaker's camera would be.
SLIDES = (
    "color=c=0xf4f4f4:s=1280x720:r=25:d={seconds},"
    "drawbox=x=80:y=70:w=900:h=60:color=0x203060:t=fill,"
    "drawbox=x=80:y=180:w=700:h=24:color=0x404040:t=fill,drawbox=x=80:y=230:w=640:h=24:color=0x404040:t=fill,"
    "drawbox=x=80:y=280:w=720:h=24:color=0x404040:t=fill[slide];"
    "testsrc2=s=320x180:r=25:d={seconds}[head];[slide][head]overlay=x=920:y=500"
)


def make_source(path: Path, seconds: int, ff: FFmpeg, picture: str = "testsrc2") -> None:
    """A lecture-like 720p25 H.264/AAC MP4: a test picture (or slides), speech-like levels over pink noise."""
    video = f"testsrc2=s=1280x720:r=25:d={seconds}" if picture == "testsrc2" else SLIDES.format(seconds=seconds)
    ff.run([
        "-f", "lavfi", "-i", video,
        "-f", "lavfi", "-i", SPEECH.format(seconds=seconds),
        "-f", "lavfi", "-i", f"anoisesrc=c=pink:a=0.004:r=48000:d={seconds}",
        "-filter_complex", "[1:a][2:a]amix=inputs=2:normalize=0,pan=stereo|c0=c0|c1=c0[a]",
        "-map", "0:v", "-map", "[a]", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "28",
        "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart",
    ], output=path)


def epg_for(seconds: int):  # type: ignore[no-untyped-def]
    """The programme itself plus a week of lectures, so the EIT schedule carries a realistic load."""
    try:
        from media.broadcast.dvb.eit import EitEvent
        from media.broadcast.package import Epg
    except ImportError:
        return None
    start = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
    events = [EitEvent.simple(start, timedelta(seconds=seconds), "Linear Algebra 7", "Eigenvalues", language="eng")]
    day0 = start.replace(hour=0)
    for day in range(7):
        for slot in range(8):
            begin = day0 + timedelta(days=day, hours=3 + slot * 1.5)
            if begin < start + timedelta(seconds=seconds) + timedelta(minutes=1):
                continue
            events.append(EitEvent.simple(begin, timedelta(minutes=80), f"Lecture {day}.{slot}", "", language="eng"))
    return Epg(start - timedelta(seconds=0), events)


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()}: {os.cpu_count()} cores, {model}, Python {platform.python_version()}"


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="source length (default 10)")
    parser.add_argument("--profile", default="hd-720p25")
    parser.add_argument("--picture", choices=("testsrc2", "slides"), default="testsrc2",
                        help="source picture: full-frame test pattern (hard) or a still slide with a small inset")
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--no-epg", action="store_true", help="skip EIT/TDT injection")
    parser.add_argument("--workdir", type=Path, help="keep the source and outputs here (default: a temp dir)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per variant; 2 or more alternate A B B A to cancel drift (default 1)")
    parser.add_argument("--markdown", type=Path, help="also write the figures to this Markdown file")
    args = parser.parse_args()

    ff = FFmpeg.locate()
    profile = load_profile(args.profile)
    seconds = int(args.minutes * 60)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="aulacast-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    source = work / f"lecture-{args.picture}-{seconds}s.mp4"
    if not source.exists():
        print(f"making a {seconds} s 720p source in {work} ...", file=sys.stderr)
        make_source(source, seconds, ff, args.picture)
    info = probe(source)
    epg = None if args.no_epg else epg_for(seconds)

    load_before = loadavg()
    started = datetime.now(UTC)
    # Bare: the same encode pass, audio only conformed and resampled (no loudnorm).
    bare_plan = replace(plan_normalisation(SILENCE, profile.loudness), audio_filter="aresample=48000")
    bare_runs: list[tuple[float, float]] = []  # (wall, cpu)
    reports = []
    order = "AB" if args.repeat == 1 else "ABBA" * (args.repeat // 2) + ("AB" if args.repeat % 2 else "")
    loads = []
    for variant in order:
        if variant == "A":
            t0 = time.monotonic()
            bare = ff.run(encode_args(profile, info, bare_plan, preset=args.preset), output=work / "bare.ts",
                          subject=source)
            bare_runs.append((time.monotonic() - t0, bare.cpu_seconds))
        else:
            reports.append(package(source, work / "packaged.ts", profile, epg=epg, ffmpeg=ff, preset=args.preset))
        loads.append(loadavg())
        print(f"  {variant}: done, load {loads[-1]}", file=sys.stderr)

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    bare_wall = mean([w for w, _ in bare_runs])
    bare_cpu = mean([c for _, c in bare_runs])
    pkg_wall = mean([r.total_seconds for r in reports])
    pkg_cpu = mean([r.cpu_seconds for r in reports])
    report = reports[-1]
    ratio = pkg_wall / bare_wall
    cpu_ratio = pkg_cpu / bare_cpu
    rt = info.duration / pkg_wall
    bare_rt = info.duration / bare_wall
    cores = os.cpu_count() or 1
    check = subprocess.run(
        [ff.binary, "-hide_banner", "-nostats", "-i", str(work / "packaged.ts"), "-map", "0:a:0",
         "-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-"],
        capture_output=True, text=True, check=True).stderr
    tail = check[check.rindex("Summary:"):]
    independent_i = float(tail.split("I:")[1].split("LUFS")[0])
    independent_tp = float(tail.split("Peak:")[1].split("dBFS")[0])
    lines = [
        f"# Packaging speed: {args.profile}, R128{' + EPG' if epg else ''}, x264 {args.preset}",
        "",
        f"- date: {started.isoformat(timespec='seconds')}",
        f"- machine: {machine()}",
        f"- ffmpeg: {ff.version()}",
        f"- load average (1/5/15 min) before the runs: {load_before}; after each run ({order}): {' | '.join(loads)}",
        f"- source: {info.duration:.0f} s, {info.size[0]}x{info.size[1]} @ {info.frame_rate:g} fps"  # type: ignore[index]
        f" H.264 + AAC ({args.picture} picture, speech-like tone bursts over pink noise)",
        "",
        f"| variant (mean of {len(bare_runs)} / {len(reports)} runs, order {order}) | wall s | CPU s | "
        f"realtime (wall) | realtime if {cores} cores were free (duration / (CPU / {cores})) |",
        "|---|---:|---:|---:|---:|",
        f"| bare ffmpeg encode (same args, no R128/EPG) | {bare_wall:.1f} | {bare_cpu:.1f} | {bare_rt:.1f}x | "
        f"{info.duration / (bare_cpu / cores):.1f}x |",
        f"| `package()` total (picture ‖ sound: measure, encode, verify ‖ copy mux ‖ EPG) | {pkg_wall:.1f} | {pkg_cpu:.1f} | {rt:.1f}x | "
        f"{info.duration / (pkg_cpu / cores):.1f}x |",
        "",
        f"- **total / bare: wall {ratio:.3f}, CPU {cpu_ratio:.3f}** (goal <= 1.10); "
        f"package speed **{rt:.1f}x realtime** by wall clock (goal >= 6x)",
        f"- package stages, s: picture encode {report.encode_seconds:.1f} with, beside it, sound measure "
        f"{report.measure_seconds:.1f} + encode + verify {report.verify_seconds:.1f}; copy mux and EPG injection "
        f"follow the encoder and end {report.mux_seconds:.2f} s and {report.inject_seconds:.2f} s after it",
        f"- picture pass alone / bare = {report.encode_seconds / bare_wall:.3f}",
        f"- loudness before {report.loudness.before.integrated:.1f} LUFS / TP {report.loudness.before.true_peak:.1f}; "
        f"after {report.loudness.after.integrated:.1f} LUFS / TP {report.loudness.after.true_peak:.1f} "
        f"({report.loudness.normalization_type}, flags {list(report.loudness.flags) or 'none'}); "
        f"independent ebur128: {independent_i:.1f} LUFS / TP {independent_tp:.1f} dBTP",
        f"- output {report.size_bytes / 1e6:.1f} MB, {report.average_bitrate / 1e6:.3f} Mbit/s over the programme "
        f"(mux rate {report.mux_rate / 1e6:.3f})",
    ]
    if report.epg_report:
        intervals = report.epg_report.get("max_interval_s")
        lines.append(f"- EPG: sections {report.epg_report.get('sections')}, max intervals s {intervals}, "
                     f"violations {report.epg_report.get('violations')}")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

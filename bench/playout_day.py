"""Benchmark: a 24-hour channel day spliced from already-normalised clips, then EIT/TDT/TOT injected.

    .venv/bin/python bench/playout_day.py [--hours 24] [--keep] [--out docs/bench/playout.md]

Goals (issue 4): assembly ≤ 20 s for 24 h; EIT injection ≥ 300× realtime.

The day uses a TEST-ONLY low-rate profile (320x180p25 H.264 200 kbit/s, MP2
128 kbit/s, 600 kbit/s mux) so that 24 hours is 6.5 GB rather than the 54 GB of
hd-720p25; splice and injection costs scale with bytes, so MB/s figures are
printed to scale to other mux rates. Side by side in the same run, a plain copy
of the finished file (read + write of the same bytes) is timed as the floor.
Clips are normalised before the clock starts (the "already-normalised" case).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from media.broadcast.package import package  # noqa: E402
from media.broadcast.playout import assemble_day, content_key  # noqa: E402
from media.transcode.ffmpeg import FFmpeg  # noqa: E402
from media.transcode.profiles import load_profile_file  # noqa: E402
from orchestrator.commands.tv_playout import eit_events, playout_items, si_config  # noqa: E402
from schedules.tv.day import Channel, Episode, Filler, FillerPool, Series  # noqa: E402
from schedules.tv.fill import build_day  # noqa: E402

# the test suite's tiny profile (tests/data): a day of 6.5 GB instead of 54 GB, same splice work per packet
PROFILE = (Path(__file__).resolve().parents[1] / "tests" / "data" / "tiny-180p25.toml").read_text()
DAY = date(2026, 11, 26)


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def make_source(ff: FFmpeg, path: Path, seconds: int, freq: int, pattern: str) -> Path:
    if not path.exists():
        ff.run(["-f", "lavfi", "-i", f"{pattern}=s=320x180:r=25:d={seconds}",
                "-f", "lavfi", "-i", f"sine=frequency={freq}:sample_rate=48000:duration={seconds}",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"], output=path)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--work", type=Path, default=Path("/tmp/aulacast-bench-playout"))
    ap.add_argument("--keep", action="store_true", help="keep the day TS files")
    ap.add_argument("--out", type=Path, help="write the figures as Markdown here")
    args = ap.parse_args()
    work = args.work
    (work / "cache").mkdir(parents=True, exist_ok=True)
    (work / "bench-180p25.toml").write_text(PROFILE)
    profile = load_profile_file(work / "bench-180p25.toml")
    ff = FFmpeg.locate()

    # sources, normalised before timing (cached across runs by content hash)
    lectures = [make_source(ff, work / f"lecture-{i}.mp4", 600, 300 + 100 * i, p)
                for i, p in enumerate(("testsrc2", "smptebars", "testsrc"))]
    loop = make_source(ff, work / "loop.mp4", 120, 700, "testsrc2")
    ident = make_source(ff, work / "ident.mp4", 10, 900, "smptebars")
    t0 = time.monotonic()
    for src in [*lectures, loop, ident]:
        dst = work / "cache" / f"{content_key(src, 0.0, profile)}.ts"
        if not dst.exists():
            package(src, dst, profile, ffmpeg=ff)
    prep = time.monotonic() - t0

    # the day: a lecture at each slot 06:00..22:30 every 90 min, loops and idents between
    slots = tuple(dtime(h, m) for h in range(6, 23) for m in (0, 30) if (h * 60 + m - 360) % 90 == 0)
    if args.hours < 24:  # a shorter run (smoke test): lectures every 90 min from 00:30 instead
        slots = tuple(dtime(int(h // 60), int(h % 60)) for h in range(30, int(args.hours * 60) - 10, 90))
    eps = tuple(Episode(n + 1, {"en": f"Lecture {n + 1}"}, str(lectures[n % 3]), 600.0, date=DAY, start=s)
                for n, s in enumerate(slots))
    series = Series("bench", {"kk": "Дәріс", "ru": "Лекция", "en": "Lecture"}, eps)
    pool = FillerPool(idents=(Filler("ident", str(ident), 10),), loops=(Filler("loop", str(loop), 120),),
                      clock=None)
    channel = Channel("bench.aulacast.kz", "Bench", slots=slots)
    day = build_day(channel, DAY, [series], pool, length=timedelta(hours=args.hours))
    items = playout_items(day)
    events = eit_events(day)

    out_plain = work / "day-noepg.ts"
    c0, t0 = cpu(), time.monotonic()
    r = assemble_day(items, out_plain, profile, si=None, cache_dir=work / "cache", ffmpeg=ff)
    assemble_wall, assemble_cpu = time.monotonic() - t0, cpu() - c0
    size = out_plain.stat().st_size

    copy = work / "day-copy.ts"
    t0 = time.monotonic()
    shutil.copyfile(out_plain, copy)
    copy_wall = time.monotonic() - t0
    copy.unlink()

    out_plain.unlink()  # room on disk for the next run
    out_epg = work / "day-epg.ts"
    c0, t0 = cpu(), time.monotonic()
    r2 = assemble_day(items, out_epg, profile, si=si_config(day, profile), events=events, cache_dir=work / "cache",
                      ffmpeg=ff)
    single_wall, single_cpu = time.monotonic() - t0, cpu() - c0
    rep = r2.inject
    assert rep is not None
    inject_wall = r2.inject_seconds
    stream_s = r.duration

    load = os.getloadavg()
    model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                  if ln.startswith("model name")), platform.processor())
    lines = [
        "# Playout day benchmark (`bench/playout_day.py`)",
        "",
        f"- date: {datetime.now(UTC).isoformat(timespec='seconds')}; machine: {os.cpu_count()} cores, {model}; "
        f"Python {platform.python_version()}; load average at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
        "(2 cores shared with other engineers' work)",
        f"- profile: TEST-ONLY low rate 320x180p25, {profile.transport.mux_rate} bit/s CBR mux (so {args.hours:g} h = "
        f"{size / 1e9:.2f} GB; hd-720p25 at 5 Mbit/s would be {size * 5e6 / profile.transport.mux_rate / 1e9:.1f} GB)",
        f"- day: {args.hours:g} h, {r.items} items ({len(events)} lectures of 10 min, loops cut to fit, idents), "
        f"{r.distinct_clips} distinct clips, already normalised (normalising them took {prep:.1f} s, not counted)",
        "",
        "| step | wall s | CPU s | realtime × | MB/s | goal |",
        "|---|---:|---:|---:|---:|---|",
        f"| assemble (splice, no EPG) | {assemble_wall:.2f} | {assemble_cpu:.2f} | {stream_s / assemble_wall:,.0f} | "
        f"{size / 1e6 / assemble_wall:,.0f} | ≤ 20 s for 24 h: {'met' if assemble_wall <= 20 * args.hours / 24 else 'MISSED'} |",
        f"| plain copy of the same file (floor) | {copy_wall:.2f} | – | {stream_s / copy_wall:,.0f} | "
        f"{size / 1e6 / copy_wall:,.0f} | – |",
        f"| EIT p/f + schedule, TDT, TOT injection (time inside the injector) | {inject_wall:.2f} | – | "
        f"{stream_s / inject_wall:,.0f} | {size / 1e6 / inject_wall:,.0f} | "
        f"≥ 300×: {'met' if stream_s / inject_wall >= 300 else 'MISSED'} |",
        f"| whole playout, one pass: splice + inject + write | {single_wall:.2f} | {single_cpu:.2f} | "
        f"{stream_s / single_wall:,.0f} | {size / 1e6 / single_wall:,.0f} | – |",
        "",
        f"Ratio assemble / plain copy: {assemble_wall / copy_wall:.2f}×. "
        f"EIT p/f versions: {len(rep.pf_switches)}, sections {rep.sections}, "
        f"max intervals {({k: round(v, 2) for k, v in rep.max_interval_s.items()})}, violations {len(rep.violations)}.",
        f"Splice: {r.cut_items} items cut to their slot, {r.pcr_packets_added} PCR packets and "
        f"{r.blanked_packets} blanked packets; {r.packets} packets in all.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    if not args.keep:
        out_plain.unlink(missing_ok=True)
        out_epg.unlink(missing_ok=True)
    subprocess.run(["sync"], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""EIT/TDT/TOT injection speed in realtime multiples, next to plain copies of the same file.

    .venv/bin/python bench/eit_inject.py [--seconds 60] [--muxrate 2M] [--repeat 3]

Makes a CBR TS with ffmpeg (testsrc + sine, H.264 + MP2, NIT), then times, side
by side in one run on the same file: a plain file copy, a chunked read/write loop
(the I/O floor of any streaming pass), ``inject_si`` with a 7-day EPG of 5 lectures
a day, and ``analyze`` (the ``tv check`` pass). Reports CPU seconds of this
process and wall seconds, the realtime multiple (stream seconds per wall second)
and packets per second; the goal for injection is ≥ 300× realtime.

``measure_injection`` is the function bench/playout_day.py calls for its
injection half (a day file made by playout, events from the day's schedule).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from media.broadcast.analyzer import analyze  # noqa: E402
from media.broadcast.dvb.eit import EitEvent, EventText  # noqa: E402
from media.broadcast.dvb.mpegts import iter_chunks  # noqa: E402
from media.broadcast.inject import InjectReport, SiConfig, inject_si  # noqa: E402

START = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # 08:00 in Almaty


def ffmpeg_exe() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def make_ts(path: Path, seconds: float, muxrate: str) -> Path:
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", str(seconds),
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", "500k", "-minrate", "500k", "-maxrate", "500k",
        "-bufsize", "500k", "-c:a", "mp2", "-b:a", "128k",
        "-f", "mpegts", "-muxrate", muxrate, "-mpegts_flags", "+nit",
        "-mpegts_service_id", "1", "-mpegts_transport_stream_id", "1", "-mpegts_original_network_id", "8193",
        "-metadata", "service_name=Aula TV", "-metadata", "service_provider=Aulacast",
        str(path),
    ]  # fmt: skip
    subprocess.run(cmd, check=True)
    return path


def lengthen(src: Path, dst: Path, repeats: int) -> Path:
    """``src`` played ``repeats`` times back to back as one continuous stream: PCRs shifted by
    the clip length and continuity counters carried on, so the result is one long CBR TS
    (PTS are left alone; injection and the PCR time base do not read them)."""
    from media.broadcast.dvb.mpegts import PCR_MODULUS, read_pcr, write_pcr

    base = src.read_bytes()
    n = len(base) // 188
    pcr_idx = [i for i in range(n) if base[i * 188 + 3] & 0x20 and read_pcr(base, i * 188) is not None]
    first, last = read_pcr(base, pcr_idx[0] * 188), read_pcr(base, pcr_idx[-1] * 188)
    assert first is not None and last is not None
    # one clip lasts (last - first) plus one PCR interval's worth of packets
    per_packet = (last - first) / (pcr_idx[-1] - pcr_idx[0])
    clip = round(per_packet * n)
    counts: dict[int, int] = {}
    for i in range(n):
        off = i * 188
        if base[off + 3] & 0x10:
            pid = ((base[off + 1] & 0x1F) << 8) | base[off + 2]
            counts[pid] = counts.get(pid, 0) + 1
    with dst.open("wb") as out:
        for k in range(repeats):
            data = bytearray(base)
            for i in pcr_idx:
                off = i * 188
                data[off : off + 188] = write_pcr(
                    data[off : off + 188], (read_pcr(base, off) + k * clip) % PCR_MODULUS
                )
            for i in range(n):
                off = i * 188
                pid = ((data[off + 1] & 0x1F) << 8) | data[off + 2]
                if pid != 0x1FFF:
                    b3 = data[off + 3]
                    data[off + 3] = (b3 & 0xF0) | ((b3 + k * counts.get(pid, 0)) & 0x0F)
            out.write(data)
    return dst


def week_of_lectures(start: datetime = START, per_day: int = 5) -> list[EitEvent]:
    """Lectures at 09:00, 10:30, … local time for 7 days, with kk/ru/en titles."""
    events = []
    for day in range(7):
        for k in range(per_day):
            t = start + timedelta(days=day, hours=1, minutes=90 * k)
            events.append(
                EitEvent(
                    t,
                    timedelta(minutes=80),
                    (
                        EventText("kaz", f"Физика, {k + 1}-дәріс", "Механика негіздері"),
                        EventText("rus", f"Физика, лекция {k + 1}", "Основы механики"),
                        EventText("eng", f"Physics, lecture {k + 1}", "Basics of mechanics"),
                    ),
                    (0x90,),
                )
            )
    return events


def _timed(fn: Callable[[], object]) -> tuple[float, float, object]:
    c0, w0 = time.process_time(), time.perf_counter()
    result = fn()
    return time.process_time() - c0, time.perf_counter() - w0, result


def measure_injection(
    ts: Path,
    events: Sequence[EitEvent],
    *,
    start_utc: datetime = START,
    stream_seconds: float | None = None,
    repeat: int = 1,
) -> dict[str, object]:
    """Inject into ``ts`` (output to a temp file, removed) ``repeat`` times; best figures.

    Returns cpu_s, wall_s, realtime (stream s per wall s), packets_per_s and the last
    InjectReport as a dict. ``stream_seconds`` defaults to the report's PCR duration.
    """
    best: tuple[float, float] | None = None
    report: InjectReport | None = None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.ts"
        for _ in range(repeat):
            cpu, wall, report = _timed(
                lambda: inject_si(ts, out, config=SiConfig(start_utc=start_utc), events=events)
            )
            best = (cpu, wall) if best is None or wall < best[1] else best
    assert best is not None and isinstance(report, InjectReport)
    seconds = stream_seconds or report.duration_s
    return {
        "cpu_s": best[0],
        "wall_s": best[1],
        "realtime": seconds / best[1],
        "realtime_cpu": seconds / best[0] if best[0] else float("inf"),
        "packets_per_s": report.packets / best[1],
        "report": report.as_dict(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--muxrate", default="2M")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="directory to keep the test stream in")
    ap.add_argument(
        "--hours",
        type=float,
        default=0.0,
        help="also inject into a stream this long (the clip repeated, PCR continuous), "
        "starting 30 min before midnight UTC",
    )
    args = ap.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="eit-bench-")) if args.keep is None else args.keep
    workdir.mkdir(parents=True, exist_ok=True)
    src = workdir / f"cbr-{args.seconds:g}s-{args.muxrate}.ts"
    if not src.exists():
        t0 = time.perf_counter()
        make_ts(src, args.seconds, args.muxrate)
        print(f"made {src.name}: {src.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s")
    size = src.stat().st_size
    events = week_of_lectures()
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")

    def copy() -> None:
        shutil.copyfile(src, workdir / "copy.ts")

    def chunk_loop() -> None:
        with open(workdir / "loop.ts", "wb") as out:
            for chunk in iter_chunks(src, 4096):
                out.write(chunk)

    rows: list[tuple[str, float, float]] = []
    for name, fn in (
        ("file copy", copy),
        ("chunked read/write loop", chunk_loop),
        ("inject_si (EIT p/f + 7-day schedule, TDT, TOT)", None),
        ("analyze (tv check)", lambda: analyze(workdir / "out.ts")),
    ):
        best = None
        for _ in range(args.repeat):
            if fn is None:
                cpu, wall, rep = _timed(
                    lambda: inject_si(
                        src, workdir / "out.ts", config=SiConfig(start_utc=START), events=events
                    )
                )
                inj_report = rep
            else:
                cpu, wall, _r = _timed(fn)
            best = (cpu, wall) if best is None or wall < best[1] else best
        assert best is not None
        rows.append((name, best[0], best[1]))

    packets = size // 188
    print(f"\nstream: {args.seconds:g} s at {args.muxrate}bit/s, {packets} packets, {size / 1e6:.1f} MB")
    print(f"{'step':<50} {'cpu s':>8} {'wall s':>8} {'× realtime':>11} {'packets/s':>11} {'÷ copy':>7}")
    base = rows[0][2]
    for name, cpu, wall in rows:
        print(
            f"{name:<50} {cpu:8.3f} {wall:8.3f} {args.seconds / wall:11.0f} {packets / wall:11.0f} {wall / base:7.1f}"
        )
    rep = inj_report.as_dict()  # type: ignore[union-attr]
    print(
        f"\ninjected {rep['si_packets']} SI packets into {rep['null_packets_in']} null packets; "
        f"sections {rep['sections']}; max intervals {rep['max_interval_s']}"
    )
    day = 86400 / (args.seconds / rows[2][2])
    print(f"a 24-hour day at this mux rate would take about {day:.0f} s to inject (extrapolated)")
    if args.hours:
        repeats = max(1, round(args.hours * 3600 / args.seconds))
        long = workdir / f"long-{repeats}x.ts"
        if not long.exists():
            t0 = time.perf_counter()
            lengthen(src, long, repeats)
            print(
                f"\nmade {long.name}: {long.stat().st_size / 1e9:.2f} GB in {time.perf_counter() - t0:.0f} s"
            )
        start = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)
        m = measure_injection(long, week_of_lectures(start - timedelta(days=1)), start_utc=start)
        r = m["report"]
        print(
            f"long stream {repeats * args.seconds / 3600:.2f} h: inject cpu {m['cpu_s']:.2f} s, wall {m['wall_s']:.2f} s, "
            f"{m['realtime']:.0f}× realtime (cpu {m['realtime_cpu']:.0f}×), {m['packets_per_s']:.0f} packets/s; "
            f"schedule versions {r['schedule_versions']}, p/f switches {len(r['pf_switches'])}, "
            f"max intervals {r['max_interval_s']}, violations {len(r['violations'])}"
        )
        cpu, wall, checked = _timed(lambda: analyze(long))
        print(
            f"long stream analyze: cpu {cpu:.2f} s, wall {wall:.2f} s, {repeats * args.seconds / wall:.0f}× realtime; "
            f"errors {[(f.code, f.count) for f in checked.errors]}"  # type: ignore[attr-defined]
        )
        if args.keep is None:
            long.unlink()
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.keep is None:
        shutil.rmtree(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: compose a generated 3-party session with a screen share to 720p, against bare ffmpeg running the same graph.

    .venv/bin/python bench/compose_speed.py                  # 10-minute session (the issue's figure)
    .venv/bin/python bench/compose_speed.py --seconds 120    # shorter, for a loaded machine
    .venv/bin/python bench/compose_speed.py --rounds 2

The session: three cameras (640x480@30 VP8, moving test pictures) with an Opus microphone each,
the active speaker changing every 6–20 s, a screen share (1280x720@5) through the middle third,
two presenter changes, a chat line every 30 s. "Composer" is ``media.composition.compose``
whole (reading the manifest and timeline, checking every track to its end, hashing the inputs,
the ffmpeg run, poster, WebVTT, chapters, the rename into place); "bare" is the identical
ffmpeg command line (same inputs, same ``-filter_complex_script``, same encoder settings)
started by hand. Both run in this process, alternately, on the same inputs, so their ratio
holds on a shared machine when absolute times do not. Goal (issue 10): composer / bare <= 1.05.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from media.composition import compose  # noqa: E402
from media.composition.compose import check_tracks  # noqa: E402
from media.composition.graph import Input, build_graph  # noqa: E402
from media.composition.layout import plan_layout  # noqa: E402
from media.composition.recording import read_recording  # noqa: E402
from media.transcode.ffmpeg import FFmpeg  # noqa: E402
from tests.helpers.composition import AudioTrack, VideoTrack, make_recording  # noqa: E402


def session(folder: Path, seconds: float, seed: int = 10, clip: float = 30.0) -> Path:
    """The session; each track is encoded for ``clip`` seconds and looped by stream copy to its length
    (encoding ten minutes of three moving VP8 cameras costs more than the benchmark itself on a loaded host)."""
    rnd = random.Random(seed)
    people = [("a", "Ana", 440), ("b", "Ben", 1000), ("c", "Cam", 700)]
    tracks: list[VideoTrack | AudioTrack] = []
    for n, (pid, name, tone) in enumerate(people):
        start = n * 0.7
        tracks.append(VideoTrack(f"v{pid}", pid, name, start=start, seconds=seconds - start, size="640x480", rate=30,
                                 pattern="testsrc2"))  # fmt: skip
        tracks.append(AudioTrack(f"a{pid}", pid, name, frequency=tone, start=start, seconds=seconds - start))
    share = seconds / 3
    tracks.append(VideoTrack("vs", "a", "Ana", start=share, seconds=share, size="1280x720", rate=5, source="screen",
                             pattern="testsrc"))  # fmt: skip
    events: list[dict[str, object]] = [
        {"t": 0.2, "type": "presenter", "participant_id": "a"},
        {"t": share, "type": "screenshare", "participant_id": "a", "track_id": "vs", "on": True},
        {"t": seconds / 2, "type": "presenter", "participant_id": "b"},
        {"t": 2 * seconds / 3 + 5, "type": "presenter", "participant_id": "c"},
    ]
    t = 1.0
    while t < seconds - 1:
        events.append({"t": round(t, 2), "type": "speaking", "participant_id": rnd.choice("abc")})
        t += rnd.uniform(6, 20)
    for k in range(int(seconds // 30)):
        events.append({"t": 15.0 + 30 * k, "type": "chat", "participant_id": "b", "display_name": "Ben",
                       "text": f"question {k + 1}", "message_id": f"m{k}"})  # fmt: skip
    short = [replace(t, seconds=min(t.seconds, clip)) for t in tracks]
    make_recording(folder, short, events)
    ff = FFmpeg.locate().binary
    for t in tracks:
        if t.seconds <= clip:
            continue
        path = folder / "tracks" / f"{t.id}.webm"
        looped = path.with_name(f"{t.id}.long.webm")
        subprocess.run([ff, "-hide_banner", "-loglevel", "error", "-y", "-stream_loop", "-1", "-i", str(path),
                        "-t", f"{t.seconds:.3f}", "-c", "copy", str(looped)], check=True)  # fmt: skip
        looped.replace(path)
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry, t in zip(manifest["tracks"], tracks, strict=True):
        entry["end"] = t.start + t.seconds
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return folder


def bare_command(rec_folder: Path, work: Path, threads: int) -> tuple[list[str], float]:
    """The ffmpeg command the composer runs, built from the same plan, to run by hand."""
    rec = read_recording(rec_folder)
    usable, _ = check_tracks(rec)
    import math

    from media.composition.layout import FPS

    duration = max(math.floor(max(rec.duration, *(u.end for u in usable)) * FPS) / FPS, 1.0)
    spans = {u.track.id: (u.start, u.end) for u in usable if u.track.kind == "video"}
    segments = plan_layout(rec, spans, duration)
    shown = {tile.track_id for seg in segments for tile in seg.tiles}
    inputs = [Input(u.track.id, u.track.kind, str(rec.path(u.track)), u.start)
              for u in usable if u.track.kind == "audio" or u.track.id in shown]  # fmt: skip
    graph = build_graph(inputs, segments, duration, threads=threads)
    script = work / "graph.txt"
    script.write_text(graph.filter_script)
    return graph.args(str(script)), duration


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "?")  # fmt: skip
    return f"{platform.node()}: {os.cpu_count()} cores, {model}, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--rounds", type=int, default=1, help="bare/composer pairs, alternating")
    parser.add_argument("--threads", type=int, default=2, help="x264 threads (jobs.ffmpeg_threads)")
    parser.add_argument("--keep", type=Path, help="generate the session into this folder once and reuse it")
    args = parser.parse_args()
    ff = FFmpeg.locate()
    with tempfile.TemporaryDirectory(prefix="compose-bench-") as tmp:
        work = Path(tmp)
        rec = (args.keep or work) / f"rec-{args.seconds:g}s"
        if not (rec / "timeline.jsonl").is_file():
            t0 = time.monotonic()
            print(
                f"making a {args.seconds:g} s 3-party session with a screen share in {rec} ...",
                file=sys.stderr,
            )
            session(rec, args.seconds)
            print(f"  made in {time.monotonic() - t0:.0f} s", file=sys.stderr)
        cmd, duration = bare_command(rec, work, args.threads)
        bare: list[tuple[float, float]] = []
        comp: list[tuple[float, float]] = []
        for r in range(args.rounds):
            out = work / f"bare-{r}.mp4"
            c0, w0 = children_cpu(), time.monotonic()
            subprocess.run(
                [ff.binary, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *cmd, str(out)],
                check=True,
            )
            bare.append((time.monotonic() - w0, children_cpu() - c0))
            print(f"  bare {r + 1}: {bare[-1][0]:.1f} s wall, {bare[-1][1]:.1f} CPU s, load {os.getloadavg()[0]:.1f}",
                  file=sys.stderr)  # fmt: skip
            out_root = work / f"out-{r}"
            c0, p0, w0 = children_cpu(), time.process_time(), time.monotonic()
            result = compose(rec, out_root, ffmpeg=ff, threads=args.threads)
            comp.append((time.monotonic() - w0, children_cpu() - c0 + time.process_time() - p0))
            print(f"  composer {r + 1}: {comp[-1][0]:.1f} s wall, {comp[-1][1]:.1f} CPU s, "
                  f"{len(result.report['segments'])} segments, load {os.getloadavg()[0]:.1f}", file=sys.stderr)  # fmt: skip
            shutil.rmtree(out_root)
    bw, bc = (sum(x[i] for x in bare) / len(bare) for i in (0, 1))
    cw, cc = (sum(x[i] for x in comp) / len(comp) for i in (0, 1))
    print(f"machine: {machine()}; load average at the end {os.getloadavg()[0]:.1f}")
    print(f"session: {duration:.0f} s, 3 cameras 640x480@30 VP8 + 3 Opus + screen 1280x720@5; output 1280x720@25 "
          f"H.264 veryfast crf 23 ({args.threads} threads) + AAC; rounds: {args.rounds}")  # fmt: skip
    print("| run | wall s | CPU s | realtime (wall) |")
    print("|---|---|---|---|")
    print(f"| bare ffmpeg, same graph and arguments | {bw:.1f} | {bc:.1f} | {duration / bw:.2f}x |")
    print(f"| composer (`media.composition.compose`) | {cw:.1f} | {cc:.1f} | {duration / cw:.2f}x |")
    print(f"composer / bare: wall {cw / bw:.3f}, CPU {cc / bc:.3f} (goal <= 1.05)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

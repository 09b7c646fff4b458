"""The one ffmpeg run that makes a lecture video: inputs, a ``-filter_complex`` graph, H.264/AAC output.

    g = build_graph(inputs, segments, duration)
    g.filter_script          # the graph as text (written to a file: long sessions outgrow argv)
    g.args(script_path)      # ffmpeg arguments before the output file

A track file's timestamps are 0 at the track's ``start`` and keep its gaps (docs/recording-format.md),
so each video track is put on the session clock by adding its start (``setpts``), split once per segment that
shows it, trimmed to that segment and scaled into its tile over a black 1280×720 base; the
segments are concatenated. Trimming before scaling means a frame is scaled only when shown.
Every audio track is put on the session clock with silence before it and in its gaps
(``aresample`` async filling), then all are mixed at unit gain and padded to the video's length.
The graph is built as text by this module rather than through ffmpeg-python (docs/DECISIONS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from media.composition.layout import FPS, HEIGHT, WIDTH, Segment


@dataclass(frozen=True)
class Input:
    track_id: str
    kind: str  # audio | video
    path: str
    start: float  # the track's first frame on the session clock


@dataclass(frozen=True)
class Graph:
    inputs: tuple[Input, ...]
    filter_script: str
    duration: float
    encode: tuple[str, ...]

    def args(self, script_path: str) -> list[str]:
        out: list[str] = []
        for i in self.inputs:
            out += ["-i", i.path]
        return [*out, "-filter_complex_script", script_path, "-map", "[vout]", "-map", "[aout]", *self.encode]


def encode_args(duration: float, *, threads: int = 0) -> tuple[str, ...]:
    """H.264 (keyframe every 2 s, so HLS cuts by remux come out even) + AAC, fast start."""
    return (
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
        "-g", str(2 * FPS), "-keyint_min", str(2 * FPS), "-sc_threshold", "0", "-r", str(FPS),
        *(["-threads", str(threads)] if threads else []),
        "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2",
        "-t", f"{duration:.3f}", "-max_muxing_queue_size", "4096",
        "-map_metadata", "-1", "-movflags", "+faststart", "-f", "mp4",
    )  # fmt: skip


def _n(x: float) -> str:
    return f"{x:.6f}".rstrip("0").rstrip(".") or "0"


def build_graph(
    inputs: Sequence[Input], segments: Sequence[Segment], duration: float, *, threads: int = 0
) -> Graph:
    index = {inp.track_id: n for n, inp in enumerate(inputs)}
    uses: dict[str, int] = {}
    for seg in segments:
        for tile in seg.tiles:
            uses[tile.track_id] = uses.get(tile.track_id, 0) + 1
    lines: list[str] = []
    taken: dict[str, int] = {}
    for tid, count in uses.items():
        n = index[tid]
        outs = "".join(f"[v{n}_{k}]" for k in range(count))
        lines.append(f"[{n}:v:0]setpts=PTS+{_n(inputs[n].start)}/TB,split={count}{outs}")
        taken[tid] = 0
    seg_labels = []
    for j, seg in enumerate(segments):
        length = seg.end - seg.start
        base = f"b{j}"
        lines.append(
            f"color=c=black:s={WIDTH}x{HEIGHT}:r={FPS}:d={_n(length)},format=yuv420p,setsar=1[{base}]"
        )
        for m, tile in enumerate(seg.tiles):
            n = index[tile.track_id]
            k = taken[tile.track_id]
            taken[tile.track_id] = k + 1
            lines.append(
                f"[v{n}_{k}]trim=start={_n(seg.start)}:end={_n(seg.end)},setpts=PTS-{_n(seg.start)}/TB,"
                f"scale={tile.w}:{tile.h}:force_original_aspect_ratio=decrease,"
                f"pad={tile.w}:{tile.h}:(ow-iw)/2:(oh-ih)/2,setsar=1[t{j}_{m}]"
            )
            nxt = f"b{j}_{m}"
            lines.append(
                f"[{base}][t{j}_{m}]overlay=x={tile.x}:y={tile.y}:eof_action=pass:format=yuv420[{nxt}]"
            )
            base = nxt
        seg_labels.append(base)
    if len(seg_labels) == 1:
        lines.append(f"[{seg_labels[0]}]format=yuv420p[vout]")
    else:
        lines.append(
            "".join(f"[{s}]" for s in seg_labels) + f"concat=n={len(seg_labels)}:v=1:a=0,format=yuv420p[vout]"
        )
    audio = [n for n, inp in enumerate(inputs) if inp.kind == "audio"]
    for n in audio:
        lines.append(
            f"[{n}:a:0]asetpts=PTS+{_n(inputs[n].start)}/TB,aresample=48000:async=1:first_pts=0,"
            f"aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo[a{n}]"
        )
    d = _n(duration)
    if not audio:
        lines.append(f"anullsrc=r=48000:cl=stereo,atrim=end={d}[aout]")
    elif len(audio) == 1:
        lines.append(f"[a{audio[0]}]apad=whole_dur={d},atrim=end={d}[aout]")
    else:
        mix = "".join(f"[a{n}]" for n in audio)
        lines.append(f"{mix}amix=inputs={len(audio)}:duration=longest:dropout_transition=0:normalize=0,"
                     f"apad=whole_dur={d},atrim=end={d}[aout]")  # fmt: skip
    return Graph(tuple(inputs), ";\n".join(lines) + "\n", duration, encode_args(duration, threads=threads))

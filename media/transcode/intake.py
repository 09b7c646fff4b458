"""Media handed in from outside (an upload, an import): checked whole, then normalised for the archive.

    info = inspect(Path("talk.webm"), IntakeLimits(max_seconds=3600, max_height=2160))
    normalise(ff, Path("talk.webm"), Path("talk.mp4"), info, max_height=720)

``inspect`` reads every packet (no decoding) so a file cut short is caught even
when its header promises the whole length, and decodes the first picture so a
file whose codec data is garbage is caught too. ``normalise`` gives the
archive's one format, MP4 with H.264 picture and AAC sound: a remux when the
file already is that and no taller than the archive keeps, an encode otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from fileio.message import Messages
from media.errors import MediaError
from media.transcode.ffmpeg import FFmpeg
from media.transcode.probe import MediaInfo, NotMediaFile, probe

# A stream that ends this much before the container's stated duration (seconds, or this fraction of it,
# whichever is larger) was cut short. Encoders leave small gaps at the end; a truncated file loses more.
TRUNCATION_SLACK_SECONDS = 1.0
TRUNCATION_SLACK_FRACTION = 0.02


# why a file is refused at intake (beside probe's NOT_MEDIA; the hand-in page words archive.msg.<code>)
REFUSALS = Messages({
    "media_no_index": "{file} starts like {container} but cannot be read: its index is missing, so the file was "
                      "cut short (send the whole file again)",
    "media_no_picture": "{file} has no picture: a video file is needed",
    "media_empty": "{file} holds no audio or video packets: the file is empty or cut short",
    "media_truncated": "{file} is truncated: its header says {stated} s but the data stops at {stops} s "
                       "(the upload or copy did not finish; send the whole file again)",
    "media_too_long": "{file} lasts {length}; at most {limit} is accepted",
    "media_too_tall": "{file} is {width}x{height}; pictures at most {limit} lines tall are accepted",
    "media_damaged": "{file} is damaged or cut short: reading it failed ({detail})",
    "media_undecodable": "{file}: no picture in it could be decoded; the file is damaged or cut short",
})  # fmt: skip


class TruncatedMedia(MediaError):
    """The file's packets stop before its stated end, or its last packets are broken."""


class OverLimit(MediaError):
    """The file is valid media but longer, taller or otherwise beyond what is accepted."""


@dataclass(frozen=True)
class IntakeLimits:
    max_seconds: float
    max_height: int
    require_video: bool = True


def inspect(path: Path, limits: IntakeLimits) -> MediaInfo:
    """``probe`` plus a full packet scan; raises ``NotMediaFile``, ``TruncatedMedia`` or ``OverLimit``."""
    name = path.name
    try:
        info = probe(path)
    except NotMediaFile:
        container = _container_signature(path)
        if container:
            raise TruncatedMedia(REFUSALS.make("media_no_index", file=name, container=container).text) from None
        raise
    if limits.require_video and not info.has_video:
        raise NotMediaFile(REFUSALS.make("media_no_picture", file=name).text)
    ends = _scan(path, name)
    if not ends:
        raise TruncatedMedia(REFUSALS.make("media_empty", file=name).text)
    if info.duration > 0:
        slack = max(TRUNCATION_SLACK_SECONDS, info.duration * TRUNCATION_SLACK_FRACTION)
        short = min(ends.values())
        if short < info.duration - slack:
            raise TruncatedMedia(REFUSALS.make("media_truncated", file=name, stated=f"{info.duration:.1f}",
                                               stops=f"{short:.1f}").text)  # fmt: skip
    duration = info.duration or max(ends.values())
    if duration > limits.max_seconds:
        raise OverLimit(REFUSALS.make("media_too_long", file=name, length=_clock(duration),
                                         limit=_clock(limits.max_seconds)).text)  # fmt: skip
    if info.size is not None and info.size[1] > limits.max_height:
        raise OverLimit(REFUSALS.make("media_too_tall", file=name, width=info.size[0], height=info.size[1],
                                         limit=limits.max_height).text)  # fmt: skip
    return info if info.duration else MediaInfo(info.path, info.format, duration, info.bit_rate, info.streams)


def _scan(path: Path, name: str) -> dict[int, float]:
    """Each audio/video stream's last packet end in seconds; decodes the first picture on the way."""
    ends: dict[int, float] = {}
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            wanted = [s for s in container.streams if s.type in ("video", "audio")]
            picture_checked = not any(s.type == "video" for s in wanted)
            for packet in container.demux(wanted):
                if packet.pts is None or packet.time_base is None:
                    continue
                end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                start = float(packet.stream.start_time * packet.time_base) if packet.stream.start_time else 0.0
                ends[packet.stream.index] = max(ends.get(packet.stream.index, 0.0), end - start)
                if not picture_checked and packet.stream.type == "video":
                    frames = packet.decode()
                    picture_checked = bool(frames)
    except av.error.FFmpegError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise TruncatedMedia(REFUSALS.make("media_damaged", file=name, detail=reason).text) from exc
    if not picture_checked and ends:
        raise TruncatedMedia(REFUSALS.make("media_undecodable", file=name).text)
    return ends


def _container_signature(path: Path) -> str | None:
    """The container a file's first bytes announce (MP4/MOV ``ftyp``, Matroska/WebM EBML), if any."""
    try:
        with path.open("rb") as f:
            head = f.read(12)
    except OSError:
        return None
    if head[4:8] == b"ftyp":
        return "an MP4 video"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "a WebM/Matroska video"
    return None


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def is_archive_format(info: MediaInfo, max_height: int) -> bool:
    """True when a remux is enough: H.264 picture (4:2:0 is assumed of H.264 in the wild), AAC sound."""
    video, audio = info.video, info.audio
    if video is None or video.codec != "h264" or (video.height or 0) > max_height:
        return False
    return audio is None or audio.codec == "aac"


def normalise(ff: FFmpeg, source: Path, output: Path, info: MediaInfo, *, max_height: int = 720) -> bool:
    """Write ``source`` as the archive's MP4 (H.264/AAC, fast start) to ``output``; True when re-encoded.

    Keyframes every 2 s on encode, so HLS segments cut by remux come out even.
    """
    maps = ["-map", "0:v:0"] + (["-map", "0:a:0"] if info.has_audio else [])
    common = ["-map_metadata", "-1", "-map_chapters", "-1", "-movflags", "+faststart", "-f", "mp4"]
    if is_archive_format(info, max_height):
        ff.run(["-i", str(source), *maps, "-c", "copy", *common], output=output, subject=source.name,
               duration=info.duration)  # fmt: skip
        return False
    height = min(info.size[1] if info.size else max_height, max_height)
    height -= height % 2
    audio = ["-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2"] if info.has_audio else []
    ff.run(
        ["-i", str(source), *maps,
         "-vf", f"scale=-2:{height}:flags=bicubic,format=yuv420p",
         "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-profile:v", "high",
         "-force_key_frames", "expr:gte(t,n_forced*2)", *audio, *common],
        output=output, subject=source.name, duration=info.duration, nice=10,
    )  # fmt: skip
    return True


def read_chapters(path: Path) -> list[tuple[float, str]]:
    """The chapters a file carries (MP4/Matroska chapter marks) as (start seconds, title), in order."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            marks = container.chapters()
    except av.error.FFmpegError:
        return []
    out = []
    for n, c in enumerate(marks, 1):
        title = (c.get("metadata") or {}).get("title") or f"Chapter {n}"
        out.append((float(c["start"] * c["time_base"]), title))
    return sorted(out)

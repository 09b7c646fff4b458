"""What a media file holds (duration, streams, codecs, picture size, frame rate), read with PyAV.

    info = probe(Path("lecture.mp4"))
    info.duration, info.has_audio, info.size, info.frame_rate

PyAV ships its own FFmpeg libraries, so probing works without ffprobe; a file
that is not media raises ``NotMediaFile`` with a sentence a user can act on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from fileio.message import Messages
from media.errors import MediaError

# Demuxers that accept nearly anything and are never a lecture: any text file opens as ``tty``
# (ANSI art), and a single picture opens as a one-frame video.
TEXT_FORMATS = frozenset({"tty"})
STILL_IMAGE_SUFFIX = "_pipe"
STILL_IMAGE_FORMATS = frozenset({"image2"})


class NotMediaFile(MediaError):
    """The input exists but holds no audio or video a decoder recognises."""


@dataclass(frozen=True)
class StreamInfo:
    """One elementary stream; picture fields are None for audio and the reverse."""

    index: int
    kind: str  # "video", "audio", "subtitle", "data", ...
    codec: str
    bit_rate: int | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: Fraction | None = None
    sample_aspect_ratio: Fraction | None = None
    profile: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    language: str | None = None


@dataclass(frozen=True)
class MediaInfo:
    """A probed file: container, duration in seconds and its streams."""

    path: Path
    format: str
    duration: float
    bit_rate: int | None
    streams: tuple[StreamInfo, ...]

    @property
    def video(self) -> StreamInfo | None:
        return next((s for s in self.streams if s.kind == "video"), None)

    @property
    def audio(self) -> StreamInfo | None:
        return next((s for s in self.streams if s.kind == "audio"), None)

    @property
    def has_video(self) -> bool:
        return self.video is not None

    @property
    def has_audio(self) -> bool:
        return self.audio is not None

    @property
    def size(self) -> tuple[int, int] | None:
        video = self.video
        if video is None or video.width is None or video.height is None:
            return None
        return (video.width, video.height)

    @property
    def frame_rate(self) -> float | None:
        video = self.video
        return float(video.frame_rate) if video is not None and video.frame_rate else None


# why a file is not media (the hand-in page words archive.msg.<code>); {file} is the path, or the name shown
NOT_MEDIA = Messages({
    "media_missing": "{file} does not exist",
    "media_directory": "{file} is a directory, not a media file",
    "media_unreadable": "{file} is not a media file ffmpeg can read ({detail})",
    "media_text": "{file} is not a media file: it looks like text",
    "media_image": "{file} is not a media file: it is a still image ({format})",
    "media_no_streams": "{file} is not a media file: it has no audio or video stream",
})  # fmt: skip


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Open ``path`` and describe it; ``NotMediaFile`` when it is missing or not audio/video."""
    path = Path(path)
    if not path.exists():
        raise NotMediaFile(NOT_MEDIA.make("media_missing", file=path).text)
    if path.is_dir():
        raise NotMediaFile(NOT_MEDIA.make("media_directory", file=path).text)
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise NotMediaFile(NOT_MEDIA.make("media_unreadable", file=path, detail=reason).text) from exc
    with container:
        fmt = container.format.name
        if fmt in TEXT_FORMATS:
            raise NotMediaFile(NOT_MEDIA.make("media_text", file=path).text)
        if fmt in STILL_IMAGE_FORMATS or fmt.endswith(STILL_IMAGE_SUFFIX):
            raise NotMediaFile(NOT_MEDIA.make("media_image", file=path, format=fmt.removesuffix("_pipe")).text)
        streams = tuple(_stream_info(stream) for stream in container.streams)
        if not any(s.kind in ("video", "audio") for s in streams):
            raise NotMediaFile(NOT_MEDIA.make("media_no_streams", file=path).text)
        duration = _duration(container)
        return MediaInfo(
            path=path,
            format=container.format.name,
            duration=duration,
            bit_rate=container.bit_rate or None,
            streams=streams,
        )


def _stream_info(stream: av.stream.Stream) -> StreamInfo:
    ctx = stream.codec_context
    kind = stream.type
    codec = ctx.name if ctx is not None and ctx.name else "unknown"
    language = stream.metadata.get("language") if stream.metadata else None
    common = dict(index=stream.index, kind=kind, codec=codec, bit_rate=(ctx.bit_rate or None) if ctx else None,
                  language=language)
    if kind == "video":
        rate = stream.average_rate or stream.base_rate or getattr(stream, "guessed_rate", None)
        sar = stream.sample_aspect_ratio
        return StreamInfo(
            **common,
            width=ctx.width or None,
            height=ctx.height or None,
            frame_rate=Fraction(rate) if rate else None,
            sample_aspect_ratio=Fraction(sar) if sar else None,
            profile=ctx.profile or None,
        )
    if kind == "audio":
        return StreamInfo(
            **common,
            sample_rate=ctx.sample_rate or None,
            channels=ctx.layout.nb_channels if ctx.layout is not None else None,
            profile=ctx.profile or None,
        )
    return StreamInfo(**common)


def _duration(container: av.container.InputContainer) -> float:
    """Container duration, else the longest stream's, else the last packet's end (raw streams)."""
    if container.duration:
        return container.duration / av.time_base
    longest = 0.0
    for stream in container.streams:
        if stream.duration and stream.time_base:
            longest = max(longest, float(stream.duration * stream.time_base))
    if longest:
        return longest
    end = 0.0
    for packet in container.demux():
        if packet.pts is not None and packet.time_base:
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    return end

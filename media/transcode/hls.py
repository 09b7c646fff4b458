"""HLS for playback, cut from an archived MP4 by remux: fMP4 segments and a VOD playlist, no re-encode.

    rendition = cut_hls(ff, Path("lecture.mp4"), Path("out/hls"), segment_seconds=6)
    rendition.files      # ("index.m3u8", "init.mp4", "seg_00000.m4s", ...)

The picture and sound are copied as they are (``-c copy``), so cutting costs a
read and a write of the file, and segments start on the source's keyframes. The
renditions are written into a temporary folder beside ``out_dir`` and renamed
only when ffmpeg succeeded and the playlist covers the whole source, so a
half-cut rendition is never visible under its final name.
"""

from __future__ import annotations

import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from media.errors import MediaError
from media.transcode.ffmpeg import FFmpeg
from media.transcode.probe import probe

PLAYLIST = "index.m3u8"
INIT = "init.mp4"

# Codecs an fMP4 HLS player in a browser (hls.js over MSE) takes as they are.
HLS_VIDEO = frozenset({"h264", "hevc", "av1", "vp9"})
HLS_AUDIO = frozenset({"aac", "mp3", "opus", "ac3", "eac3", "flac"})

_EXTINF = re.compile(r"^#EXTINF:([0-9.]+)", re.M)


class HlsError(MediaError):
    """The source cannot be cut for HLS as it is, or the cut came out short."""


@dataclass(frozen=True)
class HlsRendition:
    """A finished rendition: its folder, the playlist's name and every file a player fetches."""

    directory: Path
    playlist: str
    files: tuple[str, ...]
    duration: float


def cut_hls(ff: FFmpeg, source: Path, out_dir: Path, *, segment_seconds: float = 6.0) -> HlsRendition:
    """Remux ``source`` into ``out_dir`` (created; must not exist) as fMP4 HLS; ``HlsError`` on failure."""
    info = probe(source)
    if info.video is not None and info.video.codec not in HLS_VIDEO:
        raise HlsError(f"{source}: video codec {info.video.codec} cannot be cut for HLS without re-encoding")
    if info.audio is not None and info.audio.codec not in HLS_AUDIO:
        raise HlsError(f"{source}: audio codec {info.audio.codec} cannot be cut for HLS without re-encoding")
    if out_dir.exists():
        raise HlsError(f"{out_dir} exists already; a rendition is written once")
    temp = out_dir.with_name(f".{out_dir.name}.part-{uuid.uuid4().hex[:8]}")
    temp.mkdir(parents=True)
    try:
        maps = (["-map", "0:v:0"] if info.has_video else []) + (["-map", "0:a:0"] if info.has_audio else [])
        ff.run(
            ["-i", str(source), *maps, "-c", "copy", "-f", "hls",
             "-hls_time", f"{segment_seconds:g}", "-hls_playlist_type", "vod", "-hls_list_size", "0",
             "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", INIT,
             "-hls_flags", "independent_segments",
             "-hls_segment_filename", str(temp / "seg_%05d.m4s"), str(temp / PLAYLIST)],
            subject=source, duration=info.duration, nice=10,
        )  # fmt: skip
        text = (temp / PLAYLIST).read_text()
        segments = [line for line in text.splitlines() if line and not line.startswith("#")]
        covered = sum(float(x) for x in _EXTINF.findall(text))
        if not segments or "#EXT-X-ENDLIST" not in text:
            raise HlsError(f"{source}: ffmpeg wrote an incomplete playlist")
        if info.duration and covered < info.duration - max(1.0, segment_seconds):
            raise HlsError(f"{source}: the playlist covers {covered:.1f} s of {info.duration:.1f} s")
        files = (PLAYLIST, INIT, *segments)
        missing = [f for f in files if not (temp / f).is_file()]
        if missing:
            raise HlsError(f"{source}: ffmpeg did not write {', '.join(missing)}")
        temp.rename(out_dir)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return HlsRendition(out_dir, PLAYLIST, files, covered)

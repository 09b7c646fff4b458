"""Broadcast profiles: what a packaged stream must be, as TOML data files an operator can override.

    profile = load_profile("hd-720p25")                          # shipped in media/transcode/profiles/
    profile = load_profile("hd-720p25", extra_dirs=[Path("/etc/aulacast/profiles")])
    profile.video.bitrate, profile.transport.video_pid, profile.loudness.integrated

A profile names the picture (size, rate, scan, codec, GOP, CBR bitrate and VBV
buffer), the sound (codec, bitrate, channels, 48 kHz), the transport stream
(mux rate and PIDs) and the loudness target: encoding parameters only. The
service a stream carries (SDT name, provider, DVB ids) is the channel's
(``media.transcode.service``, set in the channel file) and is bound with
``profile.for_service(service)``; a profile file still naming one is refused
with a message saying where it moved.
Operators add or replace profiles by dropping ``NAME.toml`` into a directory
of their own; the files are checked when loaded, and a bad one is refused with
a message naming the file, the line and the key (``fileio``'s reader), because
a wrong PID or a mux rate below the payload only shows up later as a broken
stream at the head-end.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from fileio import Document, FileFormatError, Reader, read_toml
from fileio.document import KeyPath
from fileio.reader import show
from media.errors import MediaError
from media.transcode.service import DEFAULT_SERVICE, Service

SHIPPED_DIR = Path(__file__).with_name("profiles")

VIDEO_CODECS = {"h264": ("high", "main"), "mpeg2video": ("main",)}
AUDIO_CODECS = ("mp2", "aac", "ac3")
SCANS = ("progressive", "interlaced-tff")
ASPECTS = ("4:3", "16:9")
SAMPLE_RATE = 48000
# MPEG-1 Layer II and AC-3 only have these bitrates (bit/s); AAC takes any in range.
MP2_BITRATES = (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384)
AC3_BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 576, 640)

# What the mux needs beyond the elementary streams: TS/PES headers and PCR
# adaptation fields (about 3-4 %), PAT/PMT every 100 ms, SDT/NIT, and room in
# the null packets for the EIT/TDT/TOT the injector puts there later.
MUX_OVERHEAD_FRACTION = 0.04
SI_RESERVE_BPS = 150_000

FIRST_USABLE_PID = 0x0020  # 0x0000-0x001F are reserved for PAT, CAT, TSDT, NIT, SDT, EIT, TDT...
NULL_PID = 0x1FFF
FFMPEG_MAX_PID = 0x1FFA  # ffmpeg's mpegts muxer refuses PMT/start PIDs above 8186

MOVED_TO_CHANNEL = {"service_name": "name", "provider_name": "provider", "service_id": "id",
                    "original_network_id": "original_network_id", "transport_stream_id": "transport_stream_id"}
"""Keys older profile files had under [transport], and where each lives in the channel file now."""

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ProfileError(FileFormatError, MediaError):
    """A profile file that cannot be used: ``FILE:LINE: KEY: problem`` (the line when read from a file)."""

    def __init__(self, message: str, *, file: str = "<profile>", line: int | None = None, key: str | None = None):
        FileFormatError.__init__(self, message, file=file, line=line, key=key)

    @property
    def source(self) -> str:
        return self.file

    @property
    def problem(self) -> str:
        return self.message


class ProfileNotFound(MediaError):
    """No profile of that name in the operator's directories or the shipped ones."""


@dataclass(frozen=True)
class VideoSpec:
    """The picture: codec and its profile, raster, rate, scan, GOP and constant bitrate with VBV."""

    codec: str  # "h264" | "mpeg2video"
    profile: str  # h264: "high" | "main"; mpeg2video: "main" (Main@Main)
    level: str | None
    width: int
    height: int
    frame_rate: Fraction  # frames per second (25 for 1080i25: 50 fields)
    scan: str  # "progressive" | "interlaced-tff"
    aspect: str  # display aspect, "16:9" or "4:3"
    gop: int  # frames between IDR/I pictures
    bitrate: int  # bit/s, constant
    bufsize: int  # VBV buffer in bits

    @property
    def interlaced(self) -> bool:
        return self.scan == "interlaced-tff"


@dataclass(frozen=True)
class AudioSpec:
    """The sound: codec, constant bitrate, channels, sample rate (always 48 kHz for broadcast)."""

    codec: str  # "mp2" | "aac" | "ac3"
    bitrate: int
    channels: int
    sample_rate: int


@dataclass(frozen=True)
class TransportSpec:
    """The transport stream: constant mux rate and PIDs (the service's ids and names are the channel's)."""

    mux_rate: int
    pmt_pid: int
    video_pid: int
    audio_pid: int

    @property
    def pcr_pid(self) -> int:
        return self.video_pid


@dataclass(frozen=True)
class LoudnessTarget:
    """EBU R128 target: integrated loudness (LUFS), maximum true peak (dBTP), loudness range (LU)."""

    integrated: float = -23.0
    true_peak: float = -1.0
    range: float = 20.0
    tolerance: float = 0.5  # R128 allows +-0.5 LU around the target for file-based delivery


@dataclass(frozen=True)
class Profile:
    """One broadcast profile, as loaded and checked from ``source``."""

    name: str
    source: Path
    description: str
    video: VideoSpec
    audio: AudioSpec
    transport: TransportSpec
    loudness: LoudnessTarget
    service: Service = field(default=DEFAULT_SERVICE)

    def for_service(self, service: Service) -> Profile:
        """This profile carrying ``service`` (a channel's identity) in what it packages."""
        return replace(self, service=service)

    @property
    def service_type(self) -> int:
        """SDT service_type: 0x19 advanced codec HD for H.264 HD, 0x16 for H.264 SD, 0x01 for MPEG-2."""
        if self.video.codec == "h264":
            return 0x19 if self.video.height >= 720 else 0x16
        return 0x01

    @property
    def payload_bps(self) -> int:
        return self.video.bitrate + self.audio.bitrate

    @property
    def required_mux_rate(self) -> int:
        return int(self.payload_bps * (1 + MUX_OVERHEAD_FRACTION)) + SI_RESERVE_BPS


def profile_dirs(extra_dirs: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    """Where profiles are looked up: the operator's directories first (in order), then the shipped one."""
    return [Path(d) for d in extra_dirs] + [SHIPPED_DIR]


def available_profiles(extra_dirs: Iterable[str | os.PathLike[str]] = ()) -> dict[str, Path]:
    """Every profile name and the file that wins for it (an operator's file hides a shipped one)."""
    found: dict[str, Path] = {}
    for directory in profile_dirs(extra_dirs):
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            found.setdefault(path.stem, path)
    return dict(sorted(found.items()))


def find_profile(name: str, extra_dirs: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """The file for profile ``name``; a path to a ``.toml`` file is taken as it is."""
    if name.endswith(".toml"):
        path = Path(name)
        if path.is_file():
            return path
        raise ProfileNotFound(f"profile file {name} does not exist")
    if not NAME_PATTERN.match(name):
        raise ProfileNotFound(f"{name!r} is not a profile name (letters, digits, '.', '_', '-')")
    for directory in profile_dirs(extra_dirs):
        candidate = directory / f"{name}.toml"
        if candidate.is_file():
            return candidate
    known = ", ".join(available_profiles(extra_dirs)) or "none"
    raise ProfileNotFound(f"no profile named {name!r} (known: {known})")


def load_profile(name: str, extra_dirs: Iterable[str | os.PathLike[str]] = ()) -> Profile:
    """The checked profile ``name`` (or a path to a ``.toml`` file); ``ProfileError`` names file and key."""
    for directory in extra_dirs:
        if not Path(directory).is_dir():
            raise ProfileNotFound(f"profiles directory {directory} does not exist")
    return load_profile_file(find_profile(name, extra_dirs))


def load_profile_file(path: Path) -> Profile:
    """Parse and check one profile file; errors carry the line of the key."""
    return _profile(Reader(read_toml(path, error=ProfileError), error=ProfileError), Path(path), path.stem)


def parse_profile(data: Mapping[str, Any], *, source: Path, name: str) -> Profile:
    """Build a ``Profile`` from parsed TOML, refusing anything a stream could not carry."""
    doc = Document.of(dict(data), str(source), implicit=False)
    return _profile(Reader(doc, error=ProfileError), source, name)


def _profile(r: Reader, source: Path, name: str) -> Profile:
    def known(table: str, keys: tuple[str, ...]) -> None:
        r.mapping((table,) if table else (), optional=keys, default={})

    def integer(key: str, low: int, high: int) -> int:
        return r.integer(_path(key), low, high)

    def string(key: str, *, required: bool = True, max_bytes: int = 200) -> str | None:
        if not required and not r.has(_path(key)):
            return None
        return r.text(_path(key), max_bytes=max_bytes)

    def fail(key: str, problem: str) -> None:
        raise r.fail(_path(key), problem)

    known("", ("description", "video", "audio", "transport", "loudness"))
    description = string("description", required=False) or name

    known("video", ("codec", "profile", "level", "width", "height", "frame_rate", "scan", "aspect", "gop",
                    "bitrate", "bufsize"))
    codec = r.choice(_path("video.codec"), tuple(VIDEO_CODECS))
    profile = r.choice(_path("video.profile"), VIDEO_CODECS[codec])
    level = string("video.level", required=False)
    width = integer("video.width", 16, 4096)
    height = integer("video.height", 16, 2304)
    frame_rate = _rate(r, "video.frame_rate")
    scan = r.choice(_path("video.scan"), SCANS)
    if scan == "interlaced-tff" and height % 2:
        fail("video.height", f"{height} lines cannot be split into two fields")
    aspect_given = string("video.aspect", required=codec == "mpeg2video")
    aspect = aspect_given or "16:9"
    if aspect not in ASPECTS:
        fail("video.aspect", f"must be one of {', '.join(ASPECTS)}, not {aspect!r}")
    gop = integer("video.gop", 1, 600)
    video_bitrate = integer("video.bitrate", 100_000, 100_000_000)
    bufsize = integer("video.bufsize", 10_000, 200_000_000)
    video = VideoSpec(codec, profile, level, width, height, frame_rate, scan, aspect, gop, video_bitrate, bufsize)

    known("audio", ("codec", "bitrate", "channels", "sample_rate"))
    acodec = r.choice(_path("audio.codec"), AUDIO_CODECS)
    abitrate = integer("audio.bitrate", 32_000, 640_000)
    if acodec == "mp2" and abitrate // 1000 not in MP2_BITRATES or acodec == "ac3" and abitrate // 1000 not in AC3_BITRATES:
        allowed = MP2_BITRATES if acodec == "mp2" else AC3_BITRATES
        fail("audio.bitrate", f"{abitrate} is not a {acodec} bitrate (kbit/s: {', '.join(map(str, allowed))})")
    channels = integer("audio.channels", 1, 6 if acodec == "ac3" else 2)
    sample_rate = integer("audio.sample_rate", 1, 1_000_000)
    if sample_rate != SAMPLE_RATE:
        fail("audio.sample_rate", f"broadcast audio is {SAMPLE_RATE} Hz, not {sample_rate}")
    audio = AudioSpec(acodec, abitrate, channels, sample_rate)

    for key, moved in MOVED_TO_CHANNEL.items():
        if r.has(_path(f"transport.{key}")):
            fail(f"transport.{key}", f"the service identity belongs to the channel now: set it as "
                                     f"channel.service.{moved} in the channel file and delete this key from the "
                                     "profile (docs/broadcast-engineer.md, 'The channel's service')")
    known("transport", ("mux_rate", "pmt_pid", "video_pid", "audio_pid"))
    mux_rate = integer("transport.mux_rate", 500_000, 200_000_000)
    pids = {key: _pid(r, f"transport.{key}") for key in ("pmt_pid", "video_pid", "audio_pid")}
    seen: dict[int, str] = {}
    for key, pid in pids.items():
        if pid in seen:
            fail(f"transport.{key}", f"PID 0x{pid:04X} is already used by transport.{seen[pid]}")
        seen[pid] = key
    transport = TransportSpec(mux_rate, pids["pmt_pid"], pids["video_pid"], pids["audio_pid"])

    known("loudness", ("integrated", "true_peak", "range", "tolerance"))
    loudness = LoudnessTarget(
        integrated=r.number(_path("loudness.integrated"), -70.0, -5.0),
        true_peak=r.number(_path("loudness.true_peak"), -9.0, 0.0),
        range=r.number(_path("loudness.range"), 1.0, 20.0),  # ffmpeg 5.1's loudnorm accepts LRA up to 20
        tolerance=r.number(_path("loudness.tolerance"), 0.1, 2.0, default=0.5),
    )

    result = Profile(name, source, description, video, audio, transport, loudness)
    if mux_rate < result.required_mux_rate:
        fail("transport.mux_rate",
             f"{mux_rate} bit/s cannot carry video {video_bitrate} + audio {abitrate} bit/s plus "
             f"transport overhead; it needs at least {result.required_mux_rate} bit/s")
    return result


def _path(dotted: str) -> KeyPath:
    return tuple(dotted.split("."))


def _rate(r: Reader, key: str) -> Fraction:
    """A frame rate: an integer, a decimal or a fraction string such as "30000/1001"."""
    value = r.get(_path(key))
    try:
        if isinstance(value, bool):
            raise ValueError
        rate = Fraction(value) if isinstance(value, int | str) else Fraction(value).limit_denominator(1001)
    except (ValueError, ZeroDivisionError, TypeError):
        raise r.fail(_path(key), f"must be a frame rate like 25 or \"30000/1001\", not {show(value)}") from None
    if not 1 <= rate <= 120:
        raise r.fail(_path(key), f"{value} frames per second is outside 1..120")
    return rate


def _pid(r: Reader, key: str) -> int:
    """A PID our muxer can use: not reserved, not the null PID, within ffmpeg's range."""
    path = _path(key)
    value = r.get(path)
    if isinstance(value, bool) or not isinstance(value, int):
        raise r.fail(path, f"must be an integer PID, not {show(value)}")
    if value < FIRST_USABLE_PID:
        raise r.fail(path, f"PID 0x{value:04X} is reserved (0x0000-0x001F carry PAT, CAT, NIT, SDT, EIT, TDT)")
    if value == NULL_PID:
        raise r.fail(path, "PID 0x1FFF is the null packet PID")
    if value > FFMPEG_MAX_PID:
        raise r.fail(path, f"PID 0x{value:04X} is above 0x{FFMPEG_MAX_PID:04X}, the highest ffmpeg's muxer assigns")
    return value

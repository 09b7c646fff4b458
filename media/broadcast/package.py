"""Package a lecture for TV: a constant-bitrate DVB MPEG-TS with its sound at EBU R128.

    report = package(Path("lecture.mp4"), Path("lecture.ts"), load_profile("hd-720p25"))
    report.loudness.before, report.loudness.after, report.loudness.flags

Steps: the picture is encoded to the profile at once, and beside it the sound
is measured (ebur128), normalised in loudnorm's linear second pass with that
measurement, encoded, and measured again from the encoded frames; a copy pass
then puts both into a TS at the profile's mux rate with null-packet stuffing,
explicit DVB ids/PIDs, SDT names and NIT (the frames are carried bit for bit,
so the second measurement is the delivered sound's); optionally EIT/TDT/TOT go
into the null packets; optionally HLS for the web is cut from the finished TS
with ``-c copy``. Running the two branches side by side keeps the measurement
passes off the critical path: the encoder never waits for them. Everything is
written under temporary names beside the outputs and moved into place only
when all steps succeed, so an interrupted or failed run leaves nothing that
looks finished.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

from fileio import replace_dir, temp_beside
from media.broadcast.dvb.eit import EitEvent
from media.broadcast.inject import InjectReport, SiConfig, inject_si
from media.errors import MediaError
from media.transcode.ffmpeg import FFmpeg, FFmpegCancelled, Progress, ProgressCallback, RunResult
from media.transcode.loudness import (
    SILENCE,
    Loudness,
    LoudnessPlan,
    LoudnessReport,
    assess,
    channel_layout,
    conform_filter,
    measure_run,
    parse_loudnorm_summary,
    plan_normalisation,
)
from media.transcode.probe import MediaInfo, probe
from media.transcode.profiles import Profile

# Called with (encoded TS as a readable binary stream, destination, profile): writes the destination
# with EIT/TDT/TOT put into null packets, keeping every other packet where it is. The stream is read
# while the transport stream is still being written; a read returns b"" only at its real end.
EpgInjector = Callable[[BinaryIO, Path, Profile], object]


@dataclass(frozen=True)
class Epg:
    """In-band EPG for a packaged programme: the stream's first PCR is ``start_utc``.

    ``events`` are the channel's EIT events (present/following and the 7-day
    schedule come from them); ids are the profile's bound service's (the channel's).
    """

    start_utc: datetime
    events: Sequence[EitEvent] = field(default_factory=tuple)
    time_zone: str = "Asia/Almaty"
    country_code: str = "KAZ"
    strict: bool = True

    def __call__(self, src: Path | BinaryIO, dst: Path, profile: Profile) -> InjectReport:
        s = profile.service
        config = SiConfig(
            start_utc=self.start_utc,
            service_id=s.service_id,
            transport_stream_id=s.transport_stream_id,
            original_network_id=s.original_network_id,
            time_zone=self.time_zone,
            country_code=self.country_code,
            strict=self.strict,
        )
        return inject_si(src, dst, config=config, events=self.events)


class PackageError(MediaError):
    """A lecture that cannot be packaged with the given profile."""


@dataclass(frozen=True)
class PackageReport:
    """What ``package`` produced and measured; ``loudness`` carries both R128 measurements."""

    source: Path
    output: Path
    profile: str
    duration: float  # programme seconds
    size_bytes: int
    mux_rate: int
    loudness: LoudnessReport
    hls_dir: Path | None
    epg_injected: bool
    epg_report: dict[str, object] | None
    measure_seconds: float
    encode_seconds: float  # the picture pass, which the sound branch runs beside
    mux_seconds: float
    inject_seconds: float
    verify_seconds: float
    hls_seconds: float
    total_seconds: float
    encode_cpu_seconds: float
    cpu_seconds: float  # every step: ffmpeg runs (their own rusage) plus the EPG injection's thread time
    ffmpeg: str

    @property
    def average_bitrate(self) -> float:
        return self.size_bytes * 8 / self.duration if self.duration else 0.0

    @property
    def realtime_multiple(self) -> float:
        return self.duration / self.total_seconds if self.total_seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "source": str(self.source),
            "output": str(self.output),
            "profile": self.profile,
            "duration": round(self.duration, 3),
            "size_bytes": self.size_bytes,
            "mux_rate": self.mux_rate,
            "average_bitrate": round(self.average_bitrate),
            "loudness": self.loudness.as_dict(),
            "hls_dir": str(self.hls_dir) if self.hls_dir else None,
            "epg_injected": self.epg_injected,
            "epg": self.epg_report,
            "seconds": {
                "measure": round(self.measure_seconds, 3),
                "encode": round(self.encode_seconds, 3),
                "mux": round(self.mux_seconds, 3),
                "inject": round(self.inject_seconds, 3),
                "verify": round(self.verify_seconds, 3),
                "hls": round(self.hls_seconds, 3),
                "total": round(self.total_seconds, 3),
                "cpu": round(self.cpu_seconds, 3),
            },
            "ffmpeg": self.ffmpeg,
        }


def video_filter(profile: Profile, info: MediaInfo) -> str:
    """Picture to the profile's raster: square the pixels, fit and pad to the display aspect, set rate and scan.

    An anamorphic SD raster is reached through its square-pixel display size
    (1024x576 for 16:9, 768x576 for 4:3) so circles stay round.
    """
    v = profile.video
    aspect = Fraction(*map(int, v.aspect.split(":")))
    display_w = int(round(v.height * aspect / 2)) * 2
    sar = Fraction(display_w, v.width) if display_w != v.width else Fraction(1)
    source_rate = info.frame_rate or float(v.frame_rate)
    steps = ["scale='trunc(iw*sar/2)*2':ih", "setsar=1"]
    # A source with twice the frame rate or more keeps its motion as fields; slower ones become PsF.
    weave = v.interlaced and source_rate >= 1.5 * float(v.frame_rate)
    steps.append(f"fps={v.frame_rate * 2 if weave else v.frame_rate}")
    steps.append(f"scale={display_w}:{v.height}:force_original_aspect_ratio=decrease:force_divisible_by=2")
    steps.append(f"pad={display_w}:{v.height}:(ow-iw)/2:(oh-ih)/2")
    if display_w != v.width:
        steps.append(f"scale={v.width}:{v.height}")
    steps.append(f"setsar={sar.numerator}/{sar.denominator}")
    if weave:
        steps.append("tinterlace=mode=interleave_top")
    if v.interlaced:
        steps.append("setfield=tff")
    steps.append("format=yuv420p")
    return ",".join(steps)


def video_codec_args(profile: Profile, *, preset: str = "veryfast") -> list[str]:
    """Encoder options for constant bitrate with the profile's VBV buffer, GOP and scan."""
    v = profile.video
    rate = ["-b:v", str(v.bitrate), "-minrate", str(v.bitrate), "-maxrate", str(v.bitrate),
            "-bufsize", str(v.bufsize), "-g", str(v.gop), "-aspect", v.aspect]
    if v.codec == "h264":
        x264 = ["nal-hrd=cbr", "force-cfr=1", "aud=1", f"keyint={v.gop}", f"min-keyint={v.gop}", "scenecut=0"]
        level = ["-level:v", v.level] if v.level else []
        interlace: list[str] = []
        if v.interlaced:
            x264.append("tff=1")
            interlace = ["-flags", "+ildct+ilme", "-top", "1"]
        return ["-c:v", "libx264", "-preset", preset, "-profile:v", v.profile, *level, *rate, *interlace,
                "-x264-params", ":".join(x264)]
    # MPEG-2 Main profile (4) at Main level (8); two B pictures, closed regular GOP (no scene cuts).
    flags = "+cgop" + ("+ildct+ilme" if v.interlaced else "")
    return ["-c:v", "mpeg2video", "-profile:v", "4", "-level:v", "8", *rate, "-bf", "2",
            "-sc_threshold", "1000000000", "-flags", flags, *(["-top", "1"] if v.interlaced else []),
            "-rc_init_occupancy", str(v.bufsize)]


def audio_codec_args(profile: Profile) -> list[str]:
    a = profile.audio
    return ["-c:a", a.codec, "-b:a", str(a.bitrate), "-ar", str(a.sample_rate), "-ac", str(a.channels)]


def mux_args(profile: Profile) -> list[str]:
    """The mpegts muxer at the profile's constant rate with the service's DVB ids and names, PIDs, NIT and
    tight repetition."""
    t = profile.transport
    s = profile.service
    flags = "+system_b+nit+resend_headers"
    if profile.audio.codec == "aac":
        flags += "+latm"  # DVB carries MPEG-4 AAC in LATM/LOAS (TS 101 154)
    return [
        "-f", "mpegts",
        "-muxrate", str(t.mux_rate),
        "-mpegts_original_network_id", str(s.original_network_id),
        "-mpegts_transport_stream_id", str(s.transport_stream_id),
        "-mpegts_service_id", str(s.service_id),
        "-mpegts_service_type", str(profile.service_type),
        "-mpegts_pmt_start_pid", str(t.pmt_pid),
        "-streamid", f"0:{t.video_pid}",
        "-streamid", f"1:{t.audio_pid}",
        "-metadata", f"service_name={s.name}",
        "-metadata", f"service_provider={s.provider}",
        "-mpegts_flags", flags,
        "-pcr_period", "20",  # ms; TR 101 290 allows 40
        # one audio frame per PES (instead of ~2930-byte PES): a splice then loses at most one frame of
        # sound where clips meet, not a seventh of a second; it costs a few percent of the null packets
        "-pes_payload_size", "0",
        "-pat_period", "0.09",  # s; ffmpeg resends after the period has passed, so stay under 100 ms
        "-sdt_period", "0.5",
        "-nit_period", "0.5",
    ]


def encode_args(profile: Profile, info: MediaInfo, plan: LoudnessPlan, *, preset: str = "veryfast",
                start: float = 0.0, length: float | None = None) -> list[str]:
    """The whole single-pass ffmpeg argument list (without the output path) for ``info`` in ``profile``.

    ``start``/``length`` cut the programme out of the source (seconds) in the same pass.
    ``package`` runs picture and sound as separate passes instead (see ``video_args``);
    this one pass is what a bare encode of the same programme costs.
    """
    seek, duration = _window(info, start, length)
    inputs, audio_chain = _audio_input(profile, info, plan, duration)
    graph = f"[0:v:0]{video_filter(profile, info)}[vout];{audio_chain}"
    return [
        *seek, "-i", str(info.path), *inputs,
        "-filter_complex", graph,
        "-map", "[vout]", "-map", "[aout]",
        "-t", f"{duration:.3f}",
        *video_codec_args(profile, preset=preset),
        *audio_codec_args(profile),
        "-map_metadata", "-1",
        *mux_args(profile),
    ]


def _audio_input(profile: Profile, info: MediaInfo, plan: LoudnessPlan, duration: float) -> tuple[list[str], str]:
    """Inputs after the source (generated silence for a clip without sound) and the chain ending in ``[aout]``."""
    a = profile.audio
    if info.has_audio:
        return [], f"[0:a:0]{conform_filter(a.channels, a.sample_rate)},{plan.audio_filter},apad[aout]"
    silence = ["-f", "lavfi", "-t", f"{duration:.3f}", "-i",
               f"anullsrc=r={a.sample_rate}:cl={channel_layout(a.channels)}"]
    return silence, f"[1:a:0]{plan.audio_filter},apad[aout]"


# Intermediate elementary passes keep their encoders' own timestamps (negative DTS of B-frames and
# AAC priming included), so the copy pass lines picture and sound up exactly as one pass would.
_PART = ["-map_metadata", "-1", "-avoid_negative_ts", "disabled", "-f", "mpegts"]


def video_args(profile: Profile, info: MediaInfo, *, preset: str = "veryfast", start: float = 0.0,
               length: float | None = None) -> list[str]:
    """The picture alone, encoded to the profile (the long pass; sound runs beside it)."""
    seek, duration = _window(info, start, length)
    return [*seek, "-i", str(info.path), "-filter_complex", f"[0:v:0]{video_filter(profile, info)}[vout]",
            "-map", "[vout]", "-t", f"{duration:.3f}", *video_codec_args(profile, preset=preset), *_PART]


def audio_args(profile: Profile, info: MediaInfo, plan: LoudnessPlan, *, start: float = 0.0,
               length: float | None = None) -> list[str]:
    """The sound alone: conformed, normalised by ``plan``, padded to the programme and encoded."""
    seek, duration = _window(info, start, length)
    inputs, chain = _audio_input(profile, info, plan, duration)
    return [*seek, "-i", str(info.path), *inputs, "-filter_complex", chain, "-map", "[aout]",
            "-t", f"{duration:.3f}", *audio_codec_args(profile), *_PART]


def mux_copy_args(audio: Path, profile: Profile) -> list[str]:
    """Both encoded parts into the CBR DVB transport stream, without re-encoding: the picture comes on
    stdin (it is read while being written), the sound from ``audio``."""
    return ["-copyts", "-f", "mpegts", "-i", "pipe:0", "-copyts", "-i", str(audio), "-map", "0:v:0",
            "-map", "1:a:0", "-c", "copy", *mux_args(profile)]


def _window(info: MediaInfo, start: float, length: float | None) -> tuple[list[str], float]:
    """The input seek for ``start`` and the programme's length, shared by every pass over the source."""
    return (["-ss", f"{start:.3f}"] if start > 0 else []), programme_length(info, start, length)


def programme_length(info: MediaInfo, start: float = 0.0, length: float | None = None) -> float:
    """Seconds of programme taken from ``info`` between ``start`` and ``start + length`` (or its end)."""
    remaining = info.duration - start
    return remaining if length is None else min(length, remaining)


def package(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    profile: Profile,
    *,
    progress: ProgressCallback | None = None,
    hls_dir: str | os.PathLike[str] | None = None,
    epg: Epg | EpgInjector | None = None,
    ffmpeg: FFmpeg | None = None,
    cancel: threading.Event | None = None,
    preset: str = "veryfast",
    hls_segment_seconds: int = 6,
    start: float = 0.0,
    length: float | None = None,
) -> PackageReport:
    """Encode ``source`` into ``output`` (a CBR TS in ``profile``); see the module docstring for the steps.

    ``progress`` receives ``Progress`` reports whose ``stage`` is "measure",
    "encode", "inject", "verify" or "hls". ``cancel`` stops the running step
    and removes everything written so far. ``start``/``length`` (seconds) take
    only that part of the source, measured and encoded in the same passes.
    """
    source, output = Path(source), Path(output)
    ff = ffmpeg or FFmpeg.locate()
    started = time.monotonic()
    info = probe(source)
    if not info.has_video:
        raise PackageError(f"{source} has no video stream; a TV programme needs a picture")
    if start < 0 or (length is not None and length <= 0):
        raise PackageError(f"{source}: start must be >= 0 and length > 0 (got {start}, {length})")
    duration = programme_length(info, start, length)
    if duration <= 0:
        raise PackageError(f"{source} has no programme to package after {start:.3f} s (it lasts {info.duration:.3f} s)")
    if output.is_dir():
        raise PackageError(f"{output} is a directory; give a file name ending in .ts")
    if not output.parent.is_dir():
        raise PackageError(f"{output.parent} does not exist")

    stop = threading.Event()  # set when any branch fails or the caller cancels: every ffmpeg stops
    report_lock = threading.Lock()

    def staged(stage: str) -> ProgressCallback | None:
        if progress is None:
            return None

        def forward(p: Progress) -> None:
            with report_lock:  # the sound branch reports beside the picture branch
                progress(replace(p, stage=stage, duration=duration))
        return forward

    token = uuid.uuid4().hex[:8]
    video_part = output.with_name(f".{output.stem}.video-{token}.ts")
    audio_part = output.with_name(f".{output.stem}.audio-{token}.ts")
    encoded = output.with_name(f".{output.stem}.encoded-{token}.ts")
    injected = output.with_name(f".{output.stem}.epg-{token}.ts")
    hls_temp: Path | None = None
    try:
        # Picture and sound are separate passes run side by side: the picture (the long one) starts at
        # once, while the sound is measured, normalised with that measurement, encoded and measured
        # again. As soon as the sound is ready, the copy pass starts putting both into the CBR transport
        # stream, reading the picture as it is written, so it ends right after the encoder does.
        picture_done, mux_done = threading.Event(), threading.Event()
        ended: dict[str, float] = {}

        def finish(name: str, flag: threading.Event | None = None) -> Callable[[Future[Any]], None]:
            def done(_: Future[Any]) -> None:
                ended[name] = time.monotonic()
                if flag is not None:
                    flag.set()
            return done

        with ThreadPoolExecutor(4, thread_name_prefix="package") as pool:
            picture = pool.submit(_timed, ff.run,
                                  [*video_args(profile, info, preset=preset, start=start, length=length),
                                   str(video_part)],
                                  subject=source, duration=duration, progress=staged("encode"), cancel=stop)
            picture.add_done_callback(finish("picture", picture_done))
            sound = pool.submit(_sound, ff, source, info, profile, audio_part, start=start, length=length,
                                staged=staged, cancel=stop)

            def mux() -> RunResult:
                sound.result()  # raises when the sound failed; the supervisor reports that error instead
                return ff.run([*mux_copy_args(audio_part, profile), str(encoded)], subject=source,
                              duration=duration, progress=staged("mux"), cancel=stop,
                              feed=_follow(video_part, picture_done, stop))

            muxing = pool.submit(mux)
            muxing.add_done_callback(finish("mux", mux_done))
            branches = [picture, sound, muxing]
            if epg is not None:
                # EIT/TDT/TOT go into the null packets as the copy pass writes them (it only reads, in order).
                def inject() -> tuple[object, float]:
                    cpu0 = time.thread_time()
                    if progress is not None:
                        staged("inject")(Progress(0.0, duration))  # type: ignore[misc]
                    with _Following(encoded, mux_done, stop) as stream:
                        result = epg(stream, injected, profile)
                    return result, time.thread_time() - cpu0

                injecting = pool.submit(inject)
                injecting.add_done_callback(finish("inject"))
                branches.append(injecting)
            _supervise(branches, stop, cancel, source)
            run, encode_seconds = picture.result()
            heard = sound.result()
            muxed = muxing.result()
        # what the copy pass and the injection add after the encoder
        mux_seconds = max(0.0, ended["mux"] - ended["picture"])
        cpu_seconds = run.cpu_seconds + heard.cpu_seconds + muxed.cpu_seconds
        video_part.unlink(missing_ok=True)
        audio_part.unlink(missing_ok=True)

        inject_seconds = 0.0
        epg_report: dict[str, object] | None = None
        delivered = encoded
        if epg is not None:
            result, inject_cpu = injecting.result()
            cpu_seconds += inject_cpu
            inject_seconds = max(0.0, ended["inject"] - ended["mux"])
            if not injected.exists():
                raise PackageError(f"{source}: the EPG injector wrote no output")
            if hasattr(result, "as_dict"):
                epg_report = result.as_dict()
            delivered = injected
        _check_cancel(cancel, source)
        loudness = assess(heard.plan, heard.after, summary=parse_loudnorm_summary(heard.encode.stderr),
                          generated_silence=not info.has_audio)

        hls_seconds = 0.0
        if hls_dir is not None:
            t0 = time.monotonic()
            hls_temp, cost = _hls(ff, delivered, Path(hls_dir), hls_segment_seconds, duration,
                                  staged("hls"), cancel, source)
            hls_seconds = time.monotonic() - t0
            cpu_seconds += cost.cpu_seconds

        os.replace(delivered, output)
        if hls_temp is not None:
            replace_dir(hls_temp, Path(hls_dir))  # type: ignore[arg-type]
            hls_temp = None
    finally:
        for leftover in (video_part, audio_part, encoded, injected):
            leftover.unlink(missing_ok=True)
        if hls_temp is not None:
            shutil.rmtree(hls_temp, ignore_errors=True)

    return PackageReport(
        source=source,
        output=output,
        profile=profile.name,
        duration=duration,
        size_bytes=output.stat().st_size,
        mux_rate=profile.transport.mux_rate,
        loudness=loudness,
        hls_dir=Path(hls_dir) if hls_dir is not None else None,
        epg_injected=epg is not None,
        epg_report=epg_report,
        measure_seconds=heard.measure_seconds,
        encode_seconds=encode_seconds,
        mux_seconds=mux_seconds,
        inject_seconds=inject_seconds,
        verify_seconds=heard.verify_seconds,
        hls_seconds=hls_seconds,
        total_seconds=time.monotonic() - started,
        encode_cpu_seconds=run.cpu_seconds + heard.encode.cpu_seconds,
        cpu_seconds=cpu_seconds,
        ffmpeg=ff.version(),
    )


@dataclass(frozen=True)
class _Heard:
    """What the sound branch measured, planned and encoded."""

    plan: LoudnessPlan
    after: Loudness
    encode: RunResult
    measure_seconds: float
    verify_seconds: float
    cpu_seconds: float


# The sound branch runs at a lower priority: it has minutes to finish beside the picture encode and
# should take only the CPU the encoder leaves idle, never slow the encoder down.
BESIDE = 10


def _sound(ff: FFmpeg, source: Path, info: MediaInfo, profile: Profile, part: Path, *, start: float,
           length: float | None, staged: Callable[[str], ProgressCallback | None],
           cancel: threading.Event) -> _Heard:
    """Measure, normalise in the second pass, encode, and measure the encoded sound again.

    The second measurement reads the encoded part, whose AAC/MP2/AC-3 frames the copy pass
    carries into the transport stream unchanged.
    """
    a = profile.audio
    cpu = 0.0
    t0 = time.monotonic()
    if info.has_audio:
        before, cost = measure_run(source, ffmpeg=ff, pre_filter=conform_filter(a.channels, a.sample_rate),
                                   progress=staged("measure"), cancel=cancel, start=start, length=length,
                                   nice=BESIDE)
        cpu += cost.cpu_seconds
    else:
        before = SILENCE
    plan = plan_normalisation(before, profile.loudness, sample_rate=a.sample_rate)
    measure_seconds = time.monotonic() - t0
    encoded = ff.run(audio_args(profile, info, plan, start=start, length=length), output=part, subject=source,
                     cancel=cancel, nice=BESIDE)
    t0 = time.monotonic()
    after, cost = measure_run(part, ffmpeg=ff, progress=staged("verify"), cancel=cancel, nice=BESIDE)
    return _Heard(plan, after, encoded, measure_seconds, time.monotonic() - t0,
                  cpu + encoded.cpu_seconds + cost.cpu_seconds)


def _follow(path: Path, finished: threading.Event, stop: threading.Event,
            chunk: int = 1 << 20) -> Callable[[BinaryIO], None]:
    """A feed that copies ``path`` to a pipe while another process is still writing it, to its end."""

    def feed(pipe: BinaryIO) -> None:
        with _Following(path, finished, stop) as growing:
            while data := growing.read(chunk):
                pipe.write(data)

    return feed


class _Following:
    """A read-only stream of a file another process is still writing: reads wait for more until it is done."""

    def __init__(self, path: Path, finished: threading.Event, stop: threading.Event) -> None:
        self.path, self.finished, self.stop = path, finished, stop
        self._file: BinaryIO | None = None

    def __enter__(self) -> _Following:
        while not self.path.exists():
            if self.stop.is_set() or self.finished.is_set():
                raise FFmpegCancelled(f"{self.path.name} was never written")
            time.sleep(0.02)
        self._file = self.path.open("rb")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()

    def read(self, size: int = -1) -> bytes:
        assert self._file is not None
        want = size if size > 0 else 1 << 20
        while True:
            if self.stop.is_set():
                raise FFmpegCancelled(f"{self.path.name}: stopped")
            done = self.finished.is_set()  # asked before reading, so nothing written after it is missed
            data = self._file.read(want)
            if data or done:
                return data
            time.sleep(0.02)


def _timed(fn: Callable[..., RunResult], *args: object, **kwargs: object) -> tuple[RunResult, float]:
    t0 = time.monotonic()
    return fn(*args, **kwargs), time.monotonic() - t0


def _supervise(futures: list[Future[Any]], stop: threading.Event, cancel: threading.Event | None,
               source: Path) -> None:
    """Wait for every branch; a failure (or the caller's cancel) stops the others and the cause is raised.

    The cause is the first failure that is not merely another branch being stopped.
    """
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.05, return_when=FIRST_EXCEPTION)
            if any(f.exception() is not None for f in done):
                stop.set()
                wait(pending)
                errors = [e for f in futures if (e := f.exception()) is not None]
                raise next((e for e in errors if not isinstance(e, FFmpegCancelled)), errors[0])
            _check_cancel(cancel, source)
    except BaseException:
        stop.set()
        raise


def _check_cancel(cancel: threading.Event | None, source: Path) -> None:
    if cancel is not None and cancel.is_set():
        raise FFmpegCancelled(f"{source}: stopped on request, no output written")


def _hls(ff: FFmpeg, ts: Path, target: Path, segment_seconds: int, duration: float,
         progress: ProgressCallback | None, cancel: threading.Event | None, source: Path) -> tuple[Path, RunResult]:
    """Cut ``ts`` into HLS (``index.m3u8`` + segments) without re-encoding, in a temp dir beside ``target``."""
    if target.exists() and not target.is_dir():
        raise PackageError(f"HLS directory {target} exists and is not a directory")
    if not target.parent.is_dir():
        raise PackageError(f"{target.parent} does not exist")
    temp = temp_beside(target, "hls")
    temp.mkdir()
    try:
        cost = ff.run(["-i", str(ts), "-map", "0", "-c", "copy", "-f", "hls", "-hls_time", str(segment_seconds),
                "-hls_playlist_type", "vod", "-hls_segment_filename", str(temp / "segment_%05d.ts")],
               output=temp / "index.m3u8", subject=source, duration=duration, progress=progress, cancel=cancel)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return temp, cost



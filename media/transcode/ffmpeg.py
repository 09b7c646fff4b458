"""The one ffmpeg runner: find the binary, run it with progress, cancel it, explain its failures.

    ff = FFmpeg.locate(settings.ffmpeg_path)          # configured -> PATH -> imageio-ffmpeg
    ff.run(["-i", "in.mp4", "-c:v", "libx264"], output=Path("out.mp4"), duration=60, progress=print)
    await ff.run_async([...], output=...)            # cancelling the task stops ffmpeg

Every pipeline in ``media`` goes through ``FFmpeg.run`` so that all of them
report progress the same way, stop on request, never leave a half-written
output behind (they write to a temporary name beside the output and rename it
only on success) and fail with a ``MediaError`` naming the input and the last
line ffmpeg said about it instead of a wall of stderr.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from fileio import replacing
from media.errors import MediaError

# How much of stderr is kept; loudnorm's JSON and ebur128's summary come last.
STDERR_LINES = 4000


class FFmpegNotFound(MediaError):
    """No ffmpeg binary: not configured, not on PATH, no imageio-ffmpeg wheel."""


class FFmpegError(MediaError):
    """ffmpeg exited with an error; ``detail`` is its last meaningful stderr line."""

    def __init__(self, message: str, *, detail: str = "", stderr: str = "", returncode: int | None = None) -> None:
        super().__init__(message)
        self.detail = detail
        self.stderr = stderr
        self.returncode = returncode


class FFmpegCancelled(MediaError):
    """The run was stopped on request; its output was removed."""


@dataclass(frozen=True)
class Progress:
    """How far a run is: seconds of output written, of ``duration`` when known."""

    out_time: float
    duration: float | None = None
    speed: float | None = None  # realtime multiple as ffmpeg reports it
    stage: str = ""  # set by multi-step pipelines ("measure", "encode", ...) for their callers

    @property
    def fraction(self) -> float | None:
        if not self.duration or self.duration <= 0:
            return None
        return max(0.0, min(1.0, self.out_time / self.duration))


@dataclass(frozen=True)
class RunResult:
    """What a finished run left: its stderr (for filters that report there) and timings."""

    stderr: str
    wall_seconds: float
    cpu_seconds: float  # user+sys of the ffmpeg child, steadier than wall time on a shared machine


ProgressCallback = Callable[[Progress], None]


# Lines that say nothing about why a run failed.
_NOISE = re.compile(
    r"^(Conversion failed!|Exiting normally.*|Press \[q\].*|frame=.*|size=.*|video:.*|"
    r"\s*(Stream|Input|Output|Duration|Metadata|encoder|major_brand|minor_version|compatible_brands|"
    r"handler_name|vendor_id|Side data|Stream mapping|Last message repeated).*)$"
)
_CONTEXT_PREFIX = re.compile(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*|^\[(in|out|vist|aist|vost|aost|dec|enc)#[^\]]*\]\s*")


def last_error_line(stderr: str) -> str:
    """The last stderr line that explains a failure, without ffmpeg's ``[ctx @ 0x…]`` prefix."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if _NOISE.match(line):
            continue
        return _CONTEXT_PREFIX.sub("", line).strip()
    return "ffmpeg gave no reason"


@dataclass(frozen=True)
class FFmpeg:
    """One ffmpeg binary and the way we run it."""

    binary: str

    @classmethod
    def locate(cls, configured: str | os.PathLike[str] | None = None) -> FFmpeg:
        """The binary in the order: configured path, ``PATH``, the imageio-ffmpeg wheel's copy.

        The wheel's copy means ``pip install`` alone gives a working system;
        a configured path that does not exist is an error, not a silent fallback.
        """
        if configured:
            path = Path(configured)
            if not (path.is_file() and os.access(path, os.X_OK)):
                found = shutil.which(str(configured))
                if not found:
                    raise FFmpegNotFound(f"configured ffmpeg {configured} does not exist or is not executable")
                return cls(found)
            return cls(str(path))
        found = shutil.which("ffmpeg")
        if found:
            return cls(found)
        try:
            import imageio_ffmpeg
        except ImportError:  # pragma: no cover - the wheel is a dependency
            imageio_ffmpeg = None
        if imageio_ffmpeg is not None:
            try:
                return cls(imageio_ffmpeg.get_ffmpeg_exe())
            except RuntimeError:  # pragma: no cover - wheel without binary
                pass
        raise FFmpegNotFound("ffmpeg not found: set ffmpeg_path, put ffmpeg on PATH or install imageio-ffmpeg")

    def version(self) -> str:
        """The first line of ``ffmpeg -version`` (asked once per binary)."""
        return _version(self.binary)

    def run(
        self,
        args: Sequence[str],
        *,
        output: Path | None = None,
        subject: str | os.PathLike[str] | None = None,
        duration: float | None = None,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        feed: Callable[[BinaryIO], None] | None = None,
        nice: int = 0,
    ) -> RunResult:
        """Run ``ffmpeg <args> [output]``; raise ``FFmpegError`` naming ``subject`` on failure.

        ``output`` is appended as the last argument, written under a temporary
        name and renamed only when ffmpeg succeeds. ``subject`` names the input
        in error messages. ``progress`` is called from this thread with each of
        ffmpeg's ``-progress`` reports; setting ``cancel`` (from any thread)
        stops ffmpeg and raises ``FFmpegCancelled``. ``feed`` writes ffmpeg's
        stdin (an input given as ``pipe:0``) from its own thread; the pipe is
        closed when it returns, and an exception it raises fails the run. ``nice``
        lowers ffmpeg's scheduling priority (work that should only use idle CPU).
        """
        output = Path(output) if output is not None else None
        what = str(subject) if subject is not None else (str(output) if output else "ffmpeg run")
        if output is None:
            return self._execute(list(args), what, duration, progress, cancel, feed, nice)
        if not output.parent.is_dir():
            raise FFmpegError(f"cannot write {output}: directory {output.parent} does not exist")
        # The same suffix, so ffmpeg still guesses the format; renamed over ``output`` only on success.
        with replacing(output, keep_suffix=True) as temp:
            return self._execute([*args, str(temp)], what, duration, progress, cancel, feed, nice)

    def _execute(
        self,
        args: list[str],
        what: str,
        duration: float | None,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
        feed: Callable[[BinaryIO], None] | None,
        nice: int,
    ) -> RunResult:
        """One ffmpeg process to its end; raises on failure (the caller removes a partial output)."""
        cmd = [self.binary, "-hide_banner", "-nostdin", "-nostats", "-y", "-progress", "pipe:1", *args]
        started = time.monotonic()
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if feed else subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise FFmpegNotFound(f"cannot start ffmpeg {self.binary}: {exc.strerror}") from exc
        if nice > 0:  # after the start (no preexec_fn: this runs beside other threads)
            try:
                os.setpriority(os.PRIO_PROCESS, proc.pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + nice))
            except OSError:
                pass  # already gone, or not allowed: it runs at our priority
        feeder = _Feeder(feed, proc) if feed is not None else None

        stderr_lines: deque[str] = deque(maxlen=STDERR_LINES)
        stderr_reader = threading.Thread(target=_drain, args=(proc.stderr, stderr_lines), daemon=True)
        stderr_reader.start()
        finished = threading.Event()
        cancelled = threading.Event()
        watcher = None
        if cancel is not None:
            watcher = threading.Thread(target=_watch, args=(proc, cancel, finished, cancelled), daemon=True)
            watcher.start()
        try:
            _read_progress(proc, duration, progress)
            returncode, cpu_seconds = _reap(proc)
            if feeder is not None and returncode == 0:
                feeder.join()  # ffmpeg read the feed to its end; a failed run does not wait on the feed
        except BaseException:
            # KeyboardInterrupt or a progress callback that raised: stop ffmpeg, leave nothing behind.
            _stop(proc)
            raise
        finally:
            finished.set()
            stderr_reader.join(timeout=5)
            if watcher is not None:
                watcher.join(timeout=5)
        stderr = "\n".join(stderr_lines)
        result = RunResult(stderr=stderr, wall_seconds=time.monotonic() - started, cpu_seconds=cpu_seconds)
        if cancelled.is_set():
            raise FFmpegCancelled(f"{what}: stopped on request, no output written")
        if feeder is not None and feeder.error is not None:
            raise feeder.error
        if returncode != 0:
            detail = last_error_line(stderr)
            raise FFmpegError(f"{what}: {detail}", detail=detail, stderr=stderr, returncode=returncode)
        return result

    async def run_async(
        self,
        args: Sequence[str],
        *,
        output: Path | None = None,
        subject: str | os.PathLike[str] | None = None,
        duration: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> RunResult:
        """``run`` in a worker thread; cancelling the awaiting task stops ffmpeg and removes the output."""
        cancel = threading.Event()
        task = asyncio.ensure_future(
            asyncio.to_thread(
                self.run, args, output=output, subject=subject, duration=duration, progress=progress, cancel=cancel
            )
        )
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            cancel.set()
            try:
                await task
            except FFmpegCancelled:
                pass
            raise


@functools.lru_cache(maxsize=8)
def _version(binary: str) -> str:
    out = subprocess.run([binary, "-hide_banner", "-version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.stdout else "unknown"


def _drain(stream, sink: deque[str]) -> None:  # type: ignore[no-untyped-def]
    for raw in iter(stream.readline, b""):
        sink.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
    stream.close()


class _Feeder(threading.Thread):
    """Writes ffmpeg's stdin; a feed that fails stops ffmpeg so the run ends with the feed's error."""

    def __init__(self, feed: Callable[[BinaryIO], None], proc: subprocess.Popen[bytes]) -> None:
        super().__init__(name="ffmpeg-feed", daemon=True)
        self.feed, self.proc = feed, proc
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            self.feed(stdin)  # type: ignore[arg-type]
        except BrokenPipeError:
            pass  # ffmpeg stopped reading: its own exit status tells why
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            self.error = exc
            _stop(self.proc)
        finally:
            try:
                stdin.close()
            except BrokenPipeError:
                pass


def _watch(proc: subprocess.Popen[bytes], cancel: threading.Event, finished: threading.Event, cancelled: threading.Event) -> None:
    while not finished.is_set():
        if cancel.wait(0.05):
            if proc.poll() is None:
                cancelled.set()
                _stop(proc)
            return


def _reap(proc: subprocess.Popen[bytes]) -> tuple[int, float]:
    """Wait for ffmpeg; its exit code and its own CPU seconds (wait4's rusage, not other children's)."""
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except ChildProcessError:  # already reaped by a cancel
        return proc.wait(), 0.0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _read_progress(proc: subprocess.Popen[bytes], duration: float | None, progress: ProgressCallback | None) -> None:
    """Parse ``-progress pipe:1`` key=value blocks; each ``progress=`` line ends one report."""
    assert proc.stdout is not None
    block: dict[str, str] = {}
    for raw in iter(proc.stdout.readline, b""):
        key, _, value = raw.decode("ascii", "replace").strip().partition("=")
        if key != "progress":
            block[key] = value
            continue
        if progress is not None:
            progress(Progress(out_time=_out_time(block), duration=duration, speed=_speed(block.get("speed"))))
        block = {}
    proc.stdout.close()


def _out_time(block: dict[str, str]) -> float:
    # out_time_us is exact; out_time (HH:MM:SS.micro) is the fallback; both are N/A before the first frame.
    micros = block.get("out_time_us") or block.get("out_time_ms")  # ffmpeg's out_time_ms is microseconds too
    if micros and micros.lstrip("-").isdigit():
        return max(0.0, int(micros) / 1_000_000)
    text = block.get("out_time", "")
    match = re.match(r"(-?)(\d+):(\d+):(\d+(?:\.\d+)?)", text)
    if not match:
        return 0.0
    seconds = int(match[2]) * 3600 + int(match[3]) * 60 + float(match[4])
    return 0.0 if match[1] else seconds


def _speed(text: str | None) -> float | None:
    if not text or not text.endswith("x"):
        return None
    try:
        return float(text[:-1])
    except ValueError:
        return None

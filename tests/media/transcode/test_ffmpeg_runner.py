"""The one ffmpeg runner, driven against the real binary: progress, atomic output, errors, cancellation."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import threading
from pathlib import Path

import imageio_ffmpeg
import pytest

from media.errors import MediaError
from media.transcode.ffmpeg import (
    FFmpeg,
    FFmpegCancelled,
    FFmpegError,
    FFmpegNotFound,
    Progress,
    last_error_line,
)

# A 20-second encode paced at real time (-re): long enough to be stopped mid-way, never run to the end.
SLOW = ["-re", "-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=20", "-c:v", "libx264", "-preset", "ultrafast"]


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_locate_prefers_configured_path(tmp_path: Path) -> None:
    real = shutil.which("ffmpeg") or imageio_ffmpeg.get_ffmpeg_exe()
    link = tmp_path / "my-ffmpeg"
    link.symlink_to(real)
    assert FFmpeg.locate(link).binary == str(link)


def test_locate_refuses_missing_configured_path(tmp_path: Path) -> None:
    with pytest.raises(FFmpegNotFound, match="does not exist"):
        FFmpeg.locate(tmp_path / "nope")


def test_locate_falls_back_to_path_then_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dir = tmp_path / "bin"
    fake_dir.mkdir()
    fake = fake_dir / "ffmpeg"
    fake.write_text("#!/bin/sh\necho fake\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(fake_dir))
    assert FFmpeg.locate().binary == str(fake)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    wheel = FFmpeg.locate()
    assert wheel.binary == imageio_ffmpeg.get_ffmpeg_exe()
    assert "ffmpeg version" in wheel.version()


def test_run_writes_output_only_when_done_and_reports_progress(tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    reports: list[Progress] = []
    result = FFmpeg.locate().run(
        ["-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=2", "-c:v", "libx264", "-preset", "ultrafast"],
        output=out, duration=2.0, progress=reports.append,
    )
    assert files(tmp_path) == ["clip.mp4"]
    assert out.stat().st_size > 0
    assert reports, "no progress reported"
    times = [r.out_time for r in reports]
    assert times == sorted(times)
    assert reports[-1].out_time == pytest.approx(2.0, abs=0.1)
    assert reports[-1].fraction == pytest.approx(1.0, abs=0.05)
    assert result.cpu_seconds > 0


# Debian's ffmpeg 5.1 and the wheel's ffmpeg 9 word their errors differently; both must read well.
BINARIES = sorted({b for b in (shutil.which("ffmpeg"), imageio_ffmpeg.get_ffmpeg_exe()) if b})


@pytest.mark.parametrize("binary", BINARIES)
def test_failure_names_the_input_and_ffmpegs_reason(tmp_path: Path, binary: str) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("this is not a video\n" * 10)
    out = tmp_path / "out.mp4"
    with pytest.raises(FFmpegError) as caught:
        FFmpeg(binary).run(["-i", str(bad)], output=out, subject=bad)
    message = str(caught.value)
    assert message.startswith(str(bad))
    assert "Invalid data found when processing input" in message
    assert "\n" not in message
    assert isinstance(caught.value, MediaError)
    assert files(tmp_path) == ["notes.txt"], "a failed run left files behind"


def test_cancel_event_stops_ffmpeg_and_removes_output(tmp_path: Path) -> None:
    out = tmp_path / "slow.mp4"
    cancel = threading.Event()

    def on_progress(p: Progress) -> None:
        if p.out_time > 0.3:
            cancel.set()

    with pytest.raises(FFmpegCancelled, match="stopped on request"):
        FFmpeg.locate().run(SLOW, output=out, duration=20, progress=on_progress, cancel=cancel)
    assert files(tmp_path) == []


def test_interrupt_in_progress_callback_stops_ffmpeg_and_removes_output(tmp_path: Path) -> None:
    out = tmp_path / "slow.mp4"

    def interrupt(p: Progress) -> None:
        if p.out_time > 0.3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        FFmpeg.locate().run(SLOW, output=out, duration=20, progress=interrupt)
    assert files(tmp_path) == []


async def test_cancelling_the_task_stops_ffmpeg_and_removes_output(tmp_path: Path) -> None:
    out = tmp_path / "slow.mp4"
    started = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_progress(p: Progress) -> None:
        if p.out_time > 0.3:
            loop.call_soon_threadsafe(started.set)

    task = asyncio.create_task(FFmpeg.locate().run_async(SLOW, output=out, duration=20, progress=on_progress))
    await asyncio.wait_for(started.wait(), timeout=30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert files(tmp_path) == []


async def test_run_async_returns_result(tmp_path: Path) -> None:
    out = tmp_path / "a.wav"
    result = await FFmpeg.locate().run_async(["-f", "lavfi", "-i", "sine=d=0.5"], output=out)
    assert out.exists() and result.wall_seconds > 0


def test_existing_output_survives_a_failed_run(tmp_path: Path) -> None:
    out = tmp_path / "keep.mp4"
    out.write_bytes(b"previous good output")
    with pytest.raises(FFmpegError):
        FFmpeg.locate().run(["-i", str(tmp_path / "missing.mp4")], output=out)
    assert out.read_bytes() == b"previous good output"
    assert files(tmp_path) == ["keep.mp4"]


def test_last_error_line_strips_context_and_noise() -> None:
    stderr = "\n".join([
        "Input #0, lavfi, from 'x':",
        "[in#0 @ 0x55d0c0a1b2c0] Error opening input: Invalid data found when processing input",
        "Error opening input file notes.txt.",
        "Error opening input files: Invalid data found when processing input",
        "Conversion failed!",
        "",
    ])
    assert last_error_line(stderr) == "Error opening input files: Invalid data found when processing input"
    assert last_error_line("[mpegts @ 0x1234abcd] muxrate too low\nConversion failed!") == "muxrate too low"
    assert last_error_line("") == "ffmpeg gave no reason"


def test_missing_output_directory_is_said_plainly(tmp_path: Path) -> None:
    with pytest.raises(FFmpegError, match=r"directory .*nope does not exist"):
        FFmpeg.locate().run(["-f", "lavfi", "-i", "sine=d=0.1"], output=tmp_path / "nope" / "a.wav")


def test_feed_writes_stdin_from_its_own_thread(tmp_path: Path) -> None:
    """An input on ``pipe:0`` is fed by a function; ffmpeg reads it to the end."""
    source = tmp_path / "src.nut"
    FFmpeg.locate().run(["-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=2", "-c:v", "ffv1"], output=source)
    data = source.read_bytes()

    def feed(pipe) -> None:  # type: ignore[no-untyped-def]
        for i in range(0, len(data), 4096):  # in small writes, as a follower of a growing file does
            pipe.write(data[i:i + 4096])

    out = tmp_path / "copy.nut"
    FFmpeg.locate().run(["-f", "nut", "-i", "pipe:0", "-c", "copy"], output=out, feed=feed)
    assert out.stat().st_size > 0


def test_a_failing_feed_fails_the_run_and_leaves_nothing(tmp_path: Path) -> None:
    def feed(pipe) -> None:  # type: ignore[no-untyped-def]
        pipe.write(b"\x47" * 188)
        raise FFmpegCancelled("the writer went away")

    out = tmp_path / "out.ts"
    with pytest.raises(FFmpegCancelled, match="the writer went away"):
        FFmpeg.locate().run(["-f", "mpegts", "-i", "pipe:0", "-c", "copy"], output=out, feed=feed)
    assert files(tmp_path) == []


def test_nice_lowers_the_priority_of_that_ffmpeg_only(tmp_path: Path) -> None:
    """Work beside a long encode (the sound branch of ``package``) runs at a lower priority."""
    out = tmp_path / "niced-marker.mp4"
    seen: list[int] = []

    def on_progress(_: Progress) -> None:
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if b"niced-marker" in cmdline.read_bytes():
                    seen.append(int((cmdline.parent / "stat").read_text().rsplit(")", 1)[1].split()[16]))
            except OSError:
                continue

    cancel = threading.Event()
    threading.Timer(1.5, cancel.set).start()
    with pytest.raises(FFmpegCancelled):
        FFmpeg.locate().run(SLOW, output=out, duration=20, progress=on_progress, cancel=cancel, nice=7)
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert seen and seen[-1] == min(19, mine + 7)

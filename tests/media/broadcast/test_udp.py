"""Real-time sending over loopback: UDP datagrams of 7 TS packets paced by the mux rate; SRT via ffmpeg."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from media.broadcast.package import package
from media.broadcast.playout import PlayoutError, has_srt, mux_rate_of, send_realtime
from media.transcode.ffmpeg import FFmpeg
from media.transcode.profiles import load_profile_file
from orchestrator.cli import main
from schedules.tv.day import load_day
from schedules.tv.playlist import read_as_run
from tests.helpers.media import make_clip
from tests.helpers.support import TINY_PROFILE

pytestmark = pytest.mark.slow


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def short_ts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("udp")
    (d / "tiny-180p25.toml").write_text(TINY_PROFILE)
    profile = load_profile_file(d / "tiny-180p25.toml")
    src = make_clip(d / "clip.mp4", seconds=2)
    package(src, d / "clip.ts", profile)
    return d / "clip.ts"


class Receiver:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.datagrams: list[bytes] = []
        self.times: list[float] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            self.datagrams.append(data)
            self.times.append(time.monotonic())

    def close(self) -> None:
        time.sleep(0.2)
        self.done.set()
        self.thread.join(2)
        self.sock.close()


def test_udp_datagrams_are_7_packets_and_paced_in_real_time(short_ts: Path) -> None:
    rx = Receiver()
    try:
        rate = mux_rate_of(short_ts)
        assert rate == 600_000
        report = send_realtime(short_ts, f"udp://127.0.0.1:{rx.port}")
    finally:
        rx.close()
    data = short_ts.read_bytes()
    assert report.packets == len(data) // 188
    assert len(rx.datagrams) == report.datagrams == -(-report.packets // 7)
    assert all(len(d) == 7 * 188 for d in rx.datagrams[:-1])
    assert b"".join(rx.datagrams) == data  # loopback: nothing lost, nothing reordered
    # paced, not blasted: generous sanity bounds only
    stream_s = len(data) * 8 / rate
    span = rx.times[-1] - rx.times[0]
    assert 0.5 * stream_s < span < 5 * stream_s, (span, stream_s)
    half = len(rx.times) // 2
    assert rx.times[half] - rx.times[0] > 0.25 * stream_s


def test_stop_ends_sending_early_and_bad_urls_are_refused(short_ts: Path) -> None:
    rx = Receiver()
    stop = threading.Event()
    try:
        threading.Timer(0.3, stop.set).start()
        report = send_realtime(short_ts, f"udp://127.0.0.1:{rx.port}", stop=stop)
    finally:
        rx.close()
    assert 0 < report.datagrams < -(-short_ts.stat().st_size // 1316)
    for url in ("udp://127.0.0.1", "http://127.0.0.1:80/x", "udp://:5000"):
        with pytest.raises(PlayoutError, match="udp://HOST:PORT"):
            send_realtime(short_ts, url)


def test_sending_on_schedule_waits_for_the_start(short_ts: Path) -> None:
    rx = Receiver()
    at = datetime.now(UTC) + timedelta(seconds=0.6)
    try:
        report = send_realtime(short_ts, f"udp://127.0.0.1:{rx.port}", at=at)
        first_arrival = datetime.now(UTC) - timedelta(seconds=time.monotonic() - rx.times[0])
    finally:
        rx.close()
    assert report.joined_seconds == 0 and report.waited_seconds > 0
    assert b"".join(rx.datagrams) == short_ts.read_bytes()
    assert first_arrival >= at - timedelta(milliseconds=20)  # nothing went to air before its time


def test_a_late_start_joins_the_day_where_the_clock_is(short_ts: Path) -> None:
    data = short_ts.read_bytes()
    rate = mux_rate_of(short_ts)
    rx = Receiver()
    try:
        report = send_realtime(short_ts, f"udp://127.0.0.1:{rx.port}", at=datetime.now(UTC) - timedelta(seconds=1))
    finally:
        rx.close()
    assert report.joined_seconds >= 1.0
    skipped = round(report.joined_seconds * rate / 8)
    assert skipped % (7 * 188) == 0
    assert b"".join(rx.datagrams) == data[skipped:]  # the rest of the day, from the clock's position on
    with pytest.raises(PlayoutError, match="has already ended"):
        send_realtime(short_ts, f"udp://127.0.0.1:{rx.port}", at=datetime.now(UTC) - timedelta(hours=1))


def test_cli_playout_sends_and_logs_what_aired(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "tiny-180p25.toml").write_text(TINY_PROFILE)
    channel = {"channel": {"id": "t.kz", "name": "T", "slots": []},
               "fillers": {"idents": [{"source": "id.mp4", "duration": 1}], "clock": {"min": 1, "max": 60}}}
    make_clip(tmp_path / "id.mp4", seconds=1)
    (tmp_path / "ch.yaml").write_text(yaml.safe_dump(channel))
    assert main(["tv", "schedule", "build", "--channel", str(tmp_path / "ch.yaml"), "--date", "2026-11-26",
                 "--length", "3", "-o", str(tmp_path / "day.json")]) == 0
    rx = Receiver()
    try:
        assert main(["tv", "playout", str(tmp_path / "day.json"), "-o", str(tmp_path / "day.ts"),
                     "--profile", "tiny-180p25", "--profiles-dir", str(tmp_path / "profiles"),
                     "--udp", f"udp://127.0.0.1:{rx.port}", "--now", "--as-run", str(tmp_path / "asrun.jsonl")]) == 0
    finally:
        rx.close()
    assert b"".join(rx.datagrams) == (tmp_path / "day.ts").read_bytes()
    day = load_day(tmp_path / "day.json")
    recs = read_as_run(tmp_path / "asrun.jsonl")
    assert [r.kind for r in recs] == [i.kind for i in day.items] == ["ident", "clock"]
    assert all(r.status == "played" for r in recs)
    assert recs[0].end <= recs[1].start or recs[0].end == recs[1].start


def test_cli_playout_joins_a_day_in_progress_and_logs_what_was_missed(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "tiny-180p25.toml").write_text(TINY_PROFILE)
    make_clip(tmp_path / "id.mp4", seconds=1)
    now = datetime.now(UTC)
    if now.hour == 23 and now.minute == 59 and now.second > 40:  # the day must not change under the test
        time.sleep(21)
    channel = {"channel": {"id": "t.kz", "name": "T", "tz": "UTC", "slots": []},
               "fillers": {"idents": [{"source": "id.mp4", "duration": 1}], "clock": {"min": 1, "max": 60}}}
    (tmp_path / "ch.yaml").write_text(yaml.safe_dump(channel))
    # Assemble first (that takes a while), then move the day's start to 1.6 s ago and send on schedule.
    assert main(["tv", "schedule", "build", "--channel", str(tmp_path / "ch.yaml"), "--date",
                 datetime.now(UTC).date().isoformat(), "--length", "4", "-o", str(tmp_path / "day.json")]) == 0
    args = ["tv", "playout", str(tmp_path / "day.json"), "-o", str(tmp_path / "day.ts"), "--profile", "tiny-180p25",
            "--profiles-dir", str(tmp_path / "profiles")]
    assert main(args) == 0
    day_file = tmp_path / "day.json"
    doc = json.loads(day_file.read_text())
    shift = datetime.now(UTC) - timedelta(seconds=1.6) - datetime.fromisoformat(doc["start"])

    def moved(stamp: str) -> str:
        return (datetime.fromisoformat(stamp) + shift).isoformat(timespec="milliseconds")

    doc["start"], doc["end"] = moved(doc["start"]), moved(doc["end"])
    for item in doc["items"]:
        item["start"] = moved(item["start"])
    day_file.write_text(json.dumps(doc))
    rx = Receiver()
    try:
        assert main([*args, "--udp", f"udp://127.0.0.1:{rx.port}", "--as-run", str(tmp_path / "asrun.jsonl")]) == 0
    finally:
        rx.close()
    recs = read_as_run(tmp_path / "asrun.jsonl")
    assert [(r.kind, r.status) for r in recs] == [("ident", "missed"), ("clock", "joined")]
    data = (tmp_path / "day.ts").read_bytes()
    got = b"".join(rx.datagrams)
    assert 0 < len(got) < len(data) and data.endswith(got)


@pytest.mark.skipif(not has_srt(FFmpeg.locate()), reason="this ffmpeg build has no srt protocol")
def test_srt_through_ffmpeg_to_a_loopback_listener(short_ts: Path, tmp_path: Path) -> None:
    port = free_udp_port()
    got = tmp_path / "got.ts"
    listener = subprocess.Popen(
        [FFmpeg.locate().binary, "-v", "error", "-y", "-i", f"srt://127.0.0.1:{port}?mode=listener&timeout=10000000",
         "-map", "0", "-c", "copy", "-f", "mpegts", str(got)],
        stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        report = send_realtime(short_ts, f"srt://127.0.0.1:{port}?mode=caller")
        assert report.packets == short_ts.stat().st_size // 188
        listener.wait(timeout=20)
    finally:
        if listener.poll() is None:
            listener.kill()
    assert got.exists() and got.stat().st_size > 0.5 * short_ts.stat().st_size

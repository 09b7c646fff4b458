"""``aulacast tv package`` end to end through the real CLI entry point."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from media.broadcast.analyzer import analyze
from media.transcode.ffmpeg import Progress
from media.transcode.profiles import SHIPPED_DIR
from orchestrator.cli import main
from orchestrator.commands.tv_package import ProgressBar
from tests.helpers.media import make_clip
from tests.helpers.support import REPO

pytestmark = pytest.mark.slow


def test_package_prints_both_loudness_measurements(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = make_clip(tmp_path / "lecture.mp4", seconds=2, size="320x240")
    out = tmp_path / "lecture.ts"
    rc = main(["tv", "package", str(source), "-o", str(out), "--profile", "hd-720p25", "--hls", str(tmp_path / "web")])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert out.exists() and (tmp_path / "web" / "index.m3u8").exists()
    text = captured.out
    assert f"{out}: hd-720p25" in text
    before = re.search(r"loudness before (-\d+\.\d) LUFS", text)
    after = re.search(r"loudness after  (-\d+\.\d) LUFS.*true peak (-\d+\.\d) dBTP \(on target\)", text)
    assert before and after, text
    assert float(before[1]) < -27 and abs(float(after[1]) + 23) <= 0.5 and float(after[2]) <= -1
    assert "normalisation   linear" in text
    assert captured.err == ""  # not a terminal: no progress bar, and no loudness warnings


def test_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = make_clip(tmp_path / "mute.mp4", seconds=1, size="320x240", audio=None)
    out = tmp_path / "mute.ts"
    assert main(["tv", "package", str(source), "-o", str(out), "--profile", "sd-576i25", "--json",
                 "--channel", str(REPO / "examples" / "channel-demo.yaml")]) == 0
    captured = capsys.readouterr()
    sdt = next(t for t in analyze(out).tables if t.name.startswith("SDT"))  # the channel file's service
    assert [(s["service_id"], s["name"], s["provider"]) for s in sdt.content["services"]] == [
        (103, "Aulacast 1", "Aulacast")]
    report = json.loads(captured.out)
    assert report["profile"] == "sd-576i25" and report["mux_rate"] == 5_000_000
    assert report["loudness"]["flags"] == ["generated_silence"]
    assert report["loudness"]["before"]["true_peak"] is None
    assert "warning: loudness: the input has no audio" in captured.err


def test_non_media_input_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "readme.txt"
    bad.write_text("Course notes\n" * 30)
    rc = main(["tv", "package", str(bad), "-o", str(tmp_path / "x.ts"), "--profile", "hd-720p25"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith(f"aulacast: error: {bad} is not a media file") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["readme.txt"]


def test_bad_operator_profile_names_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ops = tmp_path / "profiles"
    ops.mkdir()
    text = (SHIPPED_DIR / "hd-720p25.toml").read_text().replace("audio_pid = 0x0102", "audio_pid = 0x0100")
    (ops / "hd-720p25.toml").write_text(text)
    rc = main(["tv", "package", str(tmp_path / "any.mp4"), "-o", str(tmp_path / "x.ts"), "--profile", "hd-720p25",
               "--profiles-dir", str(ops)])
    err = capsys.readouterr().err
    assert rc == 2
    line = text.splitlines().index("audio_pid = 0x0100") + 1
    assert f"{ops / 'hd-720p25.toml'}:{line}: transport.audio_pid: PID 0x0100 is already used by transport.pmt_pid" in err


def test_progress_bar_draws_one_line_and_clears_it() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar.update(Progress(1.0, 4.0, speed=6.5, stage="encode"))
    bar.update(Progress(4.0, 4.0, speed=6.5, stage="encode"))
    bar.close()
    drawn = stream.getvalue()
    assert "encoding" in drawn and "25.0%" in drawn and "100.0%" in drawn and "6.5x" in drawn
    assert "\n" not in drawn and drawn.endswith("\r")

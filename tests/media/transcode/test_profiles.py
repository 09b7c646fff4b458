"""Broadcast profiles as data: the shipped ones load, operators override them, bad ones are refused by file and key."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest

from media.errors import MediaError
from media.transcode.profiles import (
    SHIPPED_DIR,
    ProfileError,
    ProfileNotFound,
    available_profiles,
    load_profile,
    load_profile_file,
)
from media.transcode.service import DEFAULT_SERVICE, Service, ServiceError

SHIPPED = ("hd-1080i25", "hd-720p50", "hd-720p25", "sd-576i25")


def test_all_four_profiles_ship_and_load() -> None:
    names = available_profiles()
    for name in SHIPPED:
        assert name in names
        profile = load_profile(name)
        assert profile.name == name
        assert profile.source == SHIPPED_DIR / f"{name}.toml"
        assert profile.audio.sample_rate == 48000
        assert profile.loudness.integrated == -23.0 and profile.loudness.true_peak == -1.0
        assert profile.transport.mux_rate >= profile.required_mux_rate
        t = profile.transport
        assert len({t.pmt_pid, t.video_pid, t.audio_pid}) == 3
        assert all(0x20 <= pid < 0x1FFF for pid in (t.pmt_pid, t.video_pid, t.audio_pid))
        assert profile.service == DEFAULT_SERVICE  # the identity is the channel's, bound with for_service


def test_shipped_profiles_say_what_the_issue_asks() -> None:
    hd = load_profile("hd-1080i25")
    assert (hd.video.codec, hd.video.width, hd.video.height) == ("h264", 1920, 1080)
    assert hd.video.interlaced and hd.video.scan == "interlaced-tff"
    assert hd.video.frame_rate == Fraction(25)
    p50 = load_profile("hd-720p50")
    assert (p50.video.width, p50.video.height, p50.video.frame_rate, p50.video.scan) == (1280, 720, 50, "progressive")
    p25 = load_profile("hd-720p25")
    assert p25.video.frame_rate == 25 and not p25.video.interlaced
    sd = load_profile("sd-576i25")
    assert (sd.video.codec, sd.video.profile, sd.video.width, sd.video.height) == ("mpeg2video", "main", 720, 576)
    assert sd.video.aspect in ("4:3", "16:9") and sd.audio.codec == "mp2" and sd.video.interlaced
    assert sd.service_type == 0x01 and hd.service_type == 0x19


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def shipped_text(name: str = "hd-720p25") -> str:
    return (SHIPPED_DIR / f"{name}.toml").read_text(encoding="utf-8")


def test_operator_directory_overrides_and_adds(tmp_path: Path) -> None:
    ops = tmp_path / "profiles"
    write(ops, "hd-720p25", shipped_text().replace("mux_rate = 5_000_000", "mux_rate = 6_000_000"))
    write(ops, "campus-720p25", shipped_text().replace("video_pid = 0x0101", "video_pid = 0x0201"))
    overridden = load_profile("hd-720p25", extra_dirs=[ops])
    assert overridden.transport.mux_rate == 6_000_000
    assert overridden.source == ops / "hd-720p25.toml"
    assert load_profile("hd-720p25").transport.mux_rate == 5_000_000
    added = load_profile("campus-720p25", extra_dirs=[ops])
    assert added.transport.video_pid == 0x0201
    names = available_profiles([ops])
    assert names["hd-720p25"] == ops / "hd-720p25.toml" and "campus-720p25" in names and "sd-576i25" in names


def test_a_path_to_a_toml_file_is_a_profile(tmp_path: Path) -> None:
    path = write(tmp_path, "mine", shipped_text())
    assert load_profile(str(path)).name == "mine"


def test_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ProfileNotFound, match=r"no profile named 'hd-4k'.*hd-1080i25"):
        load_profile("hd-4k")
    with pytest.raises(ProfileNotFound, match="not a profile name"):
        load_profile("../../etc/passwd")
    with pytest.raises(ProfileNotFound, match="does not exist"):
        load_profile("hd-720p25", extra_dirs=[tmp_path / "missing"])


def refused(tmp_path: Path, text: str) -> ProfileError:
    path = write(tmp_path, "bad", text)
    with pytest.raises(ProfileError) as caught:
        load_profile_file(path)
    err = caught.value
    assert str(err).startswith(f"{path}:{err.line}: "), str(err)
    if err.key:  # the line where that key is written (its table's header when it is missing)
        assert err.line == line_of_key(text, err.key), str(err)
    assert isinstance(err, MediaError)
    return err


def line_of_key(text: str, key: str) -> int:
    """Where ``table.name`` is written: the ``name =`` line under ``[table]``, else the header."""
    lines = text.splitlines()
    table, _, name = key.rpartition(".")
    start = next((i for i, line in enumerate(lines) if line.strip() == f"[{table}]"), -1) if table else -1
    for i in range(start + 1, len(lines)):
        if table and lines[i].startswith("["):
            break
        if re.match(rf"^\[?{re.escape(name)}\]?(\s*=|$)", lines[i]):
            return i + 1
    return start + 1


def test_pid_clash_is_refused_naming_file_and_key(tmp_path: Path) -> None:
    err = refused(tmp_path, shipped_text().replace("audio_pid = 0x0102", "audio_pid = 0x0101"))
    assert err.key == "transport.audio_pid"
    assert "0x0101 is already used by transport.video_pid" in str(err)


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        ("pmt_pid = 0x0100", "pmt_pid = 0x0011", "transport.pmt_pid", "reserved"),
        ("video_pid = 0x0101", "video_pid = 0x1FFF", "transport.video_pid", "null packet"),
        ("pmt_pid = 0x0100", "pmt_pid = 0x0101", "transport.video_pid", "already used by transport.pmt_pid"),
        ('codec = "h264"', 'codec = "h265"', "video.codec", "unknown value 'h265'"),
        ('codec = "aac"', 'codec = "opus"', "audio.codec", "unknown value 'opus'"),
        ('profile = "high"', 'profile = "baseline"', "video.profile", "unknown value 'baseline'"),
        ("mux_rate = 5_000_000", "mux_rate = 4_000_000", "transport.mux_rate", "cannot carry video 4000000"),
        ("bitrate = 4_000_000", "bitrate = 6_000_000", "transport.mux_rate", "needs at least"),
        ("pmt_pid = 0x0100", 'pmt_pid = "256"', "transport.pmt_pid", "must be an integer PID, not str '256'"),
        ("width = 1280", "width = 1280.0", "video.width", "must be an integer"),
        ("sample_rate = 48000", "sample_rate = 44100", "audio.sample_rate", "48000 Hz"),
        ('scan = "progressive"', 'scan = "interlaced-bff"', "video.scan", "unknown value"),
        ("frame_rate = 25", 'frame_rate = "fast"', "video.frame_rate", "frame rate like 25"),
        ("gop = 25", "gop = 0", "video.gop", "outside 1..600"),
        ("[loudness]", "[loudnes]", "loudnes", "unknown key"),
        ("bufsize = 2_000_000", "bufsize = 2_000_000\nbitrat = 5", "video.bitrat", "unknown key"),
        ("integrated = -23.0", "integrated = 23.0", "loudness.integrated", "outside"),
    ],
)
def test_bad_values_are_refused_naming_file_and_key(tmp_path: Path, old: str, new: str, key: str, problem: str) -> None:
    text = shipped_text()
    assert old in text
    err = refused(tmp_path, text.replace(old, new, 1))
    assert err.key == key, str(err)
    assert problem in str(err)
    assert f": {key}: " in str(err)


@pytest.mark.parametrize("key", ["video.codec", "video.bufsize", "audio.bitrate", "transport.pmt_pid",
                                 "transport.mux_rate", "loudness.true_peak"])
def test_missing_key_is_refused_naming_it(tmp_path: Path, key: str) -> None:
    table, name = key.split(".")
    text = shipped_text()
    section = text.index(f"[{table}]")
    line = re.compile(rf"^{name} = .*$", re.MULTILINE).search(text, section)
    assert line is not None
    err = refused(tmp_path, text[: line.start()] + text[line.end():])
    assert err.key == key and str(err).endswith(f"{key}: missing")


def test_sd_profile_must_say_its_aspect(tmp_path: Path) -> None:
    text = shipped_text("sd-576i25")
    err = refused(tmp_path, re.sub(r'^aspect = .*$', "", text, flags=re.MULTILINE))
    assert err.key == "video.aspect"
    err = refused(tmp_path, text.replace('aspect = "16:9"', 'aspect = "21:9"'))
    assert err.key == "video.aspect" and "4:3, 16:9" in str(err)


def test_mp2_takes_only_layer_ii_bitrates(tmp_path: Path) -> None:
    err = refused(tmp_path, shipped_text("sd-576i25").replace("bitrate = 192_000", "bitrate = 200_000"))
    assert err.key == "audio.bitrate" and "not a mp2 bitrate" in str(err)


def test_broken_toml_is_refused_with_its_position(tmp_path: Path) -> None:
    err = refused(tmp_path, "[video\ncodec = 'h264'\n")
    assert err.key is None and "not valid TOML" in str(err) and "line 1" in str(err)


@pytest.mark.parametrize(("key", "value", "moved"), [
    ("service_name", '"Aulacast Lectures"', "channel.service.name"),
    ("provider_name", '"Aulacast"', "channel.service.provider"),
    ("service_id", "103", "channel.service.id"),
    ("original_network_id", "0xFF10", "channel.service.original_network_id"),
    ("transport_stream_id", "1", "channel.service.transport_stream_id"),
])
def test_an_old_profile_naming_a_service_is_refused_saying_where_it_moved(
    tmp_path: Path, key: str, value: str, moved: str
) -> None:
    """Profiles keep encoding parameters only: the service identity is the channel file's."""
    text = shipped_text().replace("mux_rate = 5_000_000", f"mux_rate = 5_000_000\n{key} = {value}")
    err = refused(tmp_path, text)
    assert err.key == f"transport.{key}" and err.line is not None
    assert moved in str(err) and "channel file" in str(err) and "delete this key" in str(err)


def test_a_profile_carries_the_service_it_is_bound_to() -> None:
    profile = load_profile("hd-720p25")
    bound = profile.for_service(Service("Campus TV", "Uni", 7, 0xFF10, 2))
    assert bound.service.name == "Campus TV" and bound.transport == profile.transport and bound.video == profile.video
    assert profile.service == DEFAULT_SERVICE
    with pytest.raises(ServiceError, match="service_id must be an integer 1..65535"):
        Service("x", "y", 0, 1, 1)
    with pytest.raises(ServiceError, match="longer than 100 bytes"):
        Service("Я" * 51, "y", 1, 1, 1)

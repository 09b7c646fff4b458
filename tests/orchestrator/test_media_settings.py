"""[media] and [signaling]: the media server's and the signaling nodes' knobs, from the file or AULACAST_*."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from media.live.types import MediaConfig
from orchestrator.config import load_settings
from orchestrator.errors import ConfigError
from orchestrator.rooms import make_media_server
from orchestrator.services import Services


def _media_config(settings_file: Path) -> MediaConfig:
    svc = Services.build(load_settings(settings_file))
    return make_media_server(svc).config


def test_defaults_are_the_media_servers_own(tmp_path: Path) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\n')
    assert _media_config(cfg) == MediaConfig()


def test_file_and_environment_reach_the_media_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\nlog_level = "WARNING"\n'
                   '[ice]\nhost_addresses = ["10.0.0.5"]\nstun_urls = ["stun:stun.example:3478"]\n'
                   "[media]\npli_interval = 1.0\nconsent_failures = 5\nvideo_jitter_packets = 256\n")  # fmt: skip
    monkeypatch.setenv("AULACAST_MEDIA__CONSENT_FAILURES", "8")
    monkeypatch.setenv("AULACAST_MEDIA__UDP_RECEIVE_BUFFER", str(4 << 20))
    config = _media_config(cfg)
    expected = asdict(MediaConfig())
    expected.update(pli_interval=1.0, consent_failures=8, video_jitter_packets=256, udp_receive_buffer=4 << 20,
                    host_addresses=["10.0.0.5"], ice_servers=[{"urls": ["stun:stun.example:3478"], "username": None,
                                                               "credential": None}])  # fmt: skip
    assert asdict(config) == expected
    pool = make_media_server(Services.build(load_settings(cfg)))
    assert pool.launcher == ("-m", "orchestrator.worker", "--log-level", "WARNING", "media.live.workers")


def test_signaling_knobs_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings().signaling.model_dump() == {"heartbeat_seconds": 3.0, "stock_fanout": False,
                                                      "gc_freeze": True, "max_sockets_per_person": 5}  # fmt: skip
    monkeypatch.setenv("AULACAST_SIGNALING__HEARTBEAT_SECONDS", "0.5")
    monkeypatch.setenv("AULACAST_SIGNALING__STOCK_FANOUT", "1")
    monkeypatch.setenv("AULACAST_SIGNALING__GC_FREEZE", "0")
    assert load_settings().signaling.model_dump() == {"heartbeat_seconds": 0.5, "stock_fanout": True,
                                                      "gc_freeze": False, "max_sockets_per_person": 5}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("[media]\nvideo_jitter_packets = 100\n", "setting 'media.video_jitter_packets': Value error, must be a power"),
        ("[media]\nconsent_failures = 0\n", "setting 'media.consent_failures'"),
        ("[media]\nfanout_slice = 10\n", "unknown setting 'media.fanout_slice'"),
        ("[signaling]\nheartbeat_seconds = 0\n", "setting 'signaling.heartbeat_seconds'"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, body: str, needle: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(body)
    with pytest.raises(ConfigError, match=needle):
        load_settings(cfg)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("AULACAST_ROOM_HEARTBEAT_SECONDS", "AULACAST_SIGNALING__HEARTBEAT_SECONDS"),
        ("AULACAST_SIGNALING_STOCK_FANOUT", "AULACAST_SIGNALING__STOCK_FANOUT"),
        ("AULACAST_SIGNALING_GC_FREEZE", "AULACAST_SIGNALING__GC_FREEZE"),
        ("AULACAST_MEDIA_HOST_ADDRESSES", "AULACAST_ICE__HOST_ADDRESSES"),
    ],
)
def test_a_variable_read_before_settings_existed_is_refused_with_its_new_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(old, "1")
    with pytest.raises(ConfigError, match=f"{old} is now {new}"):
        load_settings()

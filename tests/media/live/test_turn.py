"""TURN REST credentials, checked by a real coturn running our infra config on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aioice.stun
import aioice.turn
import pytest

from media.errors import MediaError
from media.live.sfu import aiortc_ice_server
from media.live.turn import TurnConfig, ice_servers, turn_credential
from tests.helpers.support import REPO

CONF = REPO / "infra" / "coturn" / "turnserver.conf"
SECRET = "test-secret-not-for-production"


def test_credential_is_expiry_colon_user_and_hmac_sha1_base64() -> None:
    cred = turn_credential("s3cret", "alice", now=1_700_000_000.7, ttl_seconds=3600)
    assert cred.username == "1700003600:alice"
    assert cred.expires_at == 1_700_003_600
    expected = base64.b64encode(hmac.new(b"s3cret", b"1700003600:alice", hashlib.sha1).digest()).decode()
    assert cred.credential == expected
    # Independent check with the openssl binary.
    out = subprocess.run(
        ["openssl", "dgst", "-sha1", "-hmac", "s3cret", "-binary"],
        input=b"1700003600:alice",
        capture_output=True,
        check=True,
    ).stdout
    assert base64.b64encode(out).decode() == cred.credential


def test_bad_turn_settings_are_refused_clearly() -> None:
    with pytest.raises(MediaError, match="static-auth-secret"):
        turn_credential("", "alice", now=0, ttl_seconds=60)
    with pytest.raises(MediaError, match="must not contain ':'"):
        turn_credential("s", "a:b", now=0, ttl_seconds=60)
    with pytest.raises(MediaError, match="positive"):
        turn_credential("s", "a", now=0, ttl_seconds=0)
    with pytest.raises(MediaError, match="turn: or turns:"):
        ice_servers(TurnConfig(secret="s", urls=["http://x"]), "a", now=0)
    with pytest.raises(MediaError, match="stun:"):
        ice_servers(TurnConfig(stun_urls=["turn:x"]), "a", now=0)


def test_ice_server_list_for_the_browser() -> None:
    assert ice_servers(TurnConfig(), "alice", now=0) == []  # never a public STUN by default
    config = TurnConfig(
        secret="k",
        urls=["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"],
        stun_urls=["stun:turn.example.org:3478"],
        ttl_seconds=60,
    )
    stun, turn = ice_servers(config, "alice", now=100)
    assert stun.to_browser() == {"urls": ["stun:turn.example.org:3478"]}
    browser = turn.to_browser()
    assert browser["username"] == "160:alice" and browser["credential"]
    assert aiortc_ice_server(turn).username == "160:alice"


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[dict[str, int]]:
    """coturn with infra/coturn/turnserver.conf, moved onto 127.0.0.1 and free ports."""
    if shutil.which("turnserver") is None or shutil.which("openssl") is None:
        pytest.skip("coturn (Debian package 'coturn') and openssl are needed")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    ports = {"plain": _free_port(socket.SOCK_STREAM), "tls": _free_port(socket.SOCK_STREAM)}
    relay = _free_port(socket.SOCK_DGRAM)
    text = CONF.read_text()
    replacements = {
        "static-auth-secret=${AULACAST_TURN_SECRET}": f"static-auth-secret={SECRET}",
        "listening-port=3478": f"listening-port={ports['plain']}",
        "tls-listening-port=5349": f"tls-listening-port={ports['tls']}",
        "min-port=49160": f"min-port={max(1024, relay - 20)}",
        "max-port=49999": f"max-port={min(65535, relay + 20)}",
        "cert=/etc/coturn/certs/fullchain.pem": f"cert={tmp_path / 'cert.pem'}",
        "pkey=/etc/coturn/certs/privkey.pem": f"pkey={tmp_path / 'key.pem'}",
        "log-file=stdout": f"log-file={tmp_path / 'turn.log'}",
    }
    for old, new in replacements.items():
        assert old in text, f"infra/coturn/turnserver.conf no longer has {old!r}"
        text = text.replace(old, new)
    text += "\nlistening-ip=127.0.0.1\nrelay-ip=127.0.0.1\nno-dtls\n"
    text += f"pidfile={tmp_path / 'turn.pid'}\nuserdb={tmp_path / 'turn.db'}\n"
    conf = tmp_path / "turnserver.conf"
    conf.write_text(text)
    proc = subprocess.Popen(["turnserver", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", ports["tls"]), timeout=0.5).close()
                socket.create_connection(("127.0.0.1", ports["plain"]), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = (tmp_path / "turn.log").read_text() if (tmp_path / "turn.log").exists() else ""
                    pytest.fail(f"coturn did not start with our config:\n{log[-2000:]}")
                time.sleep(0.1)
        yield ports
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def _allocate(port: int, username: str, password: str, transport: str, tls: bool = False) -> tuple[str, int]:
    context = None
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    turn, _ = await aioice.turn.create_turn_endpoint(
        asyncio.DatagramProtocol,
        server_addr=("127.0.0.1", port),
        username=username,
        password=password,
        ssl=context,
        transport=transport,
    )
    try:
        return turn.get_extra_info("sockname")
    finally:
        turn.close()


@pytest.mark.slow
async def test_coturn_accepts_our_credentials_over_udp_tcp_and_tls_and_refuses_bad_ones(
    coturn: dict[str, int],
) -> None:
    cred = turn_credential(SECRET, "alice", now=time.time(), ttl_seconds=600)
    for transport, port, tls in (("udp", coturn["plain"], False), ("tcp", coturn["plain"], False),
                                 ("tcp", coturn["tls"], True)):  # fmt: skip
        relayed = await asyncio.wait_for(_allocate(port, cred.username, cred.credential, transport, tls), 10)
        assert relayed[0] == "127.0.0.1", (transport, tls)

    expired = turn_credential(SECRET, "alice", now=time.time() - 7200, ttl_seconds=600)
    forged = turn_credential("another secret", "alice", now=time.time(), ttl_seconds=600)
    for bad in (expired, forged):
        with pytest.raises(aioice.stun.TransactionFailed, match="401"):
            await asyncio.wait_for(_allocate(coturn["plain"], bad.username, bad.credential, "udp"), 10)

"""Fixtures for the MPEG-TS / DVB SI tests: real ffmpeg CBR streams, synthetic streams, GStreamer.

Streams from ffmpeg are made once per session (a few seconds, 320×240) in a
temporary directory. ``synth_ts`` builds streams packet by packet with our own
builders, for faults ffmpeg cannot be asked to make (late PCRs, scrambled PAT).
``gst_si`` runs Debian's /usr/bin/python3 with GstMpegts as an independent reader.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from media.broadcast.dvb.mpegts import NULL_PACKET, build_packet, packetize_section
from media.broadcast.dvb.psi import Pat, Pmt, PmtStream, encode_pat, encode_pmt

SERVICE_ID = 7
TSID = 3
ONID = 0x2001
SERVICE_NAME = "Aula TV"
PROVIDER = "Aulacast"


def ffmpeg_exe() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def make_cbr_ts(
    path: Path, *, seconds: float = 4.0, muxrate: str = "2M", video_bitrate: str = "500k"
) -> Path:
    """A constant-bitrate TS as the packaging step makes it: H.264 + MP2, NIT, explicit ids."""
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", str(seconds),
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", video_bitrate, "-minrate", video_bitrate,
        "-maxrate", video_bitrate, "-bufsize", video_bitrate,
        "-c:a", "mp2", "-b:a", "128k",
        "-f", "mpegts", "-muxrate", muxrate, "-mpegts_flags", "+nit",
        "-mpegts_service_id", str(SERVICE_ID), "-mpegts_transport_stream_id", str(TSID),
        "-mpegts_original_network_id", str(ONID),
        "-metadata", f"service_name={SERVICE_NAME}", "-metadata", f"service_provider={PROVIDER}",
        str(path),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=120)
    return path


@pytest.fixture(scope="session")
def cbr_ts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s of 2 Mbit/s CBR TS from ffmpeg (read-only: copy before changing)."""
    return make_cbr_ts(tmp_path_factory.mktemp("si") / "cbr.ts")


def packets_of(data: bytes) -> list[bytes]:
    return [data[i : i + 188] for i in range(0, len(data), 188)]


def pid_of(packet: bytes) -> int:
    return ((packet[1] & 0x1F) << 8) | packet[2]


@pytest.fixture(scope="session")
def ts_kit() -> SimpleNamespace:
    """Helpers and constants for tests (test modules here are not a package, so no imports)."""
    return SimpleNamespace(
        make_cbr_ts=make_cbr_ts,
        synth_ts=synth_ts,
        packets_of=packets_of,
        pid_of=pid_of,
        SERVICE_ID=SERVICE_ID,
        TSID=TSID,
        ONID=ONID,
        SERVICE_NAME=SERVICE_NAME,
        PROVIDER=PROVIDER,
    )


def synth_ts(
    seconds: float = 2.0,
    *,
    muxrate: int = 1_000_000,
    pcr_interval: float = 0.02,
    pat_interval: float = 0.1,
    pcr_jump_at: float | None = None,
    pcr_jump_s: float = 0.5,
    pcr_jump_flagged: bool = False,
    with_audio_pid: bool = True,
    pts_interval: float = 0.04,
    pcr_start_s: float = 1.0,
) -> bytes:
    """A small CBR stream built by hand: PAT, PMT (video 0x100 with PCR, audio 0x101), nulls.

    Packets are placed by time at ``muxrate``, so PCRs are exact; the arguments make
    the faults the analyser must see.
    """
    spp = 188 * 8 / muxrate
    n = int(seconds / spp)
    pat = encode_pat(Pat(TSID, {0: 0x10, SERVICE_ID: 0x1000}))
    streams = [PmtStream(0x1B, 0x100)] + ([PmtStream(0x03, 0x101)] if with_audio_pid else [])
    pmt = encode_pmt(Pmt(SERVICE_ID, 0x100, tuple(streams)))
    out: list[bytes] = []
    cc = {0: 0, 0x1000: 0, 0x100: 0, 0x101: 0}
    next_pat = 0.0
    next_pcr = 0.0
    next_pts = 0.0
    pcr_offset = 0.0
    jumped = False
    pts = 0
    i = 0
    while i < n:
        t = i * spp
        if t >= next_pat:
            for pid, sec in ((0, pat), (0x1000, pmt)):
                for p in packetize_section(sec, pid, cc[pid]):
                    out.append(p)
                    cc[pid] = (cc[pid] + 1) & 15
                    i += 1
            next_pat += pat_interval
            continue
        if t >= next_pcr:
            flag = False
            if pcr_jump_at is not None and not jumped and t >= pcr_jump_at:
                pcr_offset += pcr_jump_s
                jumped = True
                flag = pcr_jump_flagged
            pcr = round((t + pcr_offset + pcr_start_s) * 27_000_000) % ((1 << 33) * 300)
            out.append(build_packet(0x100, b"", continuity_counter=cc[0x100], pcr=pcr, discontinuity=flag))
            i += 1
            next_pcr += pcr_interval
            continue
        if with_audio_pid and t >= next_pts:
            pts = int((t + 1.0) * 90_000)
            pes = bytes([0, 0, 1, 0xC0, 0, 0, 0x80, 0x80, 5]) + bytes(
                [
                    0x21 | ((pts >> 29) & 0x0E),
                    (pts >> 22) & 0xFF,
                    0x01 | ((pts >> 14) & 0xFE),
                    (pts >> 7) & 0xFF,
                    0x01 | ((pts << 1) & 0xFE),
                ]
            )
            out.append(
                build_packet(
                    0x101, pes + b"\x00" * 100, continuity_counter=cc[0x101], payload_unit_start=True
                )
            )
            cc[0x101] = (cc[0x101] + 1) & 15
            i += 1
            next_pts += pts_interval
            continue
        out.append(NULL_PACKET)
        i += 1
    return b"".join(out)


GST_SCRIPT = r"""
import json, sys
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstMpegts", "1.0")
from gi.repository import Gst, GstMpegts
Gst.init(None)
GstMpegts.initialize()
pipe = Gst.parse_launch('filesrc name=src ! tsparse ! fakesink')
pipe.get_by_name("src").set_property("location", sys.argv[1])
bus = pipe.get_bus()
pipe.set_state(Gst.State.PLAYING)
out = {"sdt": [], "eit": [], "tdt": [], "tot": [], "sdt_ids": [], "pat": []}
def dt(d):
    return "%04d-%02d-%02dT%02d:%02d:%02d" % (d.get_year(), d.get_month(), d.get_day(),
                                             d.get_hour(), d.get_minute(), d.get_second())
while True:
    msg = bus.timed_pop_filtered(20 * Gst.SECOND,
                                 Gst.MessageType.ELEMENT | Gst.MessageType.EOS | Gst.MessageType.ERROR)
    if msg is None or msg.type != Gst.MessageType.ELEMENT:
        break
    sec = GstMpegts.message_parse_mpegts_section(msg)
    if sec is None:
        continue
    st = sec.section_type
    if st == GstMpegts.SectionType.PAT:
        out["pat"].append(sorted(p.program_number for p in sec.get_pat() if p.program_number))
    elif st == GstMpegts.SectionType.SDT:
        sdt = sec.get_sdt()
        out["sdt_ids"].append([sdt.original_network_id, sdt.transport_stream_id, bool(sdt.actual_ts)])
        for s in sdt.services:
            for d in s.descriptors:
                if d.tag == 0x48:
                    ok, stype, name, prov = d.parse_dvb_service()
                    out["sdt"].append({"service_id": s.service_id, "name": name, "provider": prov,
                                       "eit_pf": bool(s.EIT_present_following_flag),
                                       "eit_schedule": bool(s.EIT_schedule_flag)})
    elif st == GstMpegts.SectionType.EIT:
        eit = sec.get_eit()
        for e in eit.events:
            # (content descriptors are not read: GI maps GstMpegtsContent's fields wrongly here)
            texts, extended = [], {}
            for d in e.descriptors:
                if d.tag == 0x4D:
                    ok, lang, name, text = d.parse_dvb_short_event()
                    texts.append([lang, name, text])
                elif d.tag == 0x4E:
                    ok, ext = d.parse_dvb_extended_event()
                    extended.setdefault(ext.language_code, []).append([ext.descriptor_number, ext.text])
            out["eit"].append({"table_id": sec.table_id, "service_id": sec.subtable_extension,
                               "section": sec.section_number, "version": sec.version_number,
                               "onid": eit.original_network_id, "tsid": eit.transport_stream_id,
                               "event_id": e.event_id, "start": dt(e.start_time), "duration": e.duration,
                               "running_status": int(e.running_status), "texts": texts,
                               "extended": {k: "".join(t for _n, t in sorted(v)) for k, v in extended.items()}})
    elif st == GstMpegts.SectionType.TDT:
        out["tdt"].append(dt(sec.get_tdt()))
    elif st == GstMpegts.SectionType.TOT:
        tot = sec.get_tot()
        out["tot"].append({"utc": dt(tot.utc_time), "descriptor_tags": [d.tag for d in tot.descriptors]})
pipe.set_state(Gst.State.NULL)
print(json.dumps(out, ensure_ascii=False))
sys.stdout.flush()
# leave without interpreter teardown: freeing the GI-wrapped extended event structs crashes it
import os
os._exit(0)
"""

SYSTEM_PYTHON = "/usr/bin/python3"


def gst_missing_reason() -> str | None:
    """Why GStreamer's MPEG-TS reader cannot run here, or None when it can."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not installed"
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c",
         "import gi; gi.require_version('Gst','1.0'); gi.require_version('GstMpegts','1.0');"
         "from gi.repository import Gst, GstMpegts; Gst.init(None); "
         "assert Gst.ElementFactory.find('tsparse')"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if probe.returncode != 0:
        return (
            "GStreamer MPEG-TS reader unavailable (needs Debian packages gstreamer1.0-plugins-bad, "
            f"gir1.2-gst-plugins-bad-1.0, python3-gi): {probe.stderr.strip().splitlines()[-1:]}"
        )
    return None


@pytest.fixture(scope="session")
def gst_si() -> Callable[[Path], dict]:
    """Decode SDT/EIT/TDT/TOT of a TS file with GStreamer (Debian python3 + GstMpegts)."""
    reason = gst_missing_reason()
    if reason:
        pytest.skip(reason)

    def run(path: Path) -> dict:
        proc = subprocess.run(
            [SYSTEM_PYTHON, "-c", GST_SCRIPT, str(path)], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    return run

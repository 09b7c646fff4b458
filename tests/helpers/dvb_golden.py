"""The DVB golden fixtures: fixed inputs, what our encoders make of them, and how they were frozen.

    .venv/bin/python -m tests.helpers.dvb_golden --check    # build, show tshark's reading, compare with the files
    .venv/bin/python -m tests.helpers.dvb_golden --write    # (re)freeze tests/data/dvb/ after a deliberate change

The files in ``tests/data/dvb/`` are the bytes our section and packet encoders
produced for the inputs below when they were frozen, each read back by an
independent decoder first (Wireshark's tshark: every field and every CRC_32;
see tests/data/dvb/README.md). ``tests/media/broadcast/test_dvb_golden.py``
checks that the encoders still produce exactly these bytes and that our
decoders read the inputs back from them; GStreamer's reader checks the
transport stream again on every run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from media.broadcast.dvb.eit import EitEvent, EventText, ServiceRef, eit_pf_sections, eit_schedule_sections
from media.broadcast.dvb.mpegts import NULL_PACKET, build_packet, packetize_sections
from media.broadcast.dvb.psi import (
    SERVICE_TYPE_AVC_HD_TV,
    Descriptor,
    Nit,
    NitTransportStream,
    Pat,
    Pmt,
    PmtStream,
    Sdt,
    SdtService,
    encode_nit,
    encode_pat,
    encode_pmt,
    encode_sdt,
    service_list_descriptor,
)
from media.broadcast.dvb.tdt import LocalTimeOffset, encode_tdt, encode_tot
from tests.helpers.support import REPO

DATA = REPO / "tests" / "data" / "dvb"

# The shipped hd-720p25 profile's identifiers (media/transcode/profiles/hd-720p25.toml).
TSID, ONID, SERVICE_ID = 1, 0xFF10, 103
PMT_PID, VIDEO_PID, AUDIO_PID = 0x0100, 0x0101, 0x0102
NIT_PID, SDT_PID, EIT_PID, TDT_PID = 0x0010, 0x0011, 0x0012, 0x0014

NOW = datetime(2026, 11, 26, 5, 10, tzinfo=UTC)  # 10:10 in Almaty (UTC+5)
SERVICE = ServiceRef(SERVICE_ID, TSID, ONID)
LONG_RU = (
    "Предел последовательности и функции: определения на языке эпсилон-дельта, единственность предела, "
    "арифметические свойства, замечательные пределы и их применение к вычислению пределов. "
    "Разбор типичных задач контрольной работы."
)  # longer than a short event descriptor holds: it travels in extended event descriptors too

PAT = Pat(TSID, {0: NIT_PID, SERVICE_ID: PMT_PID})
PMT = Pmt(
    SERVICE_ID,
    VIDEO_PID,
    (PmtStream(0x1B, VIDEO_PID), PmtStream(0x0F, AUDIO_PID, (Descriptor(0x0A, b"kaz\x00"),))),
)
SDT = Sdt(TSID, ONID, (SdtService(SERVICE_ID, "Aulacast Lectures", "Aulacast", SERVICE_TYPE_AVC_HD_TV,
                                  eit_schedule=True, eit_present_following=True),))  # fmt: skip
NIT = Nit(ONID, "Aulacast", (NitTransportStream(TSID, ONID, (service_list_descriptor([(SERVICE_ID, 0x19)]),)),))
PRESENT = EitEvent(
    datetime(2026, 11, 26, 4, 0, tzinfo=UTC),
    timedelta(minutes=80),
    (
        EventText("kaz", "Жоғары математика: Шектер", "Тізбек пен функцияның шегі."),
        EventText("rus", "Высшая математика: Пределы", LONG_RU),
        EventText("eng", "Higher Mathematics: Limits", "Limits of sequences and functions."),
    ),
    content=(0x90,),
)
FOLLOWING = EitEvent(
    datetime(2026, 11, 26, 5, 30, tzinfo=UTC),
    timedelta(minutes=60),
    (EventText("kaz", "Қазақстан тарихы: Алтын Орда"), EventText("eng", "History of Kazakhstan: The Golden Horde")),
    content=(0x90,),
)
EVENING = EitEvent(datetime(2026, 11, 26, 16, 0, tzinfo=UTC), timedelta(minutes=80),
                   (EventText("rus", "Высшая математика: Пределы (повтор)"),), content=(0x90,))  # fmt: skip
OFFSET = LocalTimeOffset("KAZ", timedelta(hours=5), datetime(2027, 11, 1, tzinfo=UTC), timedelta(hours=5))


def sections() -> dict[str, list[bytes]]:
    """Every golden section by fixture name (EIT p/f and schedule are several sections)."""
    return {
        "pat": [encode_pat(PAT)],
        "pmt": [encode_pmt(PMT)],
        "sdt": [encode_sdt(SDT)],
        "nit": [encode_nit(NIT)],
        "eit_pf": eit_pf_sections(SERVICE, PRESENT, FOLLOWING),
        "eit_schedule": eit_schedule_sections(SERVICE, [PRESENT, FOLLOWING, EVENING], now=NOW, days=1),
        "tdt": [encode_tdt(NOW)],
        "tot": [encode_tot(NOW, [OFFSET])],
    }


MUX_RATE = 1_000_000
PACKETS = 266  # 0.4 s at 1 Mbit/s
PCR_BASE = 27_000_000  # 1 s
PCR_PER_PACKET = 188 * 8 * 27_000_000 // MUX_RATE  # 40,608 ticks: exact at this rate


SECTION_GAP = 18  # packets (27 ms): sections of one table at least 25 ms apart (TR 101 290 3.7)


def transport_stream() -> bytes:
    """A short CBR stream our own analyser passes: PAT and PMT every 60 packets, a PCR every 20,
    an audio PES every 20, each other table once (its sections 25 ms apart), null packets between."""
    s = sections()
    cc: dict[int, int] = {}

    def packets(pid: int, secs: list[bytes]) -> list[bytes]:
        out = packetize_sections(secs, pid, cc.get(pid, 0))
        cc[pid] = (cc.get(pid, 0) + len(out)) & 0x0F
        return out

    # PID -> its sections' packets, in order; a section starts SECTION_GAP packets after the last one ended
    pending: dict[int, list[list[bytes]]] = {}
    for pid, names in ((NIT_PID, ("nit",)), (SDT_PID, ("sdt",)), (EIT_PID, ("eit_pf", "eit_schedule")),
                       (TDT_PID, ("tdt", "tot"))):  # fmt: skip
        pending[pid] = [packets(pid, [section]) for name in names for section in s[name]]
    ready = dict.fromkeys(pending, 23)  # after two PCRs, which set the clock the analyser times sections by
    out: list[bytes] = []
    while len(out) < PACKETS:
        at = len(out)
        if at % 60 == 0:
            out += packets(0, s["pat"]) + packets(PMT_PID, s["pmt"])
        elif at % 20 == 2:  # PCR alone in an adaptation field: no payload, so the counter stays
            out.append(build_packet(VIDEO_PID, pcr=PCR_BASE + at * PCR_PER_PACKET))
        elif at % 20 == 12:
            out.append(_audio_packet(at, cc))
        else:
            pid = next((pid for pid, queue in pending.items() if queue and ready[pid] <= at), None)
            if pid is None:
                out.append(NULL_PACKET)
                continue
            section = pending[pid][0]
            out.append(section.pop(0))
            if not section:
                pending[pid].pop(0)
                ready[pid] = at + SECTION_GAP
    assert not any(pending.values()) and len(out) == PACKETS
    return b"".join(out)


def _audio_packet(at: int, cc: dict[int, int]) -> bytes:
    """One audio PES packet: its PTS is the packet's time on the PCR clock (90 kHz), its data zeros."""
    pts = (PCR_BASE + at * PCR_PER_PACKET) // 300
    header = bytes([0x80, 0x80, 5, 0x21 | ((pts >> 29) & 0x0E), (pts >> 22) & 0xFF, 0x01 | ((pts >> 14) & 0xFE),
                    (pts >> 7) & 0xFF, 0x01 | ((pts << 1) & 0xFE)])  # fmt: skip
    data = header + bytes(100)
    pes = bytes([0, 0, 1, 0xC0, len(data) >> 8, len(data) & 0xFF]) + data
    packet = build_packet(AUDIO_PID, pes, continuity_counter=cc.get(AUDIO_PID, 0), payload_unit_start=True)
    cc[AUDIO_PID] = (cc.get(AUDIO_PID, 0) + 1) & 0x0F
    return packet


def fixtures() -> dict[str, bytes]:
    """File name -> bytes of every golden fixture."""
    files = {f"{name}.bin": b"".join(secs) for name, secs in sections().items()}
    files["short.ts"] = transport_stream()
    return files


TSHARK_FIELDS = (
    "frame.number", "mp2t.pid", "mp2t.cc", "mpeg_sect.tid", "mpeg_sect.crc.status",
    "mpeg_pat.tsid", "mpeg_pat.prog_num", "mpeg_pat.prog_map_pid",
    "mpeg_pmt.pg_num", "mpeg_pmt.pcr_pid", "mpeg_pmt.stream.type", "mpeg_pmt.stream.elementary_pid",
    "mpeg_descr.lang.code",
    "dvb_sdt.tsid", "dvb_sdt.original_nid", "dvb_sdt.svc.id", "dvb_sdt.svc.eit_schedule_flag",
    "dvb_sdt.svc.eit_present_following_flag", "mpeg_descr.svc.type", "mpeg_descr.svc.provider_name",
    "mpeg_descr.svc.svc_name",
    "dvb_nit.sid", "mpeg_descr.net_name.name", "dvb_nit.ts.id", "dvb_nit.ts.original_network_id",
    "mpeg_descr.svc_list.id", "mpeg_descr.svc_list.type",
    "dvb_eit.sid", "dvb_eit.sect_num", "dvb_eit.last_sect_num", "dvb_eit.segment_last_sect_num", "dvb_eit.last_tid",
    "dvb_eit.evt.id", "dvb_eit.evt.start_time", "dvb_eit.evt.duration", "dvb_eit.evt.running_status",
    "mpeg_descr.short_evt.lang_code", "mpeg_descr.short_evt.name", "mpeg_descr.short_evt.txt",
    "mpeg_descr.ext_evt.descr_num", "mpeg_descr.ext_evt.txt", "mpeg_descr.content.nibble_1_2",
    "dvb_tdt.utc_time", "dvb_tot.utc_time", "mpeg_descr.local_time_offset.country_code",
    "mpeg_descr.local_time_offset.offset", "mpeg_descr.local_time_offset.time_of_change",
)  # fmt: skip


def tshark_reading(path: str) -> str:
    """tshark's decoding of a TS file: one line per packet that starts or carries a section, CRC_32 checked."""
    cmd = ["tshark", "-r", path, "-o", "mpeg_sect.verify_crc:TRUE", "-Y", "mpeg_sect.tid", "-T", "fields",
           "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,",
           *[x for f in TSHARK_FIELDS for x in ("-e", f)]]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    lines = []
    for row in out.splitlines():
        values = dict(zip(TSHARK_FIELDS, row.split("\t"), strict=True))
        lines.append("; ".join(f"{k}={v}" for k, v in values.items() if v))
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="freeze the fixtures into tests/data/dvb/")
    parser.add_argument("--check", action="store_true", help="show tshark's reading of the stream built now")
    args = parser.parse_args()
    files = fixtures()
    if args.check:
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".ts") as tmp:
            tmp.write(files["short.ts"])
            tmp.flush()
            print(tshark_reading(tmp.name), end="")
    for name, data in files.items():
        path = DATA / name
        same = path.exists() and path.read_bytes() == data
        print(f"{name}: {len(data)} bytes, {'same as' if same else 'DIFFERS from'} {path.relative_to(REPO)}",
              file=sys.stderr)  # fmt: skip
        if args.write and not same:
            DATA.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Transport stream analyser: ETSI TR 101 290 priority 1 and 2 checks, bitrate, tables.

Usage:

    report = analyze(Path("lecture.ts"))
    print(format_report(report))
    sys.exit(0 if report.ok else 1)

Our own parser reads the stream once, in chunks (constant memory). Time is the
PCR of the first PCR PID, extrapolated between PCRs by the packet rate, so a
file is judged as if it arrived at its own mux rate.

Checked (TR 101 290 §5.2.1 / §5.2.2 names):
priority 1 — TS_sync_loss, Sync_byte_error, PAT_error (missing > 0.5 s, wrong
table id, scrambled), Continuity_count_error, PMT_error, PID_error (a PID named in
a PMT not seen for ``pid_timeout_s``);
priority 2 — Transport_error, CRC_error, PCR_repetition_error (> 100 ms),
PCR_discontinuity_indicator_error, PCR_accuracy_error (> ±500 ns from the line
through the neighbouring PCRs), PTS_error (> 700 ms); and, our own, Section_syntax_error
for a table whose CRC is right but whose loops overrun (it cannot be decoded).
Warnings (priority 3, exit status unaffected): PCR interval above the 40 ms DVB
broadcast target, SI tables repeated less often than EN 300 468 / TS 101 211 ask
(NIT 10 s, SDT 2 s, EIT p/f 2 s, each EIT schedule section 10 s, TDT/TOT 30 s)
or sections of one SI sub-table closer than 25 ms,
PIDs not referenced anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from media.broadcast.dvb.eit import decode_eit
from media.broadcast.dvb.mpegts import (
    PACKET_SIZE,
    PCR_HZ,
    PCR_MODULUS,
    SYNC_BYTE,
    NotTransportStream,
    SectionAssembler,
    find_sync,
    open_source,
)
from media.broadcast.dvb.psi import (
    PID_CAT,
    PID_EIT,
    PID_NIT,
    PID_PAT,
    PID_SDT,
    PID_TDT,
    STREAM_TYPES,
    SectionError,
    decode_cat,
    decode_nit,
    decode_pat,
    decode_pmt,
    decode_sdt,
    parse_section,
    table_name,
)
from media.broadcast.dvb.tdt import decode_tdt, decode_tot
from media.errors import MediaError

PAT_PMT_LIMIT_S = 0.5
PCR_REPETITION_LIMIT_S = 0.100
PCR_BROADCAST_TARGET_S = 0.040
PCR_DISCONTINUITY_LIMIT_S = 0.100
PCR_ACCURACY_LIMIT_NS = 500.0
PTS_LIMIT_S = 0.700
SI_LIMITS_S = {"NIT": 10.0, "SDT": 2.0, "EIT p/f": 2.0, "EIT schedule": 10.0, "TDT": 30.0, "TOT": 30.0}
SI_MIN_GAP_S = 0.0245  # EN 300 468 §5.1.4: 25 ms, less half a millisecond of timing slack
MAX_EXAMPLES = 5

ERROR_CODES_P1 = (
    "TS_sync_loss",
    "Sync_byte_error",
    "PAT_error",
    "Continuity_count_error",
    "PMT_error",
    "PID_error",
)
ERROR_CODES_P2 = (
    "Transport_error",
    "CRC_error",
    "PCR_repetition_error",
    "PCR_discontinuity_indicator_error",
    "PCR_accuracy_error",
    "PTS_error",
    "Section_syntax_error",  # ours: a section with a good CRC whose fields contradict each other
)


@dataclass
class Finding:
    """All occurrences of one TR 101 290 indicator (or warning), with the first few described."""

    code: str
    priority: int  # 1 and 2: errors (TR 101 290); 3: warnings
    count: int = 0
    first_time_s: float | None = None
    first_packet: int | None = None
    examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "priority": self.priority,
            "count": self.count,
            "first_time_s": None if self.first_time_s is None else round(self.first_time_s, 3),
            "first_packet": self.first_packet,
            "examples": list(self.examples),
        }


@dataclass
class BitrateStats:
    """Transport bitrate per PCR-measured second, in bit/s."""

    per_second: list[float]
    minimum: float
    maximum: float
    mean: float

    @property
    def spread(self) -> float:
        return self.maximum - self.minimum

    @property
    def spread_ppm(self) -> float:
        return self.spread / self.mean * 1e6 if self.mean else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "per_second_bps": [round(x) for x in self.per_second],
            "min_bps": round(self.minimum),
            "max_bps": round(self.maximum),
            "mean_bps": round(self.mean),
            "spread_bps": round(self.spread),
            "spread_ppm": round(self.spread_ppm, 1),
        }


@dataclass
class PidInfo:
    pid: int
    packets: int = 0
    kind: str = ""
    cc_errors: int = 0
    transport_errors: int = 0
    scrambled_packets: int = 0
    pcr_count: int = 0
    pcr_max_interval_ms: float = 0.0
    pcr_mean_interval_ms: float = 0.0
    pcr_accuracy_max_ns: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        d = dict(vars(self))
        d["pcr_max_interval_ms"] = round(self.pcr_max_interval_ms, 2)
        d["pcr_mean_interval_ms"] = round(self.pcr_mean_interval_ms, 2)
        d["pcr_accuracy_max_ns"] = round(self.pcr_accuracy_max_ns, 1)
        return d


@dataclass
class TableInfo:
    """One table (table id + extension on a PID) as it was seen: how often and what it said."""

    name: str
    pid: int
    table_id: int
    table_id_extension: int
    sections_seen: int = 0
    distinct_sections: int = 0
    versions: list[int] = field(default_factory=list)
    max_interval_s: float = 0.0
    mean_interval_s: float = 0.0
    crc_errors: int = 0
    content: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = dict(vars(self))
        d["max_interval_s"] = round(self.max_interval_s, 3)
        d["mean_interval_s"] = round(self.mean_interval_s, 3)
        return d


@dataclass
class Report:
    """What ``analyze`` found. ``ok`` is False when any priority-1 or priority-2 error occurred."""

    source: str
    packets: int = 0
    bytes: int = 0
    duration_s: float = 0.0
    null_packets: int = 0
    findings: list[Finding] = field(default_factory=list)
    bitrate: BitrateStats | None = None
    pids: list[PidInfo] = field(default_factory=list)
    tables: list[TableInfo] = field(default_factory=list)

    @property
    def null_share(self) -> float:
        return self.null_packets / self.packets if self.packets else 0.0

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.priority in (1, 2) and f.count]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.priority >= 3 and f.count]

    @property
    def ok(self) -> bool:
        return not self.errors

    def finding(self, code: str) -> Finding | None:
        return next((f for f in self.findings if f.code == code and f.count), None)

    def tables_named(self, prefix: str) -> list[TableInfo]:
        return [t for t in self.tables if t.name.startswith(prefix)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "ok": self.ok,
            "packets": self.packets,
            "bytes": self.bytes,
            "duration_s": round(self.duration_s, 3),
            "null_packets": self.null_packets,
            "null_share": round(self.null_share, 4),
            "errors": [f.as_dict() for f in self.errors],
            "warnings": [f.as_dict() for f in self.warnings],
            "bitrate": self.bitrate.as_dict() if self.bitrate else None,
            "pids": [p.as_dict() for p in self.pids],
            "tables": [t.as_dict() for t in self.tables],
        }


# --------------------------------------------------------------------------- analyser state


@dataclass
class _Pid:
    info: PidInfo
    last_cc: int = -1
    dup: int = 0
    last_seen_t: float = 0.0
    last_pcr: int | None = None
    last_pcr_idx: int = 0
    pcr_prev2: tuple[int, int] | None = None  # (idx, pcr) before last, for accuracy
    pcr_interval_sum: float = 0.0
    pcr_intervals: int = 0
    last_pts_t: float | None = None


@dataclass
class _SectionStat:
    count: int = 0
    first_t: float = 0.0
    last_t: float = 0.0
    max_interval: float = 0.0
    interval_sum: float = 0.0
    last_raw: bytes = b""
    versions: set[int] = field(default_factory=set)
    crc_errors: int = 0
    content: dict[str, Any] = field(default_factory=dict)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _event_dict(e: Any) -> dict[str, Any]:
    return {
        "event_id": e.event_id,
        "start": _iso(e.start),
        "duration_s": int(e.duration.total_seconds()),
        "running_status": e.running_status,
        "texts": [{"language": t.language, "title": t.title, "description": t.description} for t in e.texts],
        "content": [f"0x{c:02X}" for c in e.content],
    }


class _Analyzer:
    def __init__(self, source: str, pid_timeout_s: float) -> None:
        self.report = Report(source=source)
        self.pid_timeout = pid_timeout_s
        self.findings: dict[str, Finding] = {}
        self.pids: dict[int, _Pid] = {}
        self.idx = 0
        # time base
        self.tb_pid: int | None = None
        self.tb_idx = 0
        self.tb_t = 0.0
        self.tb_pcr = 0
        self.spp = 0.0  # seconds per packet, from the last PCR interval
        self.have_time = False
        # bitrate windows
        self.win_packets = 0
        self.win_time = 0.0
        self.bitrates: list[float] = []
        # PSI state
        self.asm: dict[int, SectionAssembler] = {}
        self.pat_programs: dict[int, int] = {}  # program -> PMT PID
        self.pmt_pids: dict[int, int] = {}  # PMT PID -> program
        self.es_pids: dict[int, str] = {}  # PID -> stream kind from PMT
        self.pcr_pids: set[int] = set()
        self.last_pat_t: float | None = None
        self.last_pmt_t: dict[int, float] = {}
        self.sections: dict[tuple[int, int, int, int], _SectionStat] = {}
        self.si_last: dict[tuple[str, int], float] = {}  # (table kind, table_id_extension)
        self.sub_table_last: dict[tuple[int, int, int], float] = {}
        self.in_sync = True

    # ---------------------------------------------------------------- findings

    def flag(self, code: str, priority: int, message: str, pid: int | None = None) -> None:
        f = self.findings.get(code)
        if f is None:
            f = self.findings[code] = Finding(code, priority)
        f.count += 1
        t = self.now()
        if f.first_time_s is None:
            f.first_time_s = t
            f.first_packet = self.idx
        if len(f.examples) < MAX_EXAMPLES:
            where = f"packet {self.idx}, {t:.3f} s"
            f.examples.append(f"{where}: {message}" + (f" (PID 0x{pid:04X})" if pid is not None else ""))

    def now(self) -> float:
        if not self.have_time:
            return 0.0
        return max(0.0, self.tb_t + (self.idx - self.tb_idx) * self.spp)

    # ---------------------------------------------------------------- packets

    def packet(self, data: bytes | bytearray, off: int) -> None:
        self.idx += 1
        rep = self.report
        rep.packets += 1
        b1 = data[off + 1]
        pid = ((b1 & 0x1F) << 8) | data[off + 2]
        st = self.pids.get(pid)
        if st is None:
            st = self.pids[pid] = _Pid(PidInfo(pid))
        st.info.packets += 1
        if b1 & 0x80:
            st.info.transport_errors += 1
            self.flag("Transport_error", 2, "transport_error_indicator set", pid)
        if pid == 0x1FFF:
            rep.null_packets += 1
            return
        b3 = data[off + 3]
        afc = (b3 >> 4) & 3
        cc = b3 & 0x0F
        scrambled = b3 >> 6
        t = self.now()
        # PID_error: a gap in a referenced elementary stream
        if pid in self.es_pids and t - st.last_seen_t > self.pid_timeout and st.info.packets > 1:
            self.flag("PID_error", 1, f"no packet for {t - st.last_seen_t:.2f} s", pid)
        st.last_seen_t = t
        if scrambled:
            st.info.scrambled_packets += 1
            if pid == PID_PAT:
                self.flag("PAT_error", 1, "PAT PID carries scrambled packets", pid)
            elif pid in self.pmt_pids:
                self.flag("PMT_error", 1, "PMT PID carries scrambled packets", pid)
        discontinuity = False
        payload_start = off + 4
        if afc & 2:
            af_len = data[off + 4]
            payload_start = off + 5 + af_len
            if af_len:
                flags = data[off + 5]
                discontinuity = bool(flags & 0x80)
                if flags & 0x10 and af_len >= 7:
                    self.pcr(st, pid, data, off + 6, discontinuity)
        # continuity counter (ISO/IEC 13818-1 §2.4.3.3): +1 per packet with payload
        if afc == 0:
            pass
        elif st.last_cc < 0 or discontinuity:
            st.last_cc = cc
            st.dup = 0
        elif afc & 1:
            expected = (st.last_cc + 1) & 0x0F
            if cc == expected:
                st.dup = 0
            elif cc == st.last_cc:
                st.dup += 1
                if st.dup > 1:
                    st.info.cc_errors += 1
                    self.flag("Continuity_count_error", 1, f"packet repeated more than twice (CC {cc})", pid)
            else:
                st.info.cc_errors += 1
                self.flag("Continuity_count_error", 1, f"CC {cc}, expected {expected}", pid)
                self.asm.get(pid, _NO_ASM).reset()
                st.dup = 0
            st.last_cc = cc
        elif cc != st.last_cc:
            st.info.cc_errors += 1
            self.flag(
                "Continuity_count_error",
                1,
                f"CC {cc} on a packet without payload, expected {st.last_cc}",
                pid,
            )
            st.last_cc = cc
        if not afc & 1 or payload_start >= off + PACKET_SIZE:
            return
        pusi = bool(b1 & 0x40)
        if pid < 0x20 or pid in self.pmt_pids:
            if pid in (PID_PAT, PID_CAT, PID_NIT, PID_SDT, PID_EIT, PID_TDT) or pid in self.pmt_pids:
                if scrambled:
                    return
                asm = self.asm.get(pid)
                if asm is None:
                    asm = self.asm[pid] = SectionAssembler()
                for raw in asm.feed(bytes(data[payload_start : off + PACKET_SIZE]), pusi):
                    self.section(pid, raw)
        elif pusi and pid in self.es_pids and not scrambled:
            self.pes_start(st, pid, data, payload_start, off + PACKET_SIZE)

    def block(self, data: bytes, pos: int, n: int) -> None:
        """``n`` packets with good sync bytes from ``pos``: null packets are counted in bulk,
        the others go through ``packet`` one by one."""
        col1 = data[pos + 1 : pos + n * PACKET_SIZE : PACKET_SIZE]
        col2 = data[pos + 2 : pos + n * PACKET_SIZE : PACKET_SIZE]
        null = int.from_bytes(col1.translate(_LOW5_1F), "big") & int.from_bytes(col2.translate(_IS_FF), "big")
        base = self.idx
        if not null:
            for i in range(n):
                self.packet(data, pos + i * PACKET_SIZE)
            return
        flags = null.to_bytes(n, "big")
        i = flags.find(0)
        while i >= 0:
            self.idx = base + i
            self.packet(data, pos + i * PACKET_SIZE)
            i = flags.find(0, i + 1)
        nulls = null.bit_count()
        self.idx = base + n
        self.report.packets += nulls
        self.report.null_packets += nulls
        st = self.pids.get(0x1FFF)
        if st is None:
            st = self.pids[0x1FFF] = _Pid(PidInfo(0x1FFF))
        st.info.packets += nulls
        tei = int.from_bytes(col1.translate(_TEI), "big") & null
        if tei:
            for k, bit in enumerate(tei.to_bytes(n, "big")):
                if bit:
                    self.idx = base + k + 1
                    st.info.transport_errors += 1
                    self.flag("Transport_error", 2, "transport_error_indicator set", 0x1FFF)
            self.idx = base + n

    def pcr(self, st: _Pid, pid: int, data: bytes | bytearray, o: int, discontinuity: bool) -> None:
        base = (
            (data[o] << 25)
            | (data[o + 1] << 17)
            | (data[o + 2] << 9)
            | (data[o + 3] << 1)
            | (data[o + 4] >> 7)
        )
        value = base * 300 + (((data[o + 4] & 1) << 8) | data[o + 5])
        st.info.pcr_count += 1
        if self.tb_pid is None:
            self.tb_pid = pid
            self.tb_idx, self.tb_t, self.tb_pcr = self.idx, 0.0, value
            self.have_time = False  # no packet rate yet
        prev = st.last_pcr
        if prev is not None:
            packets = self.idx - st.last_pcr_idx
            delta = ((value - prev) % PCR_MODULUS) / PCR_HZ
            backwards = delta > (PCR_MODULUS / PCR_HZ) / 2
            plausible = not backwards and not discontinuity and delta <= 1.0
            interval = delta if plausible else (packets * self.spp if self.spp else 0.0)
            if not discontinuity and (backwards or delta > PCR_DISCONTINUITY_LIMIT_S):
                shown = (delta - PCR_MODULUS / PCR_HZ) if backwards else delta
                self.flag(
                    "PCR_discontinuity_indicator_error",
                    2,
                    f"PCR jumps by {shown * 1000:.1f} ms without discontinuity_indicator",
                    pid,
                )
            if interval > PCR_REPETITION_LIMIT_S:
                self.flag(
                    "PCR_repetition_error", 2, f"PCR interval {interval * 1000:.1f} ms (limit 100 ms)", pid
                )
            elif interval > PCR_BROADCAST_TARGET_S:
                self.flag("PCR_interval_over_40ms", 3, f"PCR interval {interval * 1000:.1f} ms", pid)
            st.info.pcr_max_interval_ms = max(st.info.pcr_max_interval_ms, interval * 1000)
            st.pcr_interval_sum += interval
            st.pcr_intervals += 1
            # accuracy: distance of the previous PCR from the line through its neighbours
            if plausible and st.pcr_prev2 is not None:
                i0, p0 = st.pcr_prev2
                i1, p1 = st.last_pcr_idx, prev
                span = self.idx - i0
                if span > 0 and (i1 - i0) > 0:
                    unwrapped = p1 if p1 >= p0 else p1 + PCR_MODULUS
                    end = value if value >= p0 else value + PCR_MODULUS
                    expected = p0 + (end - p0) * (i1 - i0) / span
                    dev_ns = abs(unwrapped - expected) / PCR_HZ * 1e9
                    st.info.pcr_accuracy_max_ns = max(st.info.pcr_accuracy_max_ns, dev_ns)
                    if dev_ns > PCR_ACCURACY_LIMIT_NS:
                        self.flag("PCR_accuracy_error", 2, f"PCR off by {dev_ns:.0f} ns", pid)
            st.pcr_prev2 = (st.last_pcr_idx, prev) if plausible else None
            if pid == self.tb_pid:
                if plausible and packets:
                    self.spp = delta / packets
                    self.win_packets += packets
                    self.win_time += delta
                    if self.win_time >= 1.0:
                        self.bitrates.append(self.win_packets * PACKET_SIZE * 8 / self.win_time)
                        self.win_packets, self.win_time = 0, 0.0
                self.tb_t += interval
                self.tb_idx = self.idx
                self.tb_pcr = value
                self.have_time = self.spp > 0
        st.last_pcr = value
        st.last_pcr_idx = self.idx

    def pes_start(self, st: _Pid, pid: int, data: bytes | bytearray, start: int, end: int) -> None:
        if end - start < 14 or data[start] != 0 or data[start + 1] != 0 or data[start + 2] != 1:
            return
        if not data[start + 7] & 0x80:  # no PTS in this PES header
            return
        t = self.now()
        if st.last_pts_t is not None and t - st.last_pts_t > PTS_LIMIT_S:
            self.flag("PTS_error", 2, f"no PTS for {(t - st.last_pts_t) * 1000:.0f} ms (limit 700 ms)", pid)
        st.last_pts_t = t

    # ---------------------------------------------------------------- sections

    def section(self, pid: int, raw: bytes) -> None:
        t = self.now()
        table_id = raw[0]
        if pid == PID_PAT and table_id != 0x00:
            self.flag("PAT_error", 1, f"table id 0x{table_id:02X} on the PAT PID", pid)
            return
        ssi = bool(raw[1] & 0x80) if len(raw) > 1 else False
        ext = ((raw[3] << 8) | raw[4]) if ssi and len(raw) >= 8 else 0
        number = raw[6] if ssi and len(raw) >= 8 else 0
        key = (pid, table_id, ext, number)
        stat = self.sections.get(key)
        if stat is None:
            stat = self.sections[key] = _SectionStat(first_t=t, last_t=t)
        elif raw == stat.last_raw:  # the same bytes again: timing only, CRC and content known
            self._repeat(stat, t)
            self._timing(pid, table_id, ext, t)
            return
        try:
            sec = parse_section(raw)
        except SectionError as exc:
            self.flag("Section_syntax_error", 2, f"{table_name(table_id)}: {exc}", pid)
            return
        if sec.crc_ok is False:
            stat.crc_errors += 1
            self.flag("CRC_error", 2, f"{table_name(table_id)} section {number} fails its CRC_32", pid)
            return
        self._repeat(stat, t)
        stat.last_raw = raw
        stat.versions.add(sec.version_number)
        self._timing(pid, table_id, ext, t)
        try:
            self._decode(pid, sec, stat)
        except (SectionError, IndexError, ValueError) as exc:
            self.flag("Section_syntax_error", 2, f"{table_name(table_id)} cannot be decoded: {exc}", pid)

    def _repeat(self, stat: _SectionStat, t: float) -> None:
        if stat.count:
            gap = t - stat.last_t
            stat.max_interval = max(stat.max_interval, gap)
            stat.interval_sum += gap
        stat.count += 1
        stat.last_t = t

    def _timing(self, pid: int, table_id: int, ext: int, t: float) -> None:
        if pid == PID_PAT:
            if self.last_pat_t is not None and t - self.last_pat_t > PAT_PMT_LIMIT_S:
                self.flag("PAT_error", 1, f"no PAT for {t - self.last_pat_t:.3f} s (limit 0.5 s)", pid)
            elif self.last_pat_t is None and t > PAT_PMT_LIMIT_S:
                self.flag("PAT_error", 1, f"first PAT only after {t:.3f} s (limit 0.5 s)", pid)
            self.last_pat_t = t
        elif table_id == 0x02 and pid in self.pmt_pids:
            last = self.last_pmt_t.get(pid)
            if last is not None and t - last > PAT_PMT_LIMIT_S:
                self.flag("PMT_error", 1, f"no PMT for {t - last:.3f} s (limit 0.5 s)", pid)
            self.last_pmt_t[pid] = t
        if 0x40 <= table_id <= 0x7F:  # DVB SI: sections of one sub-table at least 25 ms apart
            key = (pid, table_id, ext)
            last = self.sub_table_last.get(key)
            if last is not None and t - last < SI_MIN_GAP_S:
                self.flag(
                    "SI_repetition_error",
                    3,
                    f"{table_name(table_id)} (extension {ext}) sections {(t - last) * 1000:.1f} ms apart "
                    "(minimum 25 ms)",
                    pid,
                )
            self.sub_table_last[key] = t
        name = _si_name(table_id)
        if name:
            last = self.si_last.get((name, ext))
            if last is not None and t - last > SI_LIMITS_S[name]:
                self.flag(
                    "SI_repetition_error",
                    3,
                    f"{name} (extension {ext}) repeated after {t - last:.2f} s (limit {SI_LIMITS_S[name]:g} s)",
                    pid,
                )
            self.si_last[(name, ext)] = t

    def _decode(self, pid: int, sec: Any, stat: _SectionStat) -> None:
        tid = sec.table_id
        if tid == 0x00:
            pat = decode_pat(sec)
            self.pat_programs = dict(pat.programs)
            for num, pmt_pid in pat.programs.items():
                if num != 0:
                    self.pmt_pids[pmt_pid] = num
                    self.last_pmt_t.setdefault(pmt_pid, self.now())
            stat.content = {
                "transport_stream_id": pat.transport_stream_id,
                "programs": {str(k): f"0x{v:04X}" for k, v in sorted(pat.programs.items())},
            }
        elif tid == 0x01:
            stat.content = {"ca_descriptors": len(decode_cat(sec))}
        elif tid == 0x02:
            pmt = decode_pmt(sec)
            self.pcr_pids.add(pmt.pcr_pid)
            for s in pmt.streams:
                if s.pid not in self.es_pids:
                    self.es_pids[s.pid] = STREAM_TYPES.get(
                        s.stream_type, f"stream type 0x{s.stream_type:02X}"
                    )
                    st = self.pids.get(s.pid)
                    if st is not None:
                        st.last_seen_t = self.now()
                    else:
                        self.pids[s.pid] = _Pid(PidInfo(s.pid), last_seen_t=self.now())
            stat.content = {
                "program_number": pmt.program_number,
                "pcr_pid": f"0x{pmt.pcr_pid:04X}",
                "streams": [
                    {
                        "pid": f"0x{s.pid:04X}",
                        "type": STREAM_TYPES.get(s.stream_type, f"0x{s.stream_type:02X}"),
                    }
                    for s in pmt.streams
                ],
            }
        elif tid in (0x40, 0x41):
            nit = decode_nit(sec)
            stat.content = {
                "network_id": nit.network_id,
                "network_name": nit.network_name,
                "transport_streams": [
                    {
                        "transport_stream_id": ts.transport_stream_id,
                        "original_network_id": ts.original_network_id,
                    }
                    for ts in nit.transport_streams
                ],
            }
        elif tid in (0x42, 0x46):
            sdt = decode_sdt(sec)
            stat.content = {
                "transport_stream_id": sdt.transport_stream_id,
                "original_network_id": sdt.original_network_id,
                "services": [
                    {
                        "service_id": s.service_id,
                        "name": s.name,
                        "provider": s.provider,
                        "service_type": s.service_type,
                        "eit_schedule": s.eit_schedule,
                        "eit_present_following": s.eit_present_following,
                    }
                    for s in sdt.services
                ],
            }
        elif 0x4E <= tid <= 0x6F:
            eit = decode_eit(sec)
            stat.content = {
                "transport_stream_id": eit.service.transport_stream_id,
                "original_network_id": eit.service.original_network_id,
                "events": [_event_dict(e) for e in eit.events],
            }
        elif tid == 0x70:
            when = decode_tdt(sec)
            stat.content.setdefault("first_utc", _iso(when))
            stat.content["last_utc"] = _iso(when)
        elif tid == 0x73:
            tot = decode_tot(sec)
            stat.content.setdefault("first_utc", _iso(tot.utc_time))
            stat.content["last_utc"] = _iso(tot.utc_time)
            stat.content["local_time_offsets"] = [
                {
                    "country": o.country_code,
                    "region": o.region_id,
                    "offset": _offset(o.offset),
                    "time_of_change": _iso(o.time_of_change),
                    "next_offset": _offset(o.next_offset),
                }
                for o in tot.offsets
            ]

    # ---------------------------------------------------------------- end

    def finish(self) -> Report:
        rep = self.report
        end_t = self.now()
        rep.duration_s = end_t
        if rep.packets == 0:
            raise NotTransportStream(f"{rep.source}: no transport stream packets found")
        if not self.have_time:
            self.flag(
                "No_time_base",
                3,
                "fewer than two PCRs: repetition intervals (PAT, PMT, PID, PTS, SI) could not be measured",
            )
        # end-of-stream gaps
        if self.last_pat_t is None:
            self.flag("PAT_error", 1, "no PAT (table id 0x00 on PID 0) in the whole stream", PID_PAT)
        elif end_t - self.last_pat_t > PAT_PMT_LIMIT_S:
            self.flag("PAT_error", 1, f"no PAT in the last {end_t - self.last_pat_t:.3f} s", PID_PAT)
        for pmt_pid, program in self.pmt_pids.items():
            last = self.last_pmt_t.get(pmt_pid)
            key_seen = any(k[0] == pmt_pid and k[1] == 0x02 for k in self.sections)
            if not key_seen:
                self.flag("PMT_error", 1, f"no PMT for program {program}", pmt_pid)
            elif last is not None and end_t - last > PAT_PMT_LIMIT_S:
                self.flag("PMT_error", 1, f"no PMT in the last {end_t - last:.3f} s", pmt_pid)
        for pid, kind in self.es_pids.items():
            st = self.pids.get(pid)
            if st is None or st.info.packets == 0:
                self.flag("PID_error", 1, f"{kind} PID named in the PMT never occurs", pid)
            elif end_t - st.last_seen_t > self.pid_timeout:
                self.flag("PID_error", 1, f"no packet in the last {end_t - st.last_seen_t:.2f} s", pid)
        for pid in self.pcr_pids:
            st = self.pids.get(pid)
            if st is None or st.info.pcr_count == 0:
                self.flag("PCR_repetition_error", 2, "PCR PID named in the PMT carries no PCR", pid)
        # the bitrate of the last partial window counts only when it is long enough to be fair
        if self.win_time >= 0.5:
            self.bitrates.append(self.win_packets * PACKET_SIZE * 8 / self.win_time)
        if self.bitrates:
            rep.bitrate = BitrateStats(
                self.bitrates, min(self.bitrates), max(self.bitrates), sum(self.bitrates) / len(self.bitrates)
            )
        known = (
            {PID_PAT, PID_CAT, PID_NIT, PID_SDT, PID_EIT, PID_TDT, 0x1FFF}
            | set(self.pmt_pids)
            | set(self.es_pids)
        )
        known |= self.pcr_pids
        for pid, st in sorted(self.pids.items()):
            info = st.info
            if pid in self.es_pids:
                info.kind = self.es_pids[pid]
            elif pid == 0x1FFF:
                info.kind = "null"
            elif pid in self.pmt_pids:
                info.kind = f"PMT (program {self.pmt_pids[pid]})"
            else:
                info.kind = {
                    PID_PAT: "PAT",
                    PID_CAT: "CAT",
                    PID_NIT: "NIT",
                    PID_SDT: "SDT/BAT",
                    PID_EIT: "EIT",
                    PID_TDT: "TDT/TOT",
                }.get(pid, "")
            if st.pcr_intervals:
                info.pcr_mean_interval_ms = st.pcr_interval_sum / st.pcr_intervals * 1000
            if info.packets:
                rep.pids.append(info)
            if pid not in known and info.packets and pid >= 0x20:
                self.flag("Unreferenced_PID", 3, "PID not named in any PMT", pid)
        # EIT schedule: every section of every sub-table at least every 10 s (TS 101 211 §4.4)
        late = [
            (key, stat) for key, stat in self.sections.items()
            if 0x50 <= key[1] <= 0x5F and stat.max_interval > SI_LIMITS_S["EIT schedule"]
        ]  # fmt: skip
        for (pid, tid, ext, number), stat in late[:MAX_EXAMPLES]:
            self.flag(
                "SI_repetition_error",
                3,
                f"EIT schedule 0x{tid:02X} service {ext} section {number} repeated after "
                f"{stat.max_interval:.2f} s (limit {SI_LIMITS_S['EIT schedule']:g} s)",
                pid,
            )
        rep.tables = self._tables()
        order = {code: n for n, code in enumerate(ERROR_CODES_P1 + ERROR_CODES_P2)}
        rep.findings = sorted(
            self.findings.values(), key=lambda f: (f.priority, order.get(f.code, 99), f.code)
        )
        return rep

    def _tables(self) -> list[TableInfo]:
        groups: dict[tuple[int, int, int], list[tuple[int, _SectionStat]]] = {}
        for (pid, tid, ext, number), stat in self.sections.items():
            if stat.count == 0 and not stat.crc_errors:
                continue
            groups.setdefault((pid, tid, ext), []).append((number, stat))
        tables = []
        for (pid, tid, ext), members in sorted(groups.items()):
            members.sort()
            seen = sum(s.count for _n, s in members)
            intervals = sum(max(s.count - 1, 0) for _n, s in members)
            info = TableInfo(
                name=table_name(tid),
                pid=pid,
                table_id=tid,
                table_id_extension=ext,
                sections_seen=seen,
                distinct_sections=len(members),
                versions=sorted(set().union(*(s.versions for _n, s in members))),
                max_interval_s=max((s.max_interval for _n, s in members), default=0.0),
                mean_interval_s=(sum(s.interval_sum for _n, s in members) / intervals) if intervals else 0.0,
                crc_errors=sum(s.crc_errors for _n, s in members),
            )
            if 0x4E <= tid <= 0x6F:
                events: list[dict[str, Any]] = []
                for number, s in members:
                    for e in s.content.get("events", []):
                        events.append({"section": number, **e})
                first = members[0][1].content
                info.content = {
                    "service_id": ext,
                    "transport_stream_id": first.get("transport_stream_id"),
                    "original_network_id": first.get("original_network_id"),
                    "events": events,
                }
            else:
                info.content = members[0][1].content
            tables.append(info)
        return tables


_NOT_SYNC = bytes(0 if x == SYNC_BYTE else 1 for x in range(256))
_LOW5_1F = bytes(1 if x & 0x1F == 0x1F else 0 for x in range(256))
_IS_FF = bytes(1 if x == 0xFF else 0 for x in range(256))
_TEI = bytes(1 if x & 0x80 else 0 for x in range(256))


class _NoAssembler:
    def reset(self) -> None:
        return None


_NO_ASM = _NoAssembler()


def _offset(delta: Any) -> str:
    minutes = int(delta.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _si_name(table_id: int) -> str | None:
    if table_id == 0x40:
        return "NIT"
    if table_id == 0x42:
        return "SDT"
    if table_id == 0x4E:
        return "EIT p/f"
    if table_id == 0x70:
        return "TDT"
    if table_id == 0x73:
        return "TOT"
    return None


# --------------------------------------------------------------------------- entry points


def analyze(
    source: str | Path | bytes | BinaryIO,
    *,
    pid_timeout_s: float = 5.0,
    chunk_bytes: int = 1 << 20,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Analyse a transport stream (file path, bytes or binary reader) and return the Report.

    Raises NotTransportStream (a MediaError) for input without 188-byte packet
    sync at its start, and MediaError when a file cannot be read.
    """
    name = str(source) if isinstance(source, str | Path) else "input"
    reader, owned = open_source(source)
    a = _Analyzer(name, pid_timeout_s)
    total = 0
    try:
        data = reader.read(chunk_bytes)
        if not data:
            raise NotTransportStream(f"{name}: empty file, not an MPEG transport stream")
        need = min(5, max(1, len(data) // PACKET_SIZE))
        pos = find_sync(data, 0, needed=need)
        if pos < 0 or pos >= PACKET_SIZE:
            raise NotTransportStream(
                f"{name}: not an MPEG transport stream (no 0x47 sync byte every 188 bytes at the start)"
            )
        eof = False
        bad_run = 0
        lookahead = 6 * PACKET_SIZE
        while True:
            if not eof and len(data) - pos < lookahead + PACKET_SIZE:
                more = reader.read(chunk_bytes)
                if more:
                    data = data[pos:] + more
                    total += pos
                    pos = 0
                else:
                    eof = True
            limit = len(data) - PACKET_SIZE if eof else len(data) - lookahead
            if pos > limit:
                break
            while pos <= limit:
                # the packets up to the first bad sync byte go through the block path
                n = (limit - pos) // PACKET_SIZE + 1
                syncs = data[pos : pos + n * PACKET_SIZE : PACKET_SIZE]
                good = n if syncs.count(SYNC_BYTE) == n else syncs.translate(_NOT_SYNC).find(1)
                if good:
                    a.block(data, pos, good)
                    pos += good * PACKET_SIZE
                    bad_run = 0
                    continue
                bad_run += 1
                a.idx += 1
                a.flag("Sync_byte_error", 1, f"sync byte 0x{data[pos]:02X} at byte {total + pos}")
                a.idx -= 1
                nxt = pos + PACKET_SIZE
                if nxt < len(data) and data[nxt] == SYNC_BYTE:
                    # one bad sync byte, the rhythm holds: treat the packet as read
                    a.packet(data, pos)
                    pos = nxt
                    continue
                a.flag("TS_sync_loss", 1, f"sync lost at byte {total + pos}")
                found = find_sync(data, pos + 1, needed=5)
                if found < 0:
                    found = find_sync(data, pos + 1, needed=1) if eof else -1
                if found < 0:
                    if eof:
                        pos = len(data)
                        break
                    # keep the tail and look again with more data
                    pos = max(pos + 1, len(data) - lookahead)
                    break
                pos = found
            if progress:
                progress(total + pos)
            if eof and pos > len(data) - PACKET_SIZE:
                break
        a.report.bytes = a.report.packets * PACKET_SIZE
    except OSError as exc:
        raise MediaError(f"{name}: read failed ({exc.strerror or exc})") from None
    finally:
        if owned:
            reader.close()
    return a.finish()


def format_report(report: Report) -> str:
    """The report as text for a terminal: verdict, errors, bitrate, PIDs, tables."""
    lines: list[str] = []
    verdict = (
        "OK: no TR 101 290 priority 1/2 errors"
        if report.ok
        else (f"FAIL: {sum(f.count for f in report.errors)} priority 1/2 error(s)")
    )
    lines.append(f"{report.source}: {verdict}")
    lines.append(
        f"  {report.packets} packets, {report.duration_s:.3f} s, null packets {report.null_share * 100:.1f} %"
    )
    if report.bitrate:
        b = report.bitrate
        lines.append(
            f"  bitrate per second: mean {b.mean / 1e6:.6f} Mbit/s, min {b.minimum / 1e6:.6f}, "
            f"max {b.maximum / 1e6:.6f}, spread {b.spread:.0f} bit/s ({b.spread_ppm:.1f} ppm) over "
            f"{len(b.per_second)} s"
        )
    else:
        lines.append("  bitrate: not measured (fewer than 0.5 s of PCRs)")
    for title, group in (("Errors", report.errors), ("Warnings", report.warnings)):
        if not group:
            continue
        lines.append(f"{title}:")
        for f in group:
            lines.append(f"  [P{f.priority}] {f.code}: {f.count}")
            for ex in f.examples[:3]:
                lines.append(f"        {ex}")
    lines.append("PIDs:")
    for p in report.pids:
        extra = ""
        if p.pcr_count:
            extra = (
                f", PCR {p.pcr_count}× max {p.pcr_max_interval_ms:.1f} ms mean {p.pcr_mean_interval_ms:.1f} ms"
                f" accuracy ±{p.pcr_accuracy_max_ns:.0f} ns"
            )
        cc = f", CC errors {p.cc_errors}" if p.cc_errors else ""
        share = p.packets / report.packets * 100 if report.packets else 0
        lines.append(f"  0x{p.pid:04X} {p.kind or '?':<22} {p.packets:>9} pkts {share:5.1f} %{extra}{cc}")
    lines.append("Tables:")
    for t in report.tables:
        interval = (
            f"every {t.mean_interval_s:.3f} s (max {t.max_interval_s:.3f} s)"
            if t.sections_seen > t.distinct_sections
            else "once"
        )
        lines.append(
            f"  {t.name:<24} PID 0x{t.pid:04X} ext {t.table_id_extension:<5} {t.distinct_sections} section(s) "
            f"v{','.join(map(str, t.versions)) or '-'} {interval}"
        )
        lines.extend(f"      {line}" for line in _describe(t))
    return "\n".join(lines)


def _describe(t: TableInfo) -> list[str]:
    c = t.content
    if t.table_id == 0x00:
        return [f"transport_stream_id {c.get('transport_stream_id')}, programs {c.get('programs')}"]
    if t.table_id == 0x02:
        streams = ", ".join(f"{s['pid']} {s['type']}" for s in c.get("streams", []))
        return [f"program {c.get('program_number')}, PCR PID {c.get('pcr_pid')}: {streams}"]
    if t.table_id in (0x40, 0x41):
        return [
            f"network {c.get('network_id')} {c.get('network_name')!r}, streams {c.get('transport_streams')}"
        ]
    if t.table_id in (0x42, 0x46):
        return [
            f"service {s['service_id']} {s['name']!r} by {s['provider']!r} type 0x{s['service_type']:02X}"
            f" EIT p/f {'yes' if s['eit_present_following'] else 'no'}, schedule {'yes' if s['eit_schedule'] else 'no'}"
            for s in c.get("services", [])
        ]
    if 0x4E <= t.table_id <= 0x6F:
        out = []
        events = c.get("events", [])
        for e in events[:12]:
            text = e["texts"][0] if e["texts"] else {"language": "", "title": ""}
            out.append(
                f"{e['start']} +{e['duration_s'] // 60} min  [{text['language']}] {text['title']}"
                f"  (event {e['event_id']}, section {e['section']})"
            )
        if len(events) > 12:
            out.append(f"… {len(events) - 12} more events")
        return out
    if t.table_id == 0x70:
        return [f"UTC {c.get('first_utc')} … {c.get('last_utc')}"]
    if t.table_id == 0x73:
        offs = "; ".join(
            f"{o['country']}/{o['region']} {o['offset']} (next {o['next_offset']} at {o['time_of_change']})"
            for o in c.get("local_time_offsets", [])
        )
        return [f"UTC {c.get('first_utc')} … {c.get('last_utc')}; {offs}"]
    return []

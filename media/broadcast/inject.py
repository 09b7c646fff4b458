"""In-band EPG and time: put EIT, TDT and TOT into a CBR transport stream by replacing null packets.

Usage:

    config = SiConfig(start_utc=datetime(2026, 11, 26, 4, 0, tzinfo=UTC))
    report = inject_si(Path("day.ts"), Path("day-epg.ts"), config=config, events=events)

Only null packets (PID 0x1FFF) are overwritten, one for one, so the file size,
the mux rate and every PCR stay exactly as they were. Time inside the stream is
the PCR of the stream's PCR PID (interpolated between PCRs, unwrapped, bridged
across discontinuities by the packet rate); wall-clock time is ``start_utc``
plus that elapsed time. EIT p/f is resent at once at every programme change
with a new version number; the EIT schedule (7 days, from midnight UTC) is
rebuilt with a new version when the UTC date changes. Existing EIT/TDT/TOT
packets in the input are turned into null packets first; PAT, PMT, SDT and NIT
pass through (the SDT's EIT flags for the service are set, CRC recomputed).

The work per chunk is done on byte strings: packet header bytes are gathered
with stride slices and matched with translation tables and big-integer ANDs,
so Python touches only the packets it changes and those carrying a PCR.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from fileio import replacing
from media.broadcast.dvb.eit import (
    EitEvent,
    ServiceRef,
    check_no_overlap,
    eit_pf_sections,
    eit_schedule_sections,
    present_following,
    schedule_day0,
)
from media.broadcast.dvb.mpegts import (
    NULL_PACKET,
    PACKET_SIZE,
    PCR_HZ,
    PCR_MODULUS,
    SYNC_BYTE,
    SectionAssembler,
    iter_chunks,
    packetize_section,
)
from media.broadcast.dvb.psi import (
    PID_EIT,
    PID_NIT,
    PID_PAT,
    PID_SDT,
    PID_TDT,
    Pat,
    Pmt,
    SectionError,
    decode_nit,
    decode_pat,
    decode_pmt,
    decode_sdt,
    parse_section,
    sdt_with_eit_flags,
)
from media.broadcast.dvb.tdt import LocalTimeOffset, encode_tdt, encode_tot, local_time_offset_for_zone
from media.errors import MediaError

# The repetition limits of EN 300 468 / TS 101 211 that the output must meet.
LIMIT_EIT_PF = 2.0
LIMIT_EIT_SCHEDULE = 10.0
LIMIT_TDT = 30.0
LIMIT_TOT = 30.0
# EN 300 468 §5.1.4: 25 ms at least between sections of one sub-table on one PID.
MIN_SECTION_GAP = 0.025
# How much input may be held back while looking for PAT/PMT/SDT and the first PCRs.
MAX_PRESCAN_BYTES = 16 * 1024 * 1024


class InjectionError(MediaError):
    """The stream cannot take the tables (no PCR, no PAT/PMT, lost sync)."""


class InsufficientNullPackets(InjectionError):
    """The stream has too few null packets to repeat the tables as often as required."""


@dataclass(frozen=True)
class SiConfig:
    """What to inject and how often.

    ``start_utc``: the wall-clock instant of the stream's first PCR (timezone-aware).
    Ids left as None are read from the stream (service: first program in the PAT;
    original_network_id: SDT, else NIT). Intervals are targets in seconds; the
    limits checked against them are 2 s (EIT p/f), 10 s (EIT schedule) and 30 s
    (TDT, TOT). ``strict`` raises InsufficientNullPackets when a limit is missed.
    """

    start_utc: datetime
    service_id: int | None = None
    transport_stream_id: int | None = None
    original_network_id: int | None = None
    time_zone: str = "Asia/Almaty"
    country_code: str = "KAZ"
    region_id: int = 0
    schedule_days: int = 7
    eit_pf_interval: float = 1.0
    eit_schedule_interval: float = 5.0
    tdt_interval: float = 5.0
    tot_interval: float = 10.0
    set_sdt_eit_flags: bool = True
    strict: bool = True

    def __post_init__(self) -> None:
        if self.start_utc.tzinfo is None:
            raise MediaError(f"SI start time {self.start_utc} has no time zone (give UTC or an offset)")
        for name, value, limit in (
            ("eit_pf_interval", self.eit_pf_interval, LIMIT_EIT_PF),
            ("eit_schedule_interval", self.eit_schedule_interval, LIMIT_EIT_SCHEDULE),
            ("tdt_interval", self.tdt_interval, LIMIT_TDT),
            ("tot_interval", self.tot_interval, LIMIT_TOT),
        ):
            # the target leaves 10 % of the limit for waiting on null packets and the 25 ms gaps
            if not 0.05 <= value <= 0.9 * limit:
                raise MediaError(
                    f"{name} = {value:g} s: must lie between 0.05 and {0.9 * limit:g} s "
                    f"(the table must arrive at least every {limit:g} s)"
                )


@dataclass
class PfSwitch:
    """One change of EIT present/following content."""

    elapsed_s: float
    wall_utc: datetime
    version_number: int
    present_event_id: int | None
    present_title: str


@dataclass
class InjectReport:
    """What the injection did; ``max_interval_s`` is measured on the output."""

    service: ServiceRef
    packets: int = 0
    duration_s: float = 0.0
    null_packets_in: int = 0
    si_packets: int = 0
    removed_si_packets: int = 0
    sdt_packets_patched: int = 0
    sdt_packets_unpatched: int = 0
    sections: dict[str, int] = field(default_factory=dict)
    max_interval_s: dict[str, float] = field(default_factory=dict)
    pf_switches: list[PfSwitch] = field(default_factory=list)
    schedule_versions: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def null_packets_out(self) -> int:
        return self.null_packets_in + self.removed_si_packets - self.si_packets

    def as_dict(self) -> dict[str, object]:
        return {
            "service": vars(self.service),
            "packets": self.packets,
            "duration_s": round(self.duration_s, 3),
            "null_packets_in": self.null_packets_in,
            "null_packets_out": self.null_packets_out,
            "si_packets": self.si_packets,
            "removed_si_packets": self.removed_si_packets,
            "sdt_packets_patched": self.sdt_packets_patched,
            "sections": dict(self.sections),
            "max_interval_s": {k: round(v, 3) for k, v in self.max_interval_s.items()},
            "pf_switches": [
                {
                    "elapsed_s": round(s.elapsed_s, 3),
                    "wall_utc": s.wall_utc.isoformat(),
                    "version_number": s.version_number,
                    "present_event_id": s.present_event_id,
                    "present_title": s.present_title,
                }
                for s in self.pf_switches
            ],
            "schedule_versions": self.schedule_versions,
            "violations": list(self.violations),
        }


# --------------------------------------------------------------------------- byte-mask helpers


def _table(pred: Callable[[int], bool]) -> bytes:
    return bytes(1 if pred(x) else 0 for x in range(256))


def _pid_tables(pid: int) -> tuple[bytes, bytes]:
    return _table(lambda x: (x & 0x1F) == pid >> 8), _table(lambda x: x == pid & 0xFF)


_AF_PRESENT = _table(lambda x: bool(x & 0x20))
_NONZERO = _table(lambda x: x != 0)
_PCR_FLAG = _table(lambda x: bool(x & 0x10))
_PUSI = _table(lambda x: bool(x & 0x40))
_HI_ZERO = _table(lambda x: (x & 0x1F) == 0)
_LO_EIT_TDT = _table(lambda x: x in (PID_EIT, PID_TDT))


def _mask(column: bytes, table: bytes) -> int:
    return int.from_bytes(column.translate(table), "big")


def _positions(mask: int, n: int) -> list[int]:
    if not mask:
        return []
    flags = mask.to_bytes(n, "big")
    out = []
    pos = flags.find(1)
    while pos >= 0:
        out.append(pos)
        pos = flags.find(1, pos + 1)
    return out


# --------------------------------------------------------------------------- carousels


@dataclass
class _Queued:
    key: tuple[int, int]  # (table_id, table_id_extension): the 25 ms spacing applies per key
    build: Callable[[float], bytes] | bytes
    carousel: _Carousel
    first_of_cycle: bool
    priority: int
    seq: int


@dataclass
class _Carousel:
    name: str
    pid: int
    interval: float
    limit: float
    priority: int
    next_due: float = 0.0
    pending: int = 0  # sections of the current cycle not yet sent
    last_cycle_emit: float | None = None
    max_interval: float = 0.0
    sections_sent: int = 0
    overdue_reported: bool = False  # a violation was reported and the gap is still open


class _Lane:
    """Sections waiting for one PID, and the packets of the section being sent."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.queues: dict[tuple[int, int], deque[_Queued]] = {}  # FIFO per sub-table key
        self.current: list[bytes] = []
        self.current_item: _Queued | None = None
        self.cc = 0


class SiInjector:
    """Streaming null-packet replacement: ``feed`` whole-packet chunks, then ``flush`` and ``finish``.

    Output bytes come back from ``feed``/``flush`` (the first ones are held back
    until PAT, PMT and two PCRs have been seen). Memory stays bounded by one chunk
    plus that short look-ahead.
    """

    def __init__(self, config: SiConfig, events: Sequence[EitEvent]) -> None:
        check_no_overlap(events)
        self.config = config
        self.events = sorted(events, key=lambda e: e.start)
        self._start = config.start_utc.astimezone(UTC)
        self._boundaries = sorted(
            {(e.start - self._start).total_seconds() for e in self.events}
            | {(e.end - self._start).total_seconds() for e in self.events}
        )
        # look-ahead state
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._ready = False
        self._asm: dict[int, SectionAssembler] = {}
        self._pat: Pat | None = None
        self._pmts: dict[int, Pmt] = {}
        self._sdt_onid: int | None = None
        self._nit_onid: int | None = None
        self._scan_pcrs = 0
        # time base
        self._index = 0  # global index of the next packet fed
        self._pcr_pid = -1
        self._anchor_idx: int | None = None
        self._anchor_t = 0.0
        self._anchor_pcr = 0
        self._spp: float | None = None  # seconds per packet
        # carousels
        self.service: ServiceRef | None = None
        self.report: InjectReport | None = None
        self._lanes = {PID_TDT: _Lane(PID_TDT), PID_EIT: _Lane(PID_EIT)}
        self._last_key_emit: dict[tuple[int, int], float] = {}
        self._seq = 0
        self._pf_version = 0
        self._pf_state: tuple[int | None, int | None] | None = None
        self._pf_sections: list[bytes] = []
        self._sched_version = 0
        self._sched_day0: datetime | None = None
        self._sched_sections: list[bytes] = []
        self._sdt_cache: dict[bytes, bytes] = {}
        self._packet_cache: dict[bytes, list[bytes]] = {}
        self._offset_cache: tuple[datetime, LocalTimeOffset] | None = None
        self._carousels = [
            _Carousel("tdt", PID_TDT, config.tdt_interval, LIMIT_TDT, 0),
            _Carousel("tot", PID_TDT, config.tot_interval, LIMIT_TOT, 0),
            _Carousel("eit_pf", PID_EIT, config.eit_pf_interval, LIMIT_EIT_PF, 1),
            _Carousel("eit_schedule", PID_EIT, config.eit_schedule_interval, LIMIT_EIT_SCHEDULE, 2),
        ]
        self._pf_carousel = self._carousels[2]
        self._next_boundary_due = self._next_boundary(0.0)
        self._pf_boundary_pending = False
        # the schedule's segments count from midnight UTC: a new day means a new version at once
        self._schedule_carousel = self._carousels[3]
        self._next_midnight_due = (
            schedule_day0(self._start) + timedelta(days=1) - self._start
        ).total_seconds()
        self._schedule_day_pending = False

    # ------------------------------------------------------------------ public

    def feed(self, chunk: bytes) -> bytes:
        """Process whole packets; returns the output that is ready (maybe empty)."""
        return b"".join(self.feed_parts(chunk))

    def feed_parts(self, chunk: bytes) -> list[bytes | memoryview]:
        """Like ``feed`` but as pieces for ``writelines`` (unchanged runs are not copied)."""
        if len(chunk) % PACKET_SIZE:
            raise ValueError("feed() takes whole 188-byte packets")
        if not chunk:
            return []
        if self._ready:
            return self._process(chunk)
        self._held.append(chunk)
        self._held_bytes += len(chunk)
        self._scan(chunk)
        if self._identity_known():
            return self._release()
        if self._held_bytes > MAX_PRESCAN_BYTES:
            raise InjectionError(self._missing_message(f"the first {self._held_bytes // 1_000_000} MB"))
        return []

    def flush(self) -> bytes:
        """Output still held back at the end of the input (short streams)."""
        return b"".join(self.flush_parts())

    def flush_parts(self) -> list[bytes | memoryview]:
        if self._ready or not self._held:
            return []
        if not self._identity_known(final=True):
            raise InjectionError(self._missing_message("the whole input"))
        return self._release()

    def finish(self) -> InjectReport:
        """The report; raises InsufficientNullPackets in strict mode if a limit was missed at the end."""
        if self.report is None:
            raise InjectionError("no transport stream packets were given")
        rep = self.report
        if self._anchor_idx is not None and self._spp:
            rep.duration_s = max(0.0, self._anchor_t + (self._index - self._anchor_idx) * self._spp)
        for c in self._carousels:
            gap_end = rep.duration_s - (c.last_cycle_emit if c.last_cycle_emit is not None else 0.0)
            if gap_end > c.limit + 1e-6 and not c.overdue_reported:
                self._violation(c, gap_end, rep.duration_s, at_end=True)
            rep.max_interval_s[c.name] = max(c.max_interval, 0.0)
            rep.sections[c.name] = c.sections_sent
        return rep

    # ------------------------------------------------------------------ look-ahead

    def _scan(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        pmt_pids = self._pmt_pids()
        for off in range(0, len(chunk), PACKET_SIZE):
            if chunk[off] != SYNC_BYTE:
                packet = (self._held_bytes - len(chunk) + off) // PACKET_SIZE
                raise InjectionError(
                    f"lost sync at packet {packet} (byte {packet * PACKET_SIZE}): not a clean transport stream; "
                    "check it with 'aulacast tv check'"
                )
            pid = ((chunk[off + 1] & 0x1F) << 8) | chunk[off + 2]
            if pid == self._pcr_pid and chunk[off + 3] & 0x20 and chunk[off + 4] and chunk[off + 5] & 0x10:
                self._scan_pcrs += 1
            if pid not in (PID_PAT, PID_SDT, PID_NIT) and pid not in pmt_pids:
                continue
            afc = (chunk[off + 3] >> 4) & 3
            if not afc & 1:
                continue
            start = off + 4 + (1 + chunk[off + 4] if afc & 2 else 0)
            payload = view[start : off + PACKET_SIZE]
            for raw in self._asm.setdefault(pid, SectionAssembler()).feed(
                payload, bool(chunk[off + 1] & 0x40)
            ):
                self._take_section(pid, raw)
                pmt_pids = self._pmt_pids()

    def _pmt_pids(self) -> dict[int, int]:
        if self._pat is None:
            return {}
        return {pid: num for num, pid in self._pat.programs.items() if num != 0}

    def _take_section(self, pid: int, raw: bytes) -> None:
        try:
            sec = parse_section(raw)
            if not sec.crc_ok:
                return
            if pid == PID_PAT and sec.table_id == 0x00 and self._pat is None:
                self._pat = decode_pat(sec)
            elif pid == PID_SDT and sec.table_id == 0x42 and self._sdt_onid is None:
                self._sdt_onid = decode_sdt(sec).original_network_id
            elif pid == PID_NIT and sec.table_id == 0x40 and self._nit_onid is None:
                nit = decode_nit(sec)
                if nit.transport_streams:
                    self._nit_onid = nit.transport_streams[0].original_network_id
            elif sec.table_id == 0x02:
                pmt = decode_pmt(sec)
                self._pmts[pmt.program_number] = pmt
                if pmt.program_number == self._service_id():
                    self._pcr_pid = pmt.pcr_pid
        except SectionError:
            return

    def _service_id(self) -> int | None:
        if self.config.service_id is not None:
            return self.config.service_id
        if self._pat is None:
            return None
        programs = sorted(n for n in self._pat.programs if n != 0)
        return programs[0] if programs else None

    def _identity_known(self, final: bool = False) -> bool:
        sid = self._service_id()
        if self._pat is None or sid is None or sid not in self._pmts:
            return False
        onid_known = (
            self.config.original_network_id is not None
            or self._sdt_onid is not None
            or self._nit_onid is not None
        )
        if not onid_known and not final:
            return False
        return self._scan_pcrs >= (1 if final else 2) and (onid_known or final)

    def _missing_message(self, where: str) -> str:
        sid = self._service_id()
        if self._pat is None:
            what = "no PAT"
        elif sid is None:
            what = "the PAT lists no program"
        elif self.config.service_id is not None and sid not in self._pat.programs:
            what = f"service {sid} is not in the PAT (it lists {sorted(self._pat.programs)})"
        elif sid not in self._pmts:
            what = f"no PMT for service {sid}"
        elif self._scan_pcrs == 0:
            what = f"no PCR on PID 0x{self._pcr_pid:04X}, so the stream has no time base for TDT/EIT"
        else:
            what = "too few PCRs"
        return f"cannot inject SI: {what} in {where}"

    def _release(self) -> list[bytes | memoryview]:
        sid = self._service_id()
        assert self._pat is not None and sid is not None
        onid = self.config.original_network_id
        if onid is None:
            onid = self._sdt_onid if self._sdt_onid is not None else self._nit_onid
        if onid is None:
            raise InjectionError(
                "cannot inject SI: the stream has no SDT or NIT naming the original_network_id; set it in SiConfig"
            )
        tsid = self.config.transport_stream_id
        self.service = ServiceRef(sid, self._pat.transport_stream_id if tsid is None else tsid, onid)
        self.report = InjectReport(service=self.service)
        self._null_tables = _pid_tables(0x1FFF)
        self._pcr_tables = _pid_tables(self._pcr_pid)
        self._sdt_tables = _pid_tables(PID_SDT)
        self._ready = True
        held, self._held = self._held, []
        self._held_bytes = 0
        return [part for c in held for part in self._process(c)]

    # ------------------------------------------------------------------ time base

    def _pcr_anchors(
        self, chunk: bytes, n: int, col1: bytes, col2: bytes, col3: bytes
    ) -> list[tuple[int, float]]:
        t1, t2 = self._pcr_tables
        m = _mask(col1, t1) & _mask(col2, t2) & _mask(col3, _AF_PRESENT)
        if not m:
            return []
        m &= _mask(chunk[4::PACKET_SIZE], _NONZERO) & _mask(chunk[5::PACKET_SIZE], _PCR_FLAG)
        anchors = []
        for i in _positions(m, n):
            off = i * PACKET_SIZE
            b = chunk[off + 6 : off + 12]
            pcr = ((b[0] << 25) | (b[1] << 17) | (b[2] << 9) | (b[3] << 1) | (b[4] >> 7)) * 300 + (
                ((b[4] & 1) << 8) | b[5]
            )
            gidx = self._index + i
            discontinuity = bool(chunk[off + 5] & 0x80)
            if self._anchor_idx is None:
                t = 0.0
            else:
                delta = ((pcr - self._anchor_pcr) % PCR_MODULUS) / PCR_HZ
                packets = gidx - self._anchor_idx
                if self._spp is None:
                    self._spp = delta / packets if packets and delta < 1.0 else None
                expected = packets * self._spp if self._spp else delta
                if discontinuity or abs(delta - expected) > 0.5:
                    delta = expected
                t = self._anchor_t + delta
                if packets and delta > 0:
                    self._spp = delta / packets
            self._anchor_idx, self._anchor_t, self._anchor_pcr = gidx, t, pcr
            anchors.append((gidx, t))
        return anchors

    # ------------------------------------------------------------------ main loop

    def _process(self, chunk: bytes) -> list[bytes | memoryview]:
        """The chunk as output pieces: unchanged runs as memoryview slices, replaced packets as bytes."""
        n = len(chunk) // PACKET_SIZE
        rep = self.report
        assert rep is not None
        col0 = chunk[0::PACKET_SIZE]
        if col0.count(SYNC_BYTE) != n:
            bad = next(i for i in range(n) if col0[i] != SYNC_BYTE)
            raise InjectionError(
                f"lost sync at packet {self._index + bad} (byte {(self._index + bad) * PACKET_SIZE}): "
                "not a clean transport stream; check it with 'aulacast tv check'"
            )
        col1 = chunk[1::PACKET_SIZE]
        col2 = chunk[2::PACKET_SIZE]
        col3 = chunk[3::PACKET_SIZE]
        prev = (self._anchor_idx, self._anchor_t)
        anchors = self._pcr_anchors(chunk, n, col1, col2, col3)
        if prev[0] is not None:
            anchors.insert(0, (prev[0], prev[1]))
        replaced: dict[int, bytes] = {}
        null_mask = _mask(col1, self._null_tables[0]) & _mask(col2, self._null_tables[1])
        rep.null_packets_in += null_mask.bit_count()
        old = _mask(col1, _HI_ZERO) & _mask(col2, _LO_EIT_TDT)
        if old:
            for i in _positions(old, n):
                replaced[i] = NULL_PACKET
                rep.removed_si_packets += 1
            null_mask |= old
        if self.config.set_sdt_eit_flags:
            sdt = _mask(col1, self._sdt_tables[0]) & _mask(col2, self._sdt_tables[1]) & _mask(col1, _PUSI)
            for i in _positions(sdt, n):
                patched = self._patch_sdt(chunk, i * PACKET_SIZE)
                if patched is not None:
                    replaced[i] = patched
        flags = null_mask.to_bytes(n, "big") if null_mask else b""
        a_idx = [a[0] for a in anchors]
        a_t = [a[1] for a in anchors]
        spp = self._spp or 0.0
        base = self._index

        def time_of(i: int) -> float:
            g = base + i
            k = bisect.bisect_right(a_idx, g) - 1
            if k < 0:
                return a_t[0] if a_t else 0.0
            if k + 1 < len(a_idx):
                return a_t[k] + (g - a_idx[k]) * (a_t[k + 1] - a_t[k]) / (a_idx[k + 1] - a_idx[k])
            return a_t[k] + (g - a_idx[k]) * spp

        def index_at(t: float, lo: int) -> int:
            if not a_t or t <= a_t[0]:
                return lo
            k = bisect.bisect_left(a_t, t)
            if k < len(a_t):
                g = a_idx[k - 1] + math.ceil(
                    (t - a_t[k - 1]) / (a_t[k] - a_t[k - 1]) * (a_idx[k] - a_idx[k - 1])
                )
            elif spp > 0:
                g = a_idx[-1] + math.ceil((t - a_t[-1]) / spp)
            else:
                return n
            return max(lo, g - base)

        pos = 0
        if flags:
            while pos < n:
                j = flags.find(1, pos)
                if j < 0:
                    break
                t = time_of(j)
                pkt = self._next_packet(t)
                if pkt is None:
                    due = self._next_due(t)
                    pos = max(j + 1, index_at(due, j + 1))
                    continue
                replaced[j] = pkt
                rep.si_packets += 1
                pos = j + 1
        # a table starved for longer than its limit is reported now, not at the end of a long file
        t_end = time_of(n - 1)
        for c in self._carousels:
            gap = t_end - (c.last_cycle_emit if c.last_cycle_emit is not None else 0.0)
            if gap > c.limit + 1e-6 and not c.overdue_reported:
                c.overdue_reported = True
                self._violation(c, gap, t_end)
        self._index += n
        rep.packets += n
        if not replaced:
            return [chunk]
        view = memoryview(chunk)
        parts: list[bytes | memoryview] = []
        start = 0
        for i in sorted(replaced):
            off = i * PACKET_SIZE
            if off > start:
                parts.append(view[start:off])
            parts.append(replaced[i])
            start = off + PACKET_SIZE
        if start < len(chunk):
            parts.append(view[start:])
        return parts

    def _patch_sdt(self, chunk: bytes, off: int) -> bytes | None:
        """The SDT packet at ``off`` with our service's EIT flags set, or None to keep it."""
        rep = self.report
        assert rep is not None and self.service is not None
        key = chunk[off + 4 : off + PACKET_SIZE]
        cached = self._sdt_cache.get(key)
        if cached is None:
            cached = key
            pkt = bytearray(chunk[off : off + PACKET_SIZE])
            afc = (pkt[3] >> 4) & 3
            start = 4 + (1 + pkt[4] if afc & 2 else 0)
            s0 = start + 1 + pkt[start]
            length = 3 + (((pkt[s0 + 1] & 0x0F) << 8) | pkt[s0 + 2]) if s0 + 3 <= PACKET_SIZE else PACKET_SIZE
            if pkt[s0] == 0x42 and s0 + length <= PACKET_SIZE:
                section = bytes(pkt[s0 : s0 + length])
                try:
                    pkt[s0 : s0 + length] = sdt_with_eit_flags(
                        section, self.service.service_id, schedule=True, present_following=True
                    )
                except SectionError:
                    pass
                cached = bytes(pkt[4:])
            else:
                rep.sdt_packets_unpatched += 1
            if len(self._sdt_cache) > 64:
                self._sdt_cache.clear()
            self._sdt_cache[key] = cached
        if cached == key:
            return None
        rep.sdt_packets_patched += 1
        return chunk[off : off + 4] + cached

    # ------------------------------------------------------------------ carousel logic

    def _wall(self, t: float) -> datetime:
        return self._start + timedelta(seconds=t)

    def _next_boundary(self, t: float) -> float:
        k = bisect.bisect_right(self._boundaries, t + 1e-9)
        return self._boundaries[k] if k < len(self._boundaries) else math.inf

    def _start_cycles(self, t: float) -> None:
        if t + 1e-9 >= self._next_boundary_due:
            self._pf_boundary_pending = True
            self._next_boundary_due = self._next_boundary(t)
        if t + 1e-9 >= self._next_midnight_due:
            self._schedule_day_pending = True
            self._next_midnight_due += 86400.0
        for c in self._carousels:
            forced = (c is self._pf_carousel and self._pf_boundary_pending) or (
                c is self._schedule_carousel and self._schedule_day_pending
            )
            if c.pending or not (forced or t + 1e-9 >= c.next_due):
                continue
            items = self._cycle_items(c, t)
            lane = self._lanes[c.pid]
            for k, (key, build) in enumerate(items):
                self._seq += 1
                lane.queues.setdefault(key, deque()).append(
                    _Queued(key, build, c, k == 0, c.priority, self._seq)
                )
            c.pending = len(items)
            late = c.next_due + c.interval <= t
            c.next_due = t + c.interval if (forced or late) else c.next_due + c.interval
            if forced and c is self._pf_carousel:
                self._pf_boundary_pending = False
            elif forced:
                self._schedule_day_pending = False

    def _cycle_items(
        self, c: _Carousel, t: float
    ) -> list[tuple[tuple[int, int], Callable[[float], bytes] | bytes]]:
        assert self.service is not None
        sid = self.service.service_id
        if c.name == "tdt":
            return [((0x70, 0), lambda te: encode_tdt(self._wall(te)))]
        if c.name == "tot":
            return [((0x73, 0), self._build_tot)]
        if c.name == "eit_pf":
            self._refresh_pf(t)
            return [((0x4E, sid), s) for s in self._pf_sections]
        self._refresh_schedule(t)
        # interleave the sub-tables so each one's 25 ms spacing overlaps the others'
        by_table: dict[int, list[bytes]] = {}
        for s in self._sched_sections:
            by_table.setdefault(s[0], []).append(s)
        order: list[tuple[tuple[int, int], bytes]] = []
        columns = list(by_table.values())
        for k in range(max((len(col) for col in columns), default=0)):
            for col in columns:
                if k < len(col):
                    order.append(((col[k][0], sid), col[k]))
        return order

    def _build_tot(self, t: float) -> bytes:
        wall = self._wall(t)
        cached = self._offset_cache
        if cached is None or wall >= cached[0]:
            offset = local_time_offset_for_zone(
                self.config.time_zone,
                wall,
                country_code=self.config.country_code,
                region_id=self.config.region_id,
            )
            until = min(offset.time_of_change, wall + timedelta(hours=1))
            self._offset_cache = cached = (until, offset)
        return encode_tot(wall, [cached[1]])

    def _refresh_pf(self, t: float) -> None:
        wall = self._wall(t)
        present, following = present_following(self.events, wall)
        state = (present.event_id if present else None, following.event_id if following else None)
        if state != self._pf_state:
            if self._pf_state is not None:
                self._pf_version = (self._pf_version + 1) & 0x1F
            self._pf_state = state
            assert self.service is not None and self.report is not None
            self._pf_sections = eit_pf_sections(
                self.service, present, following, version_number=self._pf_version
            )
            self.report.pf_switches.append(
                PfSwitch(t, wall, self._pf_version, state[0], present.title if present else "")
            )

    def _refresh_schedule(self, t: float) -> None:
        day0 = schedule_day0(self._wall(t))
        if day0 != self._sched_day0:
            if self._sched_day0 is not None:
                self._sched_version = (self._sched_version + 1) & 0x1F
            self._sched_day0 = day0
            assert self.service is not None and self.report is not None
            self._sched_sections = eit_schedule_sections(
                self.service,
                self.events,
                now=self._wall(t),
                days=self.config.schedule_days,
                version_number=self._sched_version,
            )
            self.report.schedule_versions += 1

    def _next_packet(self, t: float) -> bytes | None:
        self._start_cycles(t)
        for lane in self._lanes.values():
            if not lane.current:
                self._pick(lane, t)
            if lane.current:
                pkt = lane.current.pop(0)
                cc = lane.cc
                lane.cc = (cc + 1) & 0x0F
                if not lane.current:
                    item = lane.current_item
                    assert item is not None
                    self._last_key_emit[item.key] = t
                return pkt[:3] + bytes([(pkt[3] & 0xF0) | cc]) + pkt[4:]
        return None

    def _pick(self, lane: _Lane, t: float) -> None:
        best: _Queued | None = None
        for key, queue in lane.queues.items():
            if not queue:
                continue
            last = self._last_key_emit.get(key)
            if last is not None and t < last + MIN_SECTION_GAP:
                continue
            item = queue[0]
            if best is None or (item.priority, item.seq) < (best.priority, best.seq):
                best = item
        if best is None:
            return
        lane.queues[best.key].popleft()
        if callable(best.build):
            lane.current = packetize_section(best.build(t), lane.pid, 0)
        else:
            packets = self._packet_cache.get(best.build)
            if packets is None:
                if len(self._packet_cache) > 512:
                    self._packet_cache.clear()
                packets = self._packet_cache[best.build] = packetize_section(best.build, lane.pid, 0)
            lane.current = list(packets)
        lane.current_item = best
        c = best.carousel
        c.pending -= 1
        c.sections_sent += 1
        if best.first_of_cycle:
            since = t - (c.last_cycle_emit if c.last_cycle_emit is not None else 0.0)
            c.max_interval = max(c.max_interval, since)
            if since > c.limit + 1e-6 and not c.overdue_reported:
                self._violation(c, since, t)
            c.overdue_reported = False
            c.last_cycle_emit = t

    def _next_due(self, t: float) -> float:
        """The earliest time something may be sent: a cycle, a programme change, a gated section."""
        due = min((c.next_due for c in self._carousels if not c.pending), default=math.inf)
        due = min(due, self._next_boundary_due, self._next_midnight_due)
        for lane in self._lanes.values():
            if lane.current:
                return t
            for key, queue in lane.queues.items():
                if queue:
                    last = self._last_key_emit.get(key)
                    due = min(due, t if last is None else max(t, last + MIN_SECTION_GAP))
        return due

    def _violation(self, c: _Carousel, gap: float, t: float, at_end: bool = False) -> None:
        rep = self.report
        assert rep is not None
        nulls_per_s = rep.null_packets_in / t if t > 0 else 0.0
        needed = sum(self._packets_per_cycle(x) / x.interval for x in self._carousels)
        where = "before the end of the stream" if at_end else f"at {t:.1f} s"
        msg = (
            f"not enough null packets for the SI repetition rates: {c.name} was not repeated for "
            f"{gap:.1f} s {where} (limit {c.limit:g} s); the stream has about {nulls_per_s:.0f} null "
            f"packets/s and the tables need about {needed:.0f} packets/s — package it with a higher mux "
            "rate or a lower video/audio bitrate"
        )
        rep.violations.append(msg)
        if self.config.strict:
            raise InsufficientNullPackets(msg)

    def _packets_per_cycle(self, c: _Carousel) -> int:
        """Packets one cycle of a carousel takes (for the error message's estimate)."""
        if c.name == "eit_pf":
            sections = self._pf_sections or [b"\0" * 180] * 2
        elif c.name == "eit_schedule":
            sections = self._sched_sections
            if not sections and self.service is not None:
                sections = eit_schedule_sections(
                    self.service, self.events, now=self._start, days=self.config.schedule_days
                )
        else:
            return 1
        return sum(-(-(len(s) + 1) // 184) for s in sections) or 1


# --------------------------------------------------------------------------- file API


def inject_si(
    src: str | Path | bytes | BinaryIO,
    dst: str | Path,
    *,
    config: SiConfig,
    events: Sequence[EitEvent],
    packets_per_chunk: int = 4096,
    progress: Callable[[int], None] | None = None,
) -> InjectReport:
    """Read a CBR TS, write it to ``dst`` with EIT/TDT/TOT in place of null packets, report.

    ``dst`` appears only when complete (written under a hidden name beside it,
    then renamed); on any error the partial file is removed. ``progress`` gets the bytes written so far.
    """
    dst = Path(dst)
    name = str(src) if isinstance(src, str | Path) else "input"
    injector = SiInjector(config, events)
    with replacing(dst) as tmp, tmp.open("wb") as out:
        written = 0
        for chunk in iter_chunks(src, packets_per_chunk, name=name):
            parts = injector.feed_parts(chunk)
            if parts:
                out.writelines(parts)
                written += sum(len(p) for p in parts)
                if progress:
                    progress(written)
        out.writelines(injector.flush_parts())
        report = injector.finish()
    return report


def inject_si_bytes(
    data: bytes, *, config: SiConfig, events: Sequence[EitEvent]
) -> tuple[bytes, InjectReport]:
    """The same as ``inject_si`` for a stream held in memory (tests, short clips)."""
    injector = SiInjector(config, events)
    parts = [injector.feed(chunk) for chunk in iter_chunks(data)]
    parts.append(injector.flush())
    return b"".join(parts), injector.finish()

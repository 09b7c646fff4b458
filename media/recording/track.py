"""One recorded track: encoded frames muxed as received into WebM (VP8/VP9/Opus) or Matroska (H.264).

Usage::

    writer = TrackWriter(path, "vp8", clock_rate=90000)
    if not writer.write(frame_bytes, rtp_timestamp, keyframe):   # False: waiting for a keyframe
        ask_the_publisher_for_a_keyframe()
    writer.close()                                               # cues and duration written

Nothing is decoded or encoded: PyAV only muxes. Output streams are made from a *template*
stream (one tiny in-memory file per codec and process, made once), so the muxer never opens an
encoder (``add_stream`` would open libvpx for every track). Packet times are the publisher's RTP
timestamps, unwrapped, counted from the first written frame, so a network stall is a gap in the
file rather than a shorter file.

Crash safety: the muxer closes a Matroska cluster at least every ``cluster_ms`` and the
container flushes its I/O buffer after each packet (``flush_packets``), so what a ``kill -9``
loses is the open cluster: under ``cluster_ms`` of media. A killed file has no cues and no
duration; ffmpeg and PyAV still play it to its last whole cluster.
"""

from __future__ import annotations

import fractions
import io
import threading
from pathlib import Path
from typing import Any

import av
import numpy

from media.errors import MediaError

CODECS = {"vp8": "video", "vp9": "video", "h264": "video", "opus": "audio"}
_ENCODERS = {"vp8": "libvpx", "vp9": "libvpx-vp9", "h264": "libx264", "opus": "libopus"}
_templates: dict[str, Any] = {}
_templates_lock = threading.Lock()


class TrackFormatError(MediaError):
    """A track that cannot be written as received (a codec this recorder does not store)."""


def container_format(codec: str) -> str:
    return "matroska" if codec == "h264" else "webm"


def _template(codec: str) -> Any:
    """A stream of ``codec`` read back from a one-frame in-memory file: its parameters seed output streams.

    Made once per codec and process (an encoder is opened here, once, never per track).
    """
    with _templates_lock:
        stream = _templates.get(codec)
        if stream is not None:
            return stream
        buf = io.BytesIO()
        with av.open(buf, "w", format=container_format(codec)) as out:
            if CODECS[codec] == "audio":
                s = out.add_stream(_ENCODERS[codec], rate=48000, layout="stereo")
                frame: Any = av.AudioFrame.from_ndarray(numpy.zeros((1, 1920), numpy.int16), format="s16",
                                                        layout="stereo")  # fmt: skip
                frame.sample_rate = 48000
            else:
                s = out.add_stream(_ENCODERS[codec], rate=30)
                s.width, s.height, s.pix_fmt = 16, 16, "yuv420p"
                frame = av.VideoFrame.from_ndarray(numpy.zeros((16, 16, 3), numpy.uint8), format="rgb24")
                frame = frame.reformat(format="yuv420p")
            frame.pts = 0
            out.mux(s.encode(frame))
            out.mux(s.encode(None))
        stream = av.open(io.BytesIO(buf.getvalue())).streams[0]
        _templates[codec] = stream
        return stream


def vp8_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 key frame header (RFC 6386 9.1), None for other frames."""
    if len(data) < 10 or data[0] & 0x01 or data[3:6] != b"\x9d\x01\x2a":
        return None
    return int.from_bytes(data[6:8], "little") & 0x3FFF, int.from_bytes(data[8:10], "little") & 0x3FFF


def h264_parameter_sets(data: bytes) -> bytes:
    """The SPS and PPS NAL units of an Annex-B access unit, as Annex-B (Matroska's CodecPrivate is made from them)."""
    out = []
    for nal in _nal_units(data):
        if nal and nal[0] & 0x1F in (7, 8):
            out.append(b"\x00\x00\x00\x01" + nal)
    return b"".join(out)


class _Bits:
    """An RBSP bit reader (Exp-Golomb) for the few SPS fields a container header needs."""

    def __init__(self, data: bytes) -> None:
        self.data = data.replace(b"\x00\x00\x03", b"\x00\x00")  # emulation prevention bytes
        self.pos = 0

    def u(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3]
            value = (value << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def h264_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the SPS of an Annex-B access unit (ITU-T H.264 7.3.2.1.1), None without one."""
    sps = next((n for n in _nal_units(data) if n and n[0] & 0x1F == 7), None)
    if sps is None:
        return None
    try:
        b = _Bits(sps[1:])
        profile = b.u(8)
        b.u(16)  # constraint flags, level
        b.ue()  # seq_parameter_set_id
        chroma = 1
        if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
            chroma = b.ue()
            if chroma == 3:
                b.u(1)
            b.ue()
            b.ue()
            b.u(1)
            if b.u(1):  # seq_scaling_matrix_present_flag
                for i in range(8 if chroma != 3 else 12):
                    if b.u(1):
                        last = nxt = 8
                        for _ in range(16 if i < 6 else 64):
                            if nxt:
                                nxt = (last + b.se() + 256) % 256
                            last = nxt or last
        b.ue()  # log2_max_frame_num_minus4
        poc = b.ue()
        if poc == 0:
            b.ue()
        elif poc == 1:
            b.u(1)
            b.se()
            b.se()
            for _ in range(b.ue()):
                b.se()
        b.ue()  # max_num_ref_frames
        b.u(1)
        width_mbs = b.ue() + 1
        height_units = b.ue() + 1
        frame_mbs_only = b.u(1)
        if not frame_mbs_only:
            b.u(1)
        b.u(1)
        width = width_mbs * 16
        height = (2 - frame_mbs_only) * height_units * 16
        if b.u(1):  # frame_cropping_flag
            left, right, top, bottom = b.ue(), b.ue(), b.ue(), b.ue()
            crop_x = 1 if chroma in (0, 3) else 2
            crop_y = (2 - frame_mbs_only) * (2 if chroma == 1 else 1)
            width -= crop_x * (left + right)
            height -= crop_y * (top + bottom)
        return width, height
    except IndexError:
        return None


def _nal_units(data: bytes) -> list[bytes]:
    units = []
    starts = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        starts.append(i + 3)
        i = data.find(b"\x00\x00\x01", i + 3)
    for n, start in enumerate(starts):
        end = starts[n + 1] - 3 if n + 1 < len(starts) else len(data)
        units.append(data[start:end].rstrip(b"\x00") if n + 1 < len(starts) else data[start:end])
    return units


class TrackWriter:
    """Writes one track's encoded frames to ``path`` as they arrive; opens the file at the first keyframe."""

    def __init__(self, path: Path, codec: str, clock_rate: int, cluster_ms: int = 1000) -> None:
        codec = codec.lower()
        if codec not in CODECS:
            raise TrackFormatError(f"cannot record {codec!r} as received; this recorder stores {', '.join(CODECS)}")
        self.path = Path(path)
        self.codec = codec
        self.kind = CODECS[codec]
        self.clock_rate = clock_rate
        self.cluster_ms = cluster_ms
        self.width: int | None = None
        self.height: int | None = None
        self.frames = 0
        self.dropped = 0  # frames before the first keyframe, or out of order
        self.bytes = 0
        self.first_arrival: float | None = None
        self.last_arrival: float | None = None
        self._container: Any = None
        self._stream: Any = None
        self._time_base = fractions.Fraction(1, clock_rate)
        self._last_rtp = 0
        self._ext = 0  # unwrapped RTP timestamp of the last written frame
        self._base = 0
        self._last_pts = -1
        self.closed = False

    @property
    def started(self) -> bool:
        return self._container is not None

    @property
    def duration(self) -> float:
        """Seconds from the first to the last written frame (by RTP time)."""
        return max(0.0, self._last_pts / self.clock_rate) if self._last_pts >= 0 else 0.0

    def write(self, data: bytes, rtp_timestamp: int, keyframe: bool, arrival: float = 0.0) -> bool:
        """Mux one encoded frame; False when it is dropped (no keyframe yet). OSError (disk full) propagates."""
        if self.closed:
            return True
        if self._container is None:
            if self.kind == "video" and not keyframe:
                self.dropped += 1
                return False
            self._open(data, rtp_timestamp)
            self.first_arrival = arrival
        delta = (rtp_timestamp - self._last_rtp) & 0xFFFFFFFF
        if delta >= 0x80000000:
            delta -= 0x100000000
        pts = self._ext + delta - self._base
        if pts <= self._last_pts:
            self.dropped += 1  # a late or repeated frame: Matroska timestamps only go forward
            return True
        packet = av.Packet(data)
        packet.stream = self._stream
        packet.pts = packet.dts = pts
        packet.time_base = self._time_base
        if keyframe:
            packet.is_keyframe = True
        self._container.mux_one(packet)
        self._ext += delta
        self._last_rtp = rtp_timestamp
        self._last_pts = pts
        self.frames += 1
        self.bytes += len(data)
        self.last_arrival = arrival
        return True

    def _open(self, data: bytes, rtp_timestamp: int) -> None:
        options = {"cluster_time_limit": str(self.cluster_ms), "fflags": "flush_packets"}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(self.path), "w", format=container_format(self.codec), options=options)
        try:
            stream = container.add_stream_from_template(_template(self.codec))
            if self.codec == "vp8":
                size = vp8_size(data)
                if size is not None:
                    self.width, self.height = size
            elif self.codec == "h264":
                size = h264_size(data)
                if size is not None:
                    self.width, self.height = size
                extradata = h264_parameter_sets(data)
                if extradata:
                    stream.codec_context.extradata = extradata
            if self.kind == "video":
                stream.width, stream.height = self.width or 0, self.height or 0
            stream.time_base = fractions.Fraction(1, 1000)
            container.start_encoding()
        except BaseException:
            container.close()
            raise
        self._container, self._stream = container, stream
        self._last_rtp = self._ext = self._base = rtp_timestamp

    def close(self) -> None:
        """Finish the file (cues, duration). Safe to call twice; a failure to finish leaves it playable."""
        if self.closed:
            return
        self.closed = True
        container, self._container = self._container, None
        if container is not None:
            container.close()

    def abandon(self) -> None:
        """Stop writing without finishing (disk full: the trailer cannot be written anyway)."""
        self.closed = True
        container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            except Exception:  # noqa: BLE001 - the file stays playable to its last whole cluster
                pass

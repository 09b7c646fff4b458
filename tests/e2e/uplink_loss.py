"""A phase of the browser room run: real packet loss on ONE browser's uplink (issue 13 §2).

    await uplink_loss(victim, watchers, victim_id, result)     # inside room_driver.scenario

The driver runs in a network namespace of its own as root, so ``tc`` can drop real packets.
Every ICE candidate there is 127.0.0.2, which the kernel carries over ``lo``; a classifier on
``lo`` picks the UDP packets whose source port is the victim's publish connection (its uplink:
the media it sends, nothing it receives) and drops a random LOSS_PERCENT of them (``add_loss``);
HTTP, Socket.IO and the other browsers' media pass untouched. The page is then read as a person
would meet it: its network-quality mark, the ``maxBitrate`` its camera sender was given, and the
bitrate Chromium actually sends (getStats outbound-rtp). Removing the loss must let it climb back.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from typing import Any

LOSS_PERCENT = 20
TC = shutil.which("tc") or "/usr/sbin/tc"

# Registers the page's RTCPeerConnections so the run can read its senders (the page is not changed).
TRACK_PCS = """(() => {
  const Orig = window.RTCPeerConnection;
  if (!Orig || Orig.__e2e) return;
  window.__e2ePcs = [];
  function Tracked(...args) { const pc = new Orig(...args); window.__e2ePcs.push(pc); return pc; }
  Tracked.prototype = Orig.prototype;
  Object.setPrototypeOf(Tracked, Orig);
  Tracked.__e2e = true;
  window.RTCPeerConnection = Tracked;
})();"""

# The camera sender of the publish connection: its encoding caps, what it sends, its ICE port.
CAMERA_SENDER = """async () => {
  const pcs = (window.__e2ePcs || []).filter((pc) => pc.connectionState === "connected");
  for (const pc of pcs.reverse()) {
    const sender = pc.getSenders().find((s) => s.track && s.track.kind === "video");
    if (!sender) continue;
    const enc = (sender.getParameters().encodings || [])[0] || {};
    const stats = await pc.getStats();
    let out = null, remote = null, pair = null;
    stats.forEach((s) => {
      if (s.type === "outbound-rtp" && s.kind === "video") out = s;
      if (s.type === "remote-inbound-rtp" && s.kind === "video") remote = s;
      if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
    });
    const local = pair ? stats.get(pair.localCandidateId) : null;
    return { maxBitrate: enc.maxBitrate ?? null, scale: enc.scaleResolutionDownBy ?? null,
             bytesSent: out ? out.bytesSent : 0, at: out ? out.timestamp : 0, target: out ? out.targetBitrate : null,
             width: out ? out.frameWidth : null, fractionLost: remote ? remote.fractionLost : null,
             port: local ? local.port : null };
  }
  return null;
}"""


def tc(*args: str) -> str:
    return subprocess.run([TC, *args], capture_output=True, text=True, check=True).stdout


def loss_program(port: int, percent: float) -> str:
    """Classic BPF for ``cls_bpf``: UDP from source ``port`` goes to class 1:20 (dropped) with probability
    ``percent`` (the kernel's per-packet random number, ``ld rand``), else to 1:30 (counted, sent on);
    anything else falls through to the default class. Offsets count lo's 14-byte Ethernet header."""
    threshold = int(percent / 100 * 2**32)
    program = [
        (0x28, 0, 0, 12),            # ldh [12]            ethertype
        (0x15, 0, 9, 0x0800),        # jeq IPv4 or -> other
        (0x30, 0, 0, 23),            # ldb [23]            IP protocol
        (0x15, 0, 7, 17),            # jeq UDP or -> other
        (0xB1, 0, 0, 14),            # ldxb 4*([14]&0xf)   IP header length
        (0x48, 0, 0, 14),            # ldh [x+14]          UDP source port
        (0x15, 0, 4, port),          # jeq port or -> other
        (0x20, 0, 0, 0xFFFFF038),    # ld rand             (SKF_AD_OFF + SKF_AD_RANDOM)
        (0x35, 1, 0, threshold),     # jge threshold -> pass
        (0x06, 0, 0, 0x10020),       # ret 1:20            dropped
        (0x06, 0, 0, 0x10030),       # ret 1:30            passed
        (0x06, 0, 0, 0),             # ret 0               other traffic: default class
    ]  # fmt: skip
    return f"{len(program)}," + ",".join(" ".join(str(v) for v in ins) for ins in program)


def add_loss(port: int) -> None:
    """Drop LOSS_PERCENT % of the UDP packets leaving source port ``port`` (one browser's uplink).

    This kernel has no ``netem`` nor ``gact`` module; an HTB tree with a ``pfifo limit 0`` leaf (it
    refuses every packet) and a classic-BPF classifier choosing it at random does the same: the
    packets are really dropped by the kernel, and the leaves' counters say how many."""
    tc("qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "10", "r2q", "100000")
    for leaf in ("10", "20", "30"):
        tc("class", "add", "dev", "lo", "parent", "1:", "classid", f"1:{leaf}", "htb", "rate", "10gbit")
    tc("qdisc", "add", "dev", "lo", "parent", "1:20", "handle", "20:", "pfifo", "limit", "0")
    tc("filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1", "bpf", "bytecode",
       loss_program(port, LOSS_PERCENT), "classid", "1:10")  # fmt: skip


def lossy_band_counts() -> dict[str, int]:
    """The victim's uplink packets sent on (class 1:30) and dropped (the 1:20 leaf), from ``tc -s``."""
    passed = re.search(r"Sent \d+ bytes (\d+) pkt", tc("-s", "class", "show", "dev", "lo", "classid", "1:30"))
    dropped = re.search(r"dropped (\d+)", tc("-s", "qdisc", "show", "dev", "lo", "handle", "20:"))
    assert passed and dropped, tc("-s", "class", "show", "dev", "lo")
    return {"passed": int(passed.group(1)), "dropped": int(dropped.group(1))}


def remove_loss() -> None:
    subprocess.run([TC, "qdisc", "del", "dev", "lo", "root"], capture_output=True, check=False)


# What the person sees: the marks on their own tile and the status line the page announces in.
SEEN = """(me) => ({
  marks: [...document.querySelectorAll(`#grid .tile[data-person="${me}"] .flag`)].map((e) => [e.className, e.textContent]),
  status: (document.getElementById("status") || {}).textContent || "" })"""


async def sample(person: Any, me: int, seconds: float = 2.0) -> dict[str, Any] | None:
    """The camera sender's caps and its send bitrate over ``seconds``; the page's quality state and marks."""
    a = await person.page.evaluate(CAMERA_SENDER)
    await asyncio.sleep(seconds)
    b = await person.page.evaluate(CAMERA_SENDER)
    snap = await person.snap()
    if not a or not b or b["at"] <= a["at"]:
        return None
    bps = round((b["bytesSent"] - a["bytesSent"]) * 8 / ((b["at"] - a["at"]) / 1000))
    seen = await person.page.evaluate(SEEN, me)
    return {**b, "bps": bps, "uplink": (snap or {}).get("quality", {}).get("uplink"), **seen}


async def frames_of(person: Any, publisher: int) -> int:
    snap = await person.snap()
    return next((t["frames"] for t in snap["tiles"] if t["person_id"] == publisher and t["key"].endswith(":camera")), 0)


async def uplink_loss(victim: Any, watchers: list[Any], victim_id: int, result: dict[str, Any]) -> None:
    """Loss on the victim's uplink: poor mark and a lower cap and rate; others still see it; then back up."""
    out: dict[str, Any] = result.setdefault("uplink_loss", {"loss_percent": LOSS_PERCENT})
    before = None
    for _ in range(10):
        before = await sample(victim, victim_id)
        if before and before["port"]:
            break
    assert before and before["port"], f"no camera sender on {victim.name}'s page: {before}"
    # the baseline is a healthy uplink at its full cap: on a loaded machine (other suites on the same
    # cores) the page may still be judging its link poor from a slow start; wait that out first
    t0 = time.monotonic()
    while time.monotonic() - t0 < 40 and not (before and before["uplink"] == "good"):
        before = await sample(victim, victim_id, 1.0) or before
    out["before"] = before
    assert before["uplink"] == "good", f"{victim.name}'s uplink was never good before the loss (a loaded machine?): {before}"
    add_loss(int(before["port"]))
    try:
        t0 = time.monotonic()
        lowered = None
        while time.monotonic() - t0 < 45:
            s = await sample(victim, victim_id, 1.0)
            out.setdefault("trace", []).append(s)
            if s and s["uplink"] == "poor" and s["maxBitrate"] is not None and s["maxBitrate"] < before["maxBitrate"]:
                lowered = s
                break
        out["lowered"] = lowered
        assert lowered, f"{victim.name}'s page never lowered its camera under {LOSS_PERCENT} % loss"
        await asyncio.sleep(3.5)  # the encoder settles under the new cap; the tiles are drawn again
        out["during"] = await sample(victim, victim_id, 3.0)
        out["watchers"] = {}
        for w in watchers:  # the others still receive the lossy publisher (NACK, PLI: the picture goes on)
            a = b = await frames_of(w, victim_id)
            for _ in range(10):  # a lost keyframe may hold the picture a moment: wait for it to move on
                await asyncio.sleep(1)
                if (b := await frames_of(w, victim_id)) > a:
                    break
            out["watchers"][w.name] = {"frames_before": a, "frames_after": b}
        out["band"] = lossy_band_counts()
    finally:
        remove_loss()
    t0 = time.monotonic()
    restored = None
    while time.monotonic() - t0 < 60:
        s = await sample(victim, victim_id, 1.0)
        if s and s["maxBitrate"] == before["maxBitrate"] and s["uplink"] == "good":
            restored = s
            break
    out["restored"] = restored
    if restored:  # the sender's own bandwidth estimate ramps up under the lifted cap: give it a while
        for _ in range(5):
            await asyncio.sleep(2)
            out["after"] = after = await sample(victim, victim_id, 3.0)
            if after and out.get("during") and after["bps"] > out["during"]["bps"] * 1.5:
                break

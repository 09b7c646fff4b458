// Media for the room page: local devices, the publish and subscribe peer connections, screen share.
//
//   const link = new MediaLink({ iceServers, emit, onTracks });
//   await link.publish(localStream);          // media-join (offer from us; null stream = receive only)
//   socket.on("media-offer", (m) => link.offered(m));  // the server's subscribe offers
//
// Two connections, each negotiated from one side only (docs/signaling-protocol.md §3): we offer on
// the publish connection, the server offers on the subscribe connection, so offers never cross.
// The server forwards encoded frames and cannot transcode, so WE cap our own bitrate.

import { t } from "/static/i18n.js";

export const BITRATE = { camera: 800_000, screen: 1_500_000, cameraLow: 200_000 };

/** Cameras and microphones the browser offers (labels appear once a permission was given). */
export async function listDevices() {
  const all = await navigator.mediaDevices.enumerateDevices();
  return {
    cameras: all.filter((d) => d.kind === "videoinput"),
    mics: all.filter((d) => d.kind === "audioinput"),
  };
}

/** Why getUserMedia failed, in words for the person in front of the screen. */
export function deviceErrorText(err) {
  switch (err?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return t("room.device.denied");
    case "NotFoundError":
    case "OverconstrainedError":
      return t("room.device.none");
    case "NotReadableError":
      return t("room.device.busy");
    default:
      return t("room.device.failed", { why: err?.message || err });
  }
}

/** Open camera and/or microphone; asks for each separately so a missing camera still leaves the microphone. */
export async function openLocal({ cameraId, micId, video = true, audio = true }) {
  const stream = new MediaStream();
  const errors = [];
  const vc = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 25, max: 30 } };
  if (cameraId) vc.deviceId = { exact: cameraId };
  const ac = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
  if (micId) ac.deviceId = { exact: micId };
  if (audio && video) {
    try {
      return await navigator.mediaDevices.getUserMedia({ video: vc, audio: ac });
    } catch (e) {
      errors.push(e); // fall through and try each on its own
    }
  }
  for (const [want, constraints] of [[audio, { audio: ac }], [video, { video: vc }]]) {
    if (!want) continue;
    try {
      const s = await navigator.mediaDevices.getUserMedia(constraints);
      s.getTracks().forEach((t) => stream.addTrack(t));
    } catch (e) {
      errors.push(e);
    }
  }
  stream.errors = errors;
  return stream;
}

/** Calls back with the microphone level (0..1) about ten times a second; returns a stop function. */
export function levelMeter(track, onLevel) {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!track || !Ctx) return () => {};
  const ctx = new Ctx();
  const src = ctx.createMediaStreamSource(new MediaStream([track]));
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 512;
  src.connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  // Chrome starts an AudioContext suspended until the person interacts with the page.
  const resume = () => ctx.resume().catch(() => {});
  document.addEventListener("pointerdown", resume, { once: true });
  document.addEventListener("keydown", resume, { once: true });
  const timer = setInterval(() => {
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    onLevel(Math.min(1, Math.sqrt(sum / buf.length) * 4));
  }, 100);
  return () => { clearInterval(timer); ctx.close().catch(() => {}); };
}

/**
 * Wait until ICE gathering ends (at most `ms`): the protocol has no trickle ICE, so every SDP we send
 * must already carry our candidates, or the server only meets us as peer-reflexive.
 */
function gathered(pc, ms = 3000) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(() => { pc.removeEventListener("icegatheringstatechange", done); resolve(); }, ms);
  });
}

/** Serialises async jobs: negotiations on one connection must never overlap. */
class Queue {
  constructor() { this.tail = Promise.resolve(); }
  run(job) {
    const next = this.tail.then(job, job);
    this.tail = next.catch(() => {});
    return next;
  }
}

export class MediaError extends Error {
  constructor(message, code) { super(message); this.code = code; }
}

export class MediaLink {
  /**
   * emit(event, payload) -> Promise<ack> sends one signaling event and resolves with its ack.
   * onTracks(list) gets every remote track the subscribe connection carries, after each change:
   * [{mid, person_id, source, kind, track_id, track}].
   */
  constructor({ iceServers, emit, onTracks, onState }) {
    this.emit = emit;
    this.onTracks = onTracks || (() => {});
    this.onState = onState || (() => {});
    const config = { iceServers: iceServers || [], bundlePolicy: "max-bundle" };
    this.pub = new RTCPeerConnection(config);
    this.sub = new RTCPeerConnection(config);
    this.pubQ = new Queue();
    this.subQ = new Queue();
    this.senders = {}; // source -> RTCRtpSender
    this.screenTx = null;
    this.lowBandwidth = false;
    this.remote = []; // last reconciled list
    this.closed = false;
    for (const [name, pc] of [["publish", this.pub], ["subscribe", this.sub]]) {
      pc.addEventListener("connectionstatechange", () => this.onState(name, pc.connectionState));
    }
  }

  /**
   * media-join: publish the local tracks (or receive only with a null/empty stream); `screen` is a
   * screen-share track that survives a media restart (the share goes on after a reconnect).
   */
  publish(stream, screen = null) {
    return this.pubQ.run(async () => {
      const audio = stream?.getAudioTracks()[0];
      const video = stream?.getVideoTracks()[0];
      if (audio) this.senders.microphone = this.pub.addTransceiver(audio, { direction: "sendonly", streams: [stream] }).sender;
      if (video) {
        video.contentHint = "motion";
        this.senders.camera = this.pub.addTransceiver(video, { direction: "sendonly", streams: [stream] }).sender;
      }
      if (screen) this.screenTx = this.pub.addTransceiver(screen, { direction: "sendonly" });
      if (!audio && !video && !screen) {
        const ack = await this.emit("media-join", { sdp: null, sources: {} });
        if (!ack.ok) throw new MediaError(ack.error.message, ack.error.code);
        return;
      }
      await this.pub.setLocalDescription(await this.pub.createOffer());
      await gathered(this.pub);
      const ack = await this.emit("media-join", { sdp: this.pub.localDescription.sdp, sources: this.sources() });
      if (!ack.ok) throw new MediaError(ack.error.message, ack.error.code);
      await this.pub.setRemoteDescription({ type: "answer", sdp: ack.sdp });
      await this.capBitrates();
    });
  }

  /** The mid -> source map the server needs for our offer (every m-line labelled, inactive ones too). */
  sources() {
    const out = {};
    for (const t of this.pub.getTransceivers()) {
      if (t.mid === null) continue;
      if (t === this.screenTx) out[t.mid] = "screen";
      else if (t.sender === this.senders.camera) out[t.mid] = "camera";
      else if (t.sender === this.senders.microphone) out[t.mid] = "microphone";
    }
    return out;
  }

  async capBitrates() {
    const caps = [
      [this.senders.camera, this.lowBandwidth ? BITRATE.cameraLow : BITRATE.camera, this.lowBandwidth ? 2 : 1],
      [this.screenTx?.sender, BITRATE.screen, 1],
    ];
    for (const [sender, maxBitrate, scale] of caps) {
      if (!sender || !sender.track) continue;
      const params = sender.getParameters();
      if (!params.encodings || !params.encodings.length) params.encodings = [{}];
      params.encodings[0].maxBitrate = maxBitrate;
      params.encodings[0].scaleResolutionDownBy = scale;
      try {
        await sender.setParameters(params);
      } catch (e) {
        console.warn("bitrate cap not applied", e);
      }
    }
  }

  /** Weak link (§10): camera at a quarter of the pixels and 200 kbps; audio is untouched. */
  async setLowBandwidth(on) {
    this.lowBandwidth = on;
    await this.capBitrates();
  }

  /** Mute/unmute locally: a disabled track sends silence/black at almost no bitrate, no renegotiation. */
  setEnabled(source, enabled) {
    const track = this.senders[source]?.track;
    if (track) track.enabled = enabled;
    return Boolean(track);
  }

  /** Switch a device without renegotiating (same kind of track on the same sender). */
  async replace(source, track) {
    const sender = this.senders[source];
    if (sender) await sender.replaceTrack(track);
  }

  /** Start a screen share (a getDisplayMedia track): a new or reused sendonly m-line, media-renegotiate. */
  shareScreen(track) {
    track.contentHint = "detail";
    return this.pubQ.run(async () => {
      if (this.screenTx) {
        await this.screenTx.sender.replaceTrack(track);
        this.screenTx.direction = "sendonly";
      } else {
        this.screenTx = this.pub.addTransceiver(track, { direction: "sendonly" });
      }
      await this.renegotiate();
    });
  }

  /** Stop sending the screen: the m-line goes inactive (kept for the next share), media-renegotiate. */
  unshareScreen() {
    if (!this.screenTx) return Promise.resolve();
    return this.pubQ.run(async () => {
      await this.screenTx.sender.replaceTrack(null);
      this.screenTx.direction = "inactive";
      await this.renegotiate();
    });
  }

  /**
   * A defense sitting's floor moved (room-sitting.js): send `camera`/`microphone` for the sources in
   * `allowed`, stop sending the rest. Stopping needs no renegotiation (the server unpublished those
   * tracks when it moved the floor, and would refuse an offer still labelling them); starting does.
   */
  setFloor({ camera, microphone }, allowed) {
    return this.pubQ.run(async () => {
      if (this.closed) return;
      let grow = false;
      for (const [source, track] of [["camera", camera], ["microphone", microphone]]) {
        const want = allowed.includes(source) && track?.readyState === "live" ? track : null;
        const sender = this.senders[source];
        if (!sender) {
          if (!want) continue;
          this.floorStream = this.floorStream || new MediaStream();
          this.floorStream.addTrack(want);
          if (source === "camera") want.contentHint = "motion";
          this.senders[source] = this.pub.addTransceiver(want, { direction: "sendonly", streams: [this.floorStream] }).sender;
          grow = true;
        } else if (sender.track !== want) {
          await sender.replaceTrack(want);
          grow = grow || Boolean(want);
        }
      }
      if (!allowed.includes("screen") && this.screenTx?.sender.track) {
        await this.screenTx.sender.replaceTrack(null);
        this.screenTx.direction = "inactive"; // said at the next offer, when the floor comes back
      }
      if (grow) await this.renegotiate();
    });
  }

  async renegotiate() {
    await this.pub.setLocalDescription(await this.pub.createOffer());
    await gathered(this.pub);
    const ack = await this.emit("media-renegotiate", { sdp: this.pub.localDescription.sdp, sources: this.sources() });
    if (!ack.ok) throw new MediaError(ack.error.message, ack.error.code);
    await this.pub.setRemoteDescription({ type: "answer", sdp: ack.sdp });
    await this.capBitrates();
  }

  /** A subscribe offer from the server: answer it, then tell the page which track is whose. */
  offered({ sdp, tracks }) {
    return this.subQ.run(async () => {
      if (this.closed) return;
      await this.sub.setRemoteDescription({ type: "offer", sdp });
      await this.sub.setLocalDescription(await this.sub.createAnswer());
      await gathered(this.sub);
      const ack = await this.emit("media-answer", { sdp: this.sub.localDescription.sdp });
      if (!ack.ok) console.warn("subscribe answer refused", ack.error);
      const byMid = new Map(this.sub.getTransceivers().map((t) => [t.mid, t]));
      this.remote = (tracks || [])
        .filter((t) => byMid.has(t.mid))
        .map((t) => ({ ...t, track: byMid.get(t.mid).receiver.track, receiver: byMid.get(t.mid).receiver }));
      this.onTracks(this.remote);
    });
  }

  /**
   * `media-tracks` (a defense's presenter switch): the same m-lines now carry other sources; nothing
   * to answer, only the labels change (which mid is whose camera), so the video keeps playing.
   */
  relabel({ tracks }) {
    return this.subQ.run(async () => {
      if (this.closed) return;
      const byMid = new Map(this.sub.getTransceivers().map((t) => [t.mid, t]));
      this.remote = (tracks || [])
        .filter((t) => byMid.has(t.mid))
        .map((t) => ({ ...t, track: byMid.get(t.mid).receiver.track, receiver: byMid.get(t.mid).receiver }));
      this.onTracks(this.remote);
    });
  }

  /** Audio level (0..1) per person from the subscribe connection, for the active-speaker highlight. */
  audioLevels() {
    const out = new Map();
    for (const t of this.remote) {
      if (t.kind !== "audio" || t.source !== "microphone") continue;
      const level = t.receiver.getSynchronizationSources?.()[0]?.audioLevel ?? 0;
      out.set(t.person_id, Math.max(out.get(t.person_id) || 0, level));
    }
    return out;
  }

  /** Figures about what we receive (inbound-rtp), per mid: the E2E test and the "connection" tooltip read them. */
  async inboundStats() {
    const out = {};
    const stats = await this.sub.getStats();
    stats.forEach((s) => {
      if (s.type === "inbound-rtp") {
        out[s.mid] = {
          kind: s.kind, packets: s.packetsReceived || 0, bytes: s.bytesReceived || 0,
          framesDecoded: s.framesDecoded, samples: s.totalSamplesReceived, audioLevel: s.audioLevel,
        };
      }
    });
    return out;
  }

  /**
   * Network quality from getStats (issue 13 §2): ``uplink`` from what the server reports back about
   * what we send (remote-inbound-rtp: fraction lost, round-trip time), ``people`` per person we
   * receive (loss since the last call, jitter). Levels: "good" | "fair" | "poor".
   */
  async networkQuality() {
    const level = (loss, rtt) => (loss > 0.08 || rtt > 0.6 ? "poor" : loss > 0.02 || rtt > 0.3 ? "fair" : "good");
    let upLoss = 0;
    let upRtt = 0;
    (await this.pub.getStats()).forEach((s) => {
      if (s.type !== "remote-inbound-rtp") return;
      upLoss = Math.max(upLoss, s.fractionLost || 0);
      upRtt = Math.max(upRtt, s.roundTripTime || 0);
    });
    const byMid = new Map(this.remote.map((r) => [r.mid, r.person_id]));
    const per = new Map();
    this.lastInbound = this.lastInbound || new Map();
    (await this.sub.getStats()).forEach((s) => {
      if (s.type !== "inbound-rtp" || !byMid.has(s.mid)) return;
      const before = this.lastInbound.get(s.mid) || { lost: 0, got: 0 };
      const lost = Math.max(0, (s.packetsLost || 0) - before.lost);
      const got = Math.max(0, (s.packetsReceived || 0) - before.got);
      this.lastInbound.set(s.mid, { lost: s.packetsLost || 0, got: s.packetsReceived || 0 });
      const pid = byMid.get(s.mid);
      const p = per.get(pid) || { lost: 0, got: 0, jitter: 0 };
      per.set(pid, { lost: p.lost + lost, got: p.got + got, jitter: Math.max(p.jitter, s.jitter || 0) });
    });
    const people = {};
    for (const [pid, p] of per) {
      const loss = p.lost + p.got ? p.lost / (p.lost + p.got) : 0;
      people[pid] = { loss, jitter: p.jitter, level: level(loss, p.jitter * 4) };
    }
    return { uplink: { loss: upLoss, rtt: upRtt, level: level(upLoss, upRtt) }, people };
  }

  /** The selected ICE candidate pair of each connection (addresses, consent traffic): for diagnosis. */
  async iceStats() {
    const out = {};
    for (const [name, pc] of [["publish", this.pub], ["subscribe", this.sub]]) {
      const stats = await pc.getStats();
      const pairs = [];
      stats.forEach((s) => {
        if (s.type !== "candidate-pair" || !s.nominated) return;
        const local = stats.get(s.localCandidateId);
        const remote = stats.get(s.remoteCandidateId);
        pairs.push({
          state: s.state, local: `${local?.address}:${local?.port}`, remote: `${remote?.address}:${remote?.port} ${remote?.candidateType}`,
          requestsReceived: s.requestsReceived, responsesSent: s.responsesSent, requestsSent: s.requestsSent,
          responsesReceived: s.responsesReceived, consentRequestsSent: s.consentRequestsSent,
        });
      });
      out[name] = { state: pc.connectionState, ice: pc.iceConnectionState, pairs };
    }
    return out;
  }

  /** Close both connections; local tracks stay open (their owner decides when to stop them). */
  close() {
    this.closed = true;
    this.pub.close();
    this.sub.close();
  }
}

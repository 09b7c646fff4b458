// The room page: join token -> device check -> lobby or room (video grid, chat, hands, host controls).
//
// Protocol: docs/signaling-protocol.md. Every control is a labelled button (keyboard first, §10);
// what happens is announced in the #status live region; chat is a role="log" region.
import { api, el, announce, errorText, when, whoAmI } from "/static/common.js";
import { pickLanguage, said, t, titleOf, useLanguage, word } from "/static/i18n.js";
import { io } from "/static/vendor/socket.io.esm.min.js";
import { ChatView } from "/static/room-chat.js";
import { MediaLink, deviceErrorText, levelMeter, listDevices, openLocal } from "/static/room-media.js";
import { watchRecording } from "/static/room-recording.js";
import { SittingView } from "/static/room-sitting.js";

const $ = (id) => document.getElementById(id);
const tr = t; // where a tile is called `t`
const sessionId = Number(location.pathname.split("/").filter(Boolean).pop());

// connect_error codes with the room's own words (room.connect.<code>); others: the error catalogue
const CONNECT_CODES = ["missing_token", "forged", "expired", "not_yet_valid", "revoked", "not_found", "session_ended", "unavailable"];

// why a person leaves: the server sends a code beside its English reason (signaling/protocol.py LEAVE_REASONS),
// worded as room.msg.<code>; a reason the host typed has no code and is shown as typed
const reasonText = (m) => (m.reason_code ? said("room", m.reason_code, m.reason_params, m.reason).text : m.reason);

const state = {
  join: null, // POST /join answer
  you: null,
  grant: null,
  socket: null,
  link: null, // MediaLink of the current connection
  local: null, // local MediaStream
  screen: null, // MediaStream of our screen share (kept across media restarts)
  members: new Map(),
  waiting: new Map(),
  presenter: null,
  tiles: new Map(), // key -> {node, video, label}
  audio: new Map(), // mid:trackId -> <audio>
  remote: [],
  speaking: null,
  layout: "grid", // grid | speaker
  quality: { uplink: "good", people: {} },
  wasInRoom: false,
  phase: "starting", // starting | check | connecting | lobby | room | ended | left | refused
  handRaised: false,
  camOn: true,
  micOn: true,
  final: false, // no reconnect after this (ended, removed, denied, left)
};

let chat = null;
const sitting = new SittingView({ // a defense sitting's floor, timer, written work, mics (room-sitting.js)
  you: () => state.you,
  grant: () => state.grant,
  nameOf: (id) => nameOf(id),
  emit: (event, payload) => emit(event, payload),
  floorChanged: (allowed, before) => followFloor(allowed, before),
  render: () => { if (sitting.active) state.presenter = sitting.room.floor; renderPeople(); renderTiles(); },
});
let stopMeter = () => {};
let localLevel = 0;

// --- messages to the person ---------------------------------------------------------------------

function setConn(stateName, text) {
  const c = $("conn");
  c.dataset.state = stateName;
  c.textContent = text;
}

function notice(text, actions = []) {
  const box = $("notice");
  $("notice-text").textContent = text;
  $("notice-actions").replaceChildren(...actions);
  box.hidden = !text;
}

function scheduleLink() {
  return el("a", { href: "/schedule" }, t("room.back"));
}

function retryButton(label = t("room.retry")) {
  return el("button", { type: "button", onclick: () => location.reload() }, label);
}

function show(phase) {
  state.phase = phase;
  $("check").hidden = phase !== "check";
  $("lobby").hidden = phase !== "lobby";
  $("room").hidden = phase !== "room";
  document.body.dataset.phase = phase;
}

function finish(phase, text) {
  state.final = true;
  show(phase);
  notice(text, [scheduleLink(), " ", retryButton(t(phase === "left" ? "room.rejoin" : "room.retry"))]);
  setConn(phase === "left" ? "idle" : "ended", t(phase === "left" ? "room.conn.left" : "room.conn.closed"));
  state.link?.close();
  state.link = null;
  state.socket?.disconnect();
  state.local?.getTracks().forEach((t) => t.stop());
  state.screen?.getTracks().forEach((t) => t.stop());
  state.screen = null;
  stopMeter();
  renderTiles();
  announce(text);
}

// --- 1. join token ------------------------------------------------------------------------------

async function fetchToken() {
  try {
    return await api("POST", `/api/sessions/${sessionId}/join`);
  } catch (e) {
    const own = ["not_participant", "session_ended", "not_found", "config"].includes(e.code);
    const text = own ? t(`room.join.${e.code}`) : t("room.join.failed", { why: errorText(e) });
    state.phase = "refused";
    document.body.dataset.phase = "refused";
    notice(text, [scheduleLink(), " ", retryButton()]);
    $("title").textContent = t("room.cannotjoin");
    return null;
  }
}

/** The person's profile zone (the join answer carries it): every time on this page is shown in it. */
function zone() {
  return state.join?.session?.timezone || state.me?.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Not open yet: say when it opens BEFORE any camera or microphone prompt, then go on by itself. */
async function untilOpen() {
  const opens = Date.parse(state.join.not_before);
  if (!(opens > Date.now())) return;
  show("waiting-open");
  setConn("idle", t("room.conn.waitopen"));
  notice(t("room.notopen", { when: when(state.join.not_before, zone()) }), [scheduleLink()]);
  while (Date.now() < opens) {
    await new Promise((r) => setTimeout(r, Math.min(opens - Date.now() + 500, 3600e3)));
  }
  notice("");
}

// --- 2. device check ----------------------------------------------------------------------------

function publishes(source) {
  return (state.grant?.publish || []).includes(source);
}

async function openDevices() {
  const cameraId = $("camera-select").value || undefined;
  const micId = $("mic-select").value || undefined;
  state.local?.getTracks().forEach((t) => t.stop());
  stopMeter();
  $("check-error").textContent = "";
  const stream = await openLocal({ cameraId, micId, video: publishes("camera"), audio: publishes("microphone") });
  state.local = stream;
  if (stream.errors?.length) $("check-error").textContent = deviceErrorText(stream.errors[stream.errors.length - 1]);
  $("preview").srcObject = stream.getVideoTracks().length ? stream : null;
  stopMeter = levelMeter(stream.getAudioTracks()[0], (level) => {
    localLevel = level;
    $("meter-bar").style.width = `${Math.round(level * 100)}%`;
    $("meter-text").textContent = t(level > 0.05 ? "room.meter.sound" : "room.meter.quiet");
  });
  await fillDeviceLists(stream);
}

async function fillDeviceLists(stream) {
  const { cameras, mics } = await listDevices();
  const fill = (select, devices, current, none) => {
    const options = devices.map((d, i) => el("option", { value: d.deviceId }, d.label || t(`room.${none}.n`, { n: i + 1 })));
    select.replaceChildren(...(options.length ? options : [el("option", { value: "" }, t(`room.${none}.none`))]));
    if (current) select.value = current;
  };
  fill($("camera-select"), cameras, stream.getVideoTracks()[0]?.getSettings().deviceId, "camera");
  fill($("mic-select"), mics, stream.getAudioTracks()[0]?.getSettings().deviceId, "microphone");
}

async function deviceCheck() {
  show("check");
  const who = state.join.grant;
  const can = [publishes("camera") && "camera", publishes("microphone") && "microphone", publishes("screen") && "screen"].filter(Boolean);
  const role = word("role", who.role);
  const what = can.map((c) => t(`room.source.${c}`)).join(", ");
  $("check-who").textContent = can.length
    ? t(who.chat ? "room.who.share.chat" : "room.who.share", { role, what })
    : t(who.chat ? "room.who.watch.chat" : "room.who.watch", { role });
  for (const id of ["camera-select", "mic-select", "start-camera", "start-mic"]) {
    $(id).closest("label").hidden = !publishes(id.includes("cam") ? "camera" : "microphone");
  }
  $("preview").closest(".preview").hidden = !can.includes("camera") && !can.includes("microphone");
  $("camera-select").addEventListener("change", () => openDevices());
  $("mic-select").addEventListener("change", () => openDevices());
  $("enter").addEventListener("click", () => {
    state.camOn = $("start-camera").checked;
    state.micOn = $("start-mic").checked;
    $("enter").disabled = true;
    connect();
  });
  $("enter").disabled = true; // until the devices are open (or known to be missing)
  if (can.includes("camera") || can.includes("microphone")) {
    try {
      await openDevices();
    } catch (e) {
      $("check-error").textContent = deviceErrorText(e);
    }
  }
  $("enter").disabled = false;
  $("enter").focus();
}

// --- 3. signaling -------------------------------------------------------------------------------

function emit(event, payload = {}) {
  return state.socket.timeout(20000).emitWithAck(event, payload).catch((e) => ({
    ok: false, error: { code: "timeout", message: t("error.timeout", { detail: `no answer from the server (${e.message})` }), event },
  }));
}

function connect() {
  show("connecting");
  setConn("connecting", t("room.conn.connecting"));
  const socket = io({
    path: state.join.socket_path || "/socket.io/",
    auth: { token: state.join.token },
    transports: ["websocket"],
    reconnectionDelay: 1000,
    reconnectionDelayMax: 5000,
  });
  state.socket = socket;
  watchRecording(socket, sessionId);
  sitting.listen(socket);

  socket.on("connect", () => {
    setConn("connecting", t("room.conn.entering"));
    notice("");
  });
  socket.on("connect_error", (err) => {
    const code = err?.data?.code;
    if (!code) {
      // transport failure: Socket.IO retries on its own
      setConn("reconnecting", t("room.conn.noconn"));
      notice(t("room.lost"));
      return;
    }
    const text = CONNECT_CODES.includes(code) ? t(`room.connect.${code}`) : errorText(err.data, err.message);
    if (code === "unavailable") {
      setConn("reconnecting", t("room.conn.retrying"));
      notice(text);
      setTimeout(() => socket.connect(), 3000);
    } else if (code === "not_yet_valid") {
      const at = new Date(state.join.not_before);
      notice(`${text} ${t("room.opens", { when: when(state.join.not_before, zone()) })}`);
      setConn("connecting", t("room.conn.waitopen"));
      setTimeout(() => socket.connect(), Math.max(2000, at - Date.now() + 1000));
    } else {
      finish("refused", text);
    }
  });
  socket.on("disconnect", (reason) => {
    dropMedia();
    if (state.final) return;
    if (reason === "io server disconnect") {
      finish("ended", t("room.closedbyserver"));
      return;
    }
    setConn("reconnecting", t("room.conn.lost"));
    notice(t("room.lost.back"));
    announce(t("room.lost.say"));
  });

  socket.on("lobby", (m) => {
    show("lobby");
    setConn("lobby", t("room.conn.lobby"));
    $("lobby-text").textContent = t(m.auto_admit ? "room.lobby.nohost" : "room.lobby.wait", { title: titleOf(state.join?.session) || m.session.title });
    $("lobby-preview").srcObject = state.local?.getVideoTracks().length ? state.local : null;
    announce(t("room.lobby.say"));
  });
  socket.on("welcome", (w) => enterRoom(w));
  const because = (key, m) => (m.reason ? t(`${key}.why`, { why: reasonText(m) }) : t(key));
  socket.on("denied", (m) => finish("ended", because("room.denied", m)));
  socket.on("removed", (m) => finish("ended", because("room.removed", m)));
  socket.on("session-ended", (m) => finish("ended", because("room.ended", m)));

  socket.on("member-joined", (m) => {
    state.members.set(m.person_id, m);
    renderPeople();
    if (m.person_id !== state.you?.person_id) announce(t("room.joined", { name: m.name }));
  });
  socket.on("member-left", ({ person_id }) => {
    const m = state.members.get(person_id);
    if (m) { m.online = false; announce(t("room.leftroom", { name: m.name })); }
    renderPeople();
  });
  socket.on("waiting", (w) => {
    state.waiting.set(w.person_id, w);
    renderWaiting();
    announce(t("room.waits", { name: w.name }));
  });
  socket.on("waiting-left", ({ person_id }) => {
    state.waiting.delete(person_id);
    renderWaiting();
  });
  socket.on("hand", ({ person_id, raised, by }) => {
    const m = state.members.get(person_id);
    if (m) m.hand_raised = raised;
    if (person_id === state.you?.person_id) {
      setHand(raised);
      if (by !== undefined && by !== person_id) announce(raised ? t("room.hand.mine.up") : t("room.hand.loweredby", { name: nameOf(by) }));
    } else if (m) announce(t(raised ? "room.hand.up" : "room.hand.down", { name: m.name }));
    renderPeople();
  });
  socket.on("mute-requested", ({ source, muted, everyone }) => {
    const name = t(`room.source.${["camera", "microphone", "screen"].includes(source) ? source : "microphone"}`);
    if (muted) {
      if (source === "microphone") setMic(false);
      else if (source === "camera") setCam(false);
      else if (source === "screen") stopScreen();
      notice(everyone ? t("room.muteall.notice") : t("room.muted.notice", { what: name }));
    } else {
      notice(t("room.unmute.notice", { what: name }));
    }
  });
  socket.on("presenter", ({ person_id }) => {
    const before = presenterAllowed();
    state.presenter = person_id;
    const now = presenterAllowed();
    const m = state.members.get(person_id);
    const mine = now.includes("screen") && !before.includes("screen");
    announce(mine ? t("room.presenter.you") : m ? t("room.presenter.now", { name: m.name }) : t("room.presenter.none"));
    if (!sitting.active && now.includes("screen") !== before.includes("screen")) followFloor(now, before);
    renderPeople();
    renderTiles();
  });
  socket.on("lobby-policy", ({ auto_admit }) => { $("auto-admit").checked = auto_admit; });
  socket.on("media-state", ({ person_id, microphone, camera }) => {
    const m = state.members.get(person_id);
    if (!m || person_id === state.you?.person_id) return;
    Object.assign(m, { microphone, camera });
    if (!microphone && state.speaking === person_id) state.speaking = null;
    renderPeople();
    renderTiles();
  });
  socket.on("chat", (m) => chat.add(m)); // the chat list is a live log region: no second announcement
  socket.on("chat-deleted", (d) => chat.deleted(d));
  socket.on("media-offer", (m) => {
    state.link?.offered(m).catch((e) => console.warn("subscribe offer failed", e));
  });
  socket.on("media-tracks", (m) => { // a presenter switch on the same m-lines: relabel, nothing to answer
    state.link?.relabel(m).catch((e) => console.warn("relabel failed", e));
  });
  socket.on("peer-left", ({ person_id, reason }) => {
    console.info(`peer-left ${person_id} ${reason}`);
    const m = state.members.get(person_id);
    if (m && reason === "failed") announce(t("room.dropped", { name: m.name }));
  });
  socket.on("media-lost", () => {
    announce(t("room.medialost"));
    restartMedia("media-lost");
  });
  socket.on("error", (e) => {
    if (e?.event === "chat") return; // shown next to the chat box from the ack
    $("status").textContent = e?.code || e?.message ? errorText(e) : t("room.refused");
  });
}

// --- 4. the room --------------------------------------------------------------------------------

function enterRoom(w) {
  const first = state.phase !== "room";
  state.you = w.you;
  state.grant = w.you.grant;
  state.presenter = w.room.presenter;
  state.members = new Map(w.members.map((m) => [m.person_id, m]));
  state.waiting = new Map(w.waiting.map((m) => [m.person_id, m]));
  const me = state.members.get(w.you.person_id);
  setHand(Boolean(me?.hand_raised));
  $("title").textContent = titleOf(state.join?.session) || w.session.title;
  document.title = `${$("title").textContent} — aulacast`;
  $("auto-admit").checked = w.room.auto_admit;
  $("waiting-box").hidden = !state.grant.moderate;
  $("end").hidden = !state.grant.moderate;
  $("mute-all").hidden = !state.grant.moderate;
  $("screen").hidden = !presenterAllowed().includes("screen");
  $("mic").hidden = !state.local?.getAudioTracks().length;
  $("cam").hidden = !state.local?.getVideoTracks().length;
  $("chat-form").hidden = !state.grant.chat;
  chat.reset(w.history);
  sitting.enter(w, state.join?.session);
  if (sitting.active) followFloor(sitting.allowed());
  show("room");
  setConn("connected", t("room.conn.connected"));
  notice("");
  renderPeople();
  renderWaiting();
  if (me) me.sent = false;
  sendMediaState();
  if (!state.link) startMedia();
  if (first) {
    announce(t(w.resumed && state.wasInRoom ? "room.back.in" : "room.in"));
    state.wasInRoom = true;
    $("controls").focus();
  }
}

function startMedia() {
  const link = new MediaLink({
    iceServers: state.join.ice_servers,
    emit,
    onTracks: (list) => { if (state.link === link) { state.remote = list; renderTiles(); } },
    onState: (which, s) => {
      if (state.link !== link) return;
      console.info(`${which} connection ${s}`);
      if (s === "connected" && $("status").dataset.media) { $("status").textContent = ""; delete $("status").dataset.media; }
      if (s === "failed") {
        $("status").textContent = t(`room.mediafailed.${which === "publish" ? "publish" : "subscribe"}`);
        $("status").dataset.media = "1";
        restartMedia(`${which} connection failed`);
      }
    },
  });
  state.link = link;
  const allowed = sitting.allowed(); // in a sitting: only what the floor lets me publish now
  const stream = new MediaStream((state.local?.getTracks() || []).filter((t) => t.readyState === "live"
    && allowed.includes(t.kind === "audio" ? "microphone" : "camera")));
  stream.getAudioTracks().forEach((t) => { t.enabled = state.micOn; });
  stream.getVideoTracks().forEach((t) => { t.enabled = state.camOn; });
  setMic(state.micOn);
  setCam(state.camOn);
  setScreen(Boolean(state.screen));
  renderTiles();
  const screen = allowed.includes("screen") ? state.screen?.getVideoTracks()[0] : null;
  link.publish(stream, screen?.readyState === "live" ? screen : null).catch((e) => {
    if (state.link !== link) return;
    $("status").textContent = t("room.av.failed", { why: errorText(e) });
    setTimeout(() => { if (state.link === link) restartMedia(`publish failed: ${e.message}`); }, 5000);
  });
}

function dropMedia() {
  state.link?.close();
  state.link = null;
  state.remote = [];
  renderTiles();
}

function restartMedia(why) {
  if (state.phase !== "room" || !state.socket?.connected) return;
  console.info(`restarting media: ${why}`);
  dropMedia();
  startMedia();
}

// --- tiles and audio ----------------------------------------------------------------------------

function nameOf(personId) {
  return state.members.get(personId)?.name || t("room.person", { id: personId });
}

function initials(name) {
  return name.replace(/\(.*\)$/, "").trim().split(/\s+/).slice(0, 2).map((w) => w[0] || "").join("").toUpperCase();
}

function tile(key, label, { mirror = false } = {}) {
  let t = state.tiles.get(key);
  if (!t) {
    const video = el("video", { autoplay: "", playsinline: "", class: mirror ? "mirror" : "" });
    video.muted = true; // sound plays through the <audio> elements
    const caption = el("span", { class: "caption" });
    const flags = el("span", { class: "flags" });
    const avatar = el("span", { class: "avatar", "aria-hidden": "true" });
    const node = el("figure", { class: "tile", "data-key": key }, video, avatar, el("figcaption", {}, caption, flags));
    t = { node, video, caption, flags, avatar, track: null };
    state.tiles.set(key, t);
    $("grid").append(node);
  }
  t.caption.textContent = label;
  t.avatar.textContent = initials(label);
  t.video.setAttribute("aria-label", label);
  return t;
}

/** The small marks on a tile: microphone off, camera off, network quality (text, not colour alone). */
function setFlags(tl, { microphone, camera, quality }) {
  const marks = [];
  if (microphone === false) marks.push(el("span", { class: "flag mic-off" }, t("room.flag.muted")));
  if (camera === false) marks.push(el("span", { class: "flag cam-off" }, t("room.flag.camoff")));
  if (quality && quality !== "good") marks.push(el("span", { class: `flag net-${quality}` }, t(`room.flag.net.${quality === "poor" ? "poor" : "fair"}`)));
  tl.flags.replaceChildren(...marks);
  tl.node.dataset.mic = microphone === false ? "off" : "on";
  tl.node.dataset.cam = camera === false ? "off" : "on";
}

function setVideo(t, track) {
  if (t.track === track) return;
  t.track = track;
  t.video.srcObject = track ? new MediaStream([track]) : null;
  t.node.classList.toggle("novideo", !track);
}

function renderTiles() {
  const want = new Set();
  const inRoom = state.phase === "room";
  if (inRoom && state.local && (state.local.getTracks().length)) {
    const t = tile("local", `${tr("room.you.tile", { name: state.you?.name || "" })}${sitting.localNote()}`, { mirror: true });
    setVideo(t, state.camOn ? state.local.getVideoTracks()[0] || null : null);
    t.node.dataset.person = String(state.you?.person_id);
    setFlags(t, { microphone: state.micOn && state.local.getAudioTracks().length > 0,
      camera: state.camOn && state.local.getVideoTracks().length > 0, quality: state.quality.uplink });
    want.add("local");
  }
  const screen = state.screen?.getVideoTracks()[0];
  if (inRoom && screen) {
    const t = tile("local:screen", tr("room.myscreen"));
    setVideo(t, screen);
    t.node.dataset.person = String(state.you?.person_id);
    t.node.classList.add("screen");
    want.add("local:screen");
  }
  const remote = inRoom ? state.remote : [];
  const people = new Map(); // person -> camera track (null: sound only)
  for (const r of remote) {
    if (r.source === "camera") people.set(r.person_id, r.track);
    else if (r.source === "microphone" && !people.has(r.person_id)) people.set(r.person_id, null);
    else if (r.source === "screen") {
      const key = `${r.person_id}:screen`;
      const t = tile(key, tr("room.screenof", { name: nameOf(r.person_id) }));
      setVideo(t, r.track);
      t.node.dataset.person = String(r.person_id);
      t.node.classList.add("screen");
      want.add(key);
    }
  }
  for (const [pid, track] of people) {
    const key = `${pid}:camera`;
    const t = tile(key, nameOf(pid));
    const m = state.members.get(pid);
    setVideo(t, m?.camera === false ? null : track);
    t.node.dataset.person = String(pid);
    setFlags(t, { microphone: m?.microphone, camera: m ? m.camera : Boolean(track), quality: state.quality.people[pid] });
    want.add(key);
  }
  for (const [key, t] of state.tiles) {
    if (!want.has(key)) { t.video.srcObject = null; t.node.remove(); state.tiles.delete(key); continue; }
    const pid = Number(t.node.dataset.person);
    t.node.classList.toggle("presenter", pid === state.presenter && !key.endsWith("screen"));
    t.node.classList.toggle("speaking", pid === state.speaking && !key.endsWith("screen"));
    const featured = state.presenter ?? state.speaking ?? [...state.members.values()].find((m) => m.moderator)?.person_id;
    t.node.classList.toggle("featured", pid === featured && !key.endsWith("screen") && key !== "local");
  }
  layoutGrid();
  // sound: one <audio> per remote audio track
  const audioWant = new Set();
  for (const r of remote) {
    if (r.kind !== "audio") continue;
    const key = `${r.mid}:${r.track.id}`;
    audioWant.add(key);
    if (!state.audio.has(key)) {
      const a = el("audio", { autoplay: "" });
      a.srcObject = new MediaStream([r.track]);
      a.dataset.person = String(r.person_id);
      $("audio").append(a);
      a.play().catch(() => {});
      state.audio.set(key, a);
    }
  }
  for (const [key, a] of state.audio) {
    if (!audioWant.has(key)) { a.srcObject = null; a.remove(); state.audio.delete(key); }
  }
}

/** Tiles fill the stage: columns and rows from the count and the space (not a fixed 256 px). */
function layoutGrid() {
  const grid = $("grid");
  const n = state.tiles.size;
  grid.dataset.count = String(n);
  const sharing = [...state.tiles.keys()].some((k) => k.endsWith("screen"));
  grid.classList.toggle("sharing", sharing);
  grid.classList.toggle("speaker-view", state.layout === "speaker" && !sharing);
  const cams = sharing || state.layout === "speaker" ? 1 : Math.max(1, n);
  const width = grid.clientWidth || window.innerWidth;
  const height = Math.max(240, window.innerHeight - grid.getBoundingClientRect().top - 90);
  let best = 1;
  let bestArea = 0;
  for (let cols = 1; cols <= cams; cols++) { // the column count giving the largest 4:3 tiles
    const rows = Math.ceil(cams / cols);
    const w = Math.min(width / cols, (height / rows) * 4 / 3);
    if (w * w > bestArea) { bestArea = w * w; best = cols; }
  }
  grid.style.setProperty("--cols", String(best));
  grid.style.setProperty("--tile-max", `${Math.floor(Math.sqrt(bestArea))}px`);
}
window.addEventListener("resize", () => layoutGrid());

// Network quality every 3 s (getStats); a suffering uplink lowers our own send bitrate, a good one restores it.
let poorChecks = 0;
let goodChecks = 0;
setInterval(async () => {
  if (state.phase !== "room" || !state.link) return;
  let q;
  try { q = await state.link.networkQuality(); } catch { return; }
  state.quality = { uplink: q.uplink.level, people: Object.fromEntries(Object.entries(q.people).map(([k, v]) => [k, v.level])) };
  poorChecks = q.uplink.level === "poor" ? poorChecks + 1 : 0;
  goodChecks = q.uplink.level === "good" ? goodChecks + 1 : 0;
  if (poorChecks >= 2 && !state.link.lowBandwidth) {
    await state.link.setLowBandwidth(true);
    announce(t("room.weak"));
  } else if (goodChecks >= 5 && state.link.lowBandwidth && !state.userLowBandwidth) {
    await state.link.setLowBandwidth(false);
    announce(t("room.recovered")); // the "weak" line would otherwise stay up after the camera is back
  }
  renderTiles();
}, 3000);

// Active speaker: the loudest person above a threshold, held for a moment so the highlight does not flicker.
let speakerSince = 0;
let lastVoice = 0;
setInterval(() => {
  if (state.phase !== "room" || !state.link) return;
  const levels = state.link.audioLevels();
  if (state.micOn && state.you && sitting.sends("microphone")) levels.set(state.you.person_id, localLevel * 0.5);
  let best = null;
  let bestLevel = 0.03;
  for (const [pid, level] of levels) {
    const m = state.members.get(pid);
    if (m && m.microphone === false && pid !== state.you?.person_id) continue; // muted: not speaking
    if (level > bestLevel) { best = pid; bestLevel = level; }
  }
  const now = Date.now();
  if (best !== null) lastVoice = now;
  const quiet = best === null && state.speaking !== null && now - lastVoice > 2000;
  if ((best !== null && best !== state.speaking && now - speakerSince > 1200) || quiet) {
    state.speaking = best;
    speakerSince = now;
    renderTiles();
    renderPeople();
  }
}, 400);

// --- participants, waiting room, host controls -------------------------------------------------

/** A button acting on one person: its accessible name is the visible label, then whom (WCAG 2.5.3). */
function hostButton(label, name, onclick) {
  return el("button", { type: "button", class: "small", "aria-label": `${label}: ${name}`, onclick }, label);
}

async function act(event, payload, done) {
  const ack = await emit(event, payload);
  $("status").textContent = ack.ok ? done : errorText(ack.error);
}

function renderPeople() {
  const list = $("people");
  const mod = state.grant?.moderate;
  const people = [...state.members.values()].sort((a, b) =>
    (b.online - a.online) || (b.moderator - a.moderator) || a.name.localeCompare(b.name));
  list.replaceChildren(...people.map((m) => {
    const me = m.person_id === state.you?.person_id;
    const bits = [word("role", m.role), m.moderator && m.role !== "host" ? t("room.bit.moderator") : null, m.online ? null : t("room.bit.left"),
      m.person_id === state.presenter ? t("room.bit.presenter") : null, m.person_id === state.speaking ? t("room.bit.speaking") : null,
      m.online && m.microphone === false ? t("room.flag.muted") : null, m.online && m.camera === false ? t("room.flag.camoff") : null].filter(Boolean);
    const li = el("li", { class: "person" + (m.online ? "" : " offline") + (m.hand_raised ? " hand" : ""), "data-person": String(m.person_id) },
      el("span", { class: "name" }, me ? t("room.you.tile", { name: m.name }) : m.name),
      el("span", { class: "when" }, ` ${bits.join(" · ")}`));
    if (m.hand_raised) li.append(" ", el("span", { class: "hand-flag" }, t("room.bit.hand")));
    if (mod && !me && m.online) {
      const tools = el("span", { class: "tools" });
      const name = { name: m.name };
      if (m.hand_raised) tools.append(hostButton(t("room.host.lower"), m.name, () => act("hand", { raised: false, person_id: m.person_id }, t("room.host.lowered", name))));
      tools.append(
        hostButton(t("room.host.mute"), m.name, () => act("mute-request", { person_id: m.person_id, source: "microphone", muted: true }, t("room.host.muteasked", name))),
        hostButton(t("room.host.stopcam"), m.name, () => act("mute-request", { person_id: m.person_id, source: "camera", muted: true }, t("room.host.camasked", name))),
        ...(sitting.ownsPresenter ? sitting.tools(m) : [m.person_id === state.presenter
          ? hostButton(t("room.host.unpresent"), m.name, () => act("presenter", { person_id: null }, t("room.host.unpresented")))
          : hostButton(t("room.host.present"), m.name, () => act("presenter", { person_id: m.person_id }, t("room.presenter.now", name)))]),
        hostButton(t("room.host.remove"), m.name, () => act("remove", { person_id: m.person_id, reason: "removed by the host" }, t("room.host.removed", name))),
      );
      li.append(tools);
    }
    return li;
  }));
  $("people-count").textContent = t("room.here", { n: people.filter((m) => m.online).length });
}

function renderWaiting() {
  const list = $("waiting");
  const items = [...state.waiting.values()].map((w) => el("li", { class: "person", "data-person": String(w.person_id) },
    el("span", { class: "name" }, w.name), el("span", { class: "when" }, ` ${word("role", w.role)}${w.removed_before ? ` · ${t("room.removedbefore")}` : ""}`),
    el("span", { class: "tools" },
      hostButton(t("room.host.admit"), w.name, () => act("admit", { person_id: w.person_id }, t("room.host.admitted", { name: w.name }))),
      hostButton(t("room.host.deny"), w.name, () => act("deny", { person_id: w.person_id, reason: "not admitted by the host" }, t("room.host.denied", { name: w.name }))))));
  list.replaceChildren(...(items.length ? items : [el("li", { class: "when" }, t("room.nobodywaiting"))]));
  $("waiting-title").textContent = state.waiting.size ? t("room.waitingroom.n", { n: state.waiting.size }) : t("room.waitingroom");
}

// --- own controls -------------------------------------------------------------------------------

/** A sitting's floor moved or a mic opened/closed: offer and send exactly what I may publish now. */
/**
 * What I may send now outside a sitting: my grant, and a screen while the host has made me
 * presenter (the server's own rule, signaling/grants.py `presenting`; it refuses anything else).
 */
function presenterAllowed() {
  const base = state.grant?.publish || [];
  const mine = state.presenter != null && state.presenter === state.you?.person_id;
  return mine && state.grant?.role === "participant" && !base.includes("screen") ? [...base, "screen"] : base;
}

/** The sitting's floor, or the presenter role outside one, changed what I may send: follow it. */
function followFloor(allowed, before = []) {
  const has = (kind) => (state.local?.getTracks() || []).some((t) => t.kind === kind && t.readyState === "live");
  $("mic").hidden = !(has("audio") && allowed.includes("microphone"));
  $("cam").hidden = !(has("video") && allowed.includes("camera"));
  $("screen").hidden = !allowed.includes("screen");
  if (state.screen && !allowed.includes("screen")) { // the floor moved on: the share ends here, no renegotiation
    state.screen.getTracks().forEach((t) => t.stop());
    state.screen = null;
    setScreen(false);
  }
  const opened = allowed.includes("microphone") && !before.includes("microphone");
  if (opened && !state.micOn && ["committee", "secretary"].includes(state.grant?.role)) setMic(true); // the chair's word
  if (!state.link) return;
  const track = (kind) => state.local?.getTracks().find((t) => t.kind === kind && t.readyState === "live") || null;
  state.link.setFloor({ camera: track("video"), microphone: track("audio") }, allowed).catch((e) => {
    $("status").textContent = t("room.av.follow", { why: errorText(e) });
  });
  sendMediaState();
  renderTiles();
}

/** A toggle keeps its label (the action) and says its state with aria-pressed (WCAG 2.5.3, 4.1.2). */
function toggle(button, pressed) {
  button.setAttribute("aria-pressed", String(pressed));
  if (button.id === "mic" || button.id === "cam") button.classList.toggle("off", pressed); // muted looks muted
}

/** Tell the room whether my microphone and camera are on (tiles and the list show it to everyone). */
function sendMediaState() {
  if (state.phase !== "room" || !state.socket?.connected) return;
  const me = state.members.get(state.you?.person_id);
  // in a sitting: what reaches the room now (not what waits on standby)
  const microphone = Boolean(state.micOn && state.local?.getAudioTracks().length && sitting.sends("microphone"));
  const camera = Boolean(state.camOn && state.local?.getVideoTracks().length && sitting.sends("camera"));
  if (me && me.microphone === microphone && me.camera === camera && me.sent) return;
  if (me) Object.assign(me, { microphone, camera, sent: true });
  emit("media-state", { microphone, camera });
}

function setMic(on) {
  state.micOn = on;
  state.link?.setEnabled("microphone", on);
  state.local?.getAudioTracks().forEach((t) => { t.enabled = on; });
  toggle($("mic"), !on);
  if (!on && state.speaking === state.you?.person_id) state.speaking = null; // muted is never "speaking"
  sendMediaState();
  renderPeople();
}

function setCam(on) {
  state.camOn = on;
  state.link?.setEnabled("camera", on);
  state.local?.getVideoTracks().forEach((t) => { t.enabled = on; });
  toggle($("cam"), !on);
  sendMediaState();
  renderTiles();
}

function setHand(raised) {
  state.handRaised = raised;
  toggle($("hand"), raised);
}

function setScreen(on) {
  toggle($("screen"), on);
}

async function stopScreen() {
  const stream = state.screen;
  if (!stream) return;
  state.screen = null;
  stream.getTracks().forEach((t) => t.stop());
  setScreen(false);
  renderTiles();
  announce(t("room.share.stopped"));
  try {
    await state.link?.unshareScreen();
  } catch (e) {
    $("status").textContent = t("room.share.stopfailed", { why: errorText(e) });
  }
}

async function startScreen() {
  let stream;
  try {
    stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
  } catch (e) {
    $("status").textContent = e.name === "NotAllowedError" ? t("room.share.cancelled") : t("room.share.failed", { why: errorText(e) });
    return;
  }
  const track = stream.getVideoTracks()[0];
  track.addEventListener("ended", () => stopScreen()); // the browser's own "Stop sharing" button
  state.screen = stream;
  setScreen(true);
  renderTiles();
  try {
    await state.link?.shareScreen(track);
    announce(t("room.share.on"));
  } catch (e) {
    $("status").textContent = t("room.share.failed", { why: errorText(e) });
    stopScreen();
  }
}

$("mic").addEventListener("click", () => { setMic(!state.micOn); announce(t(state.micOn ? "room.mic.on" : "room.mic.off")); });
$("cam").addEventListener("click", () => { setCam(!state.camOn); announce(t(state.camOn ? "room.cam.on" : "room.cam.off")); });
$("hand").addEventListener("click", async () => {
  const ack = await emit("hand", { raised: !state.handRaised });
  if (ack.ok) { setHand(ack.raised); announce(t(ack.raised ? "room.hand.mine.up" : "room.hand.mine.down")); }
  else $("status").textContent = errorText(ack.error);
});
$("screen").addEventListener("click", () => (state.screen ? stopScreen() : startScreen()));
$("leave").addEventListener("click", () => finish("left", t("room.youleft")));
$("layout").addEventListener("click", () => {
  state.layout = state.layout === "grid" ? "speaker" : "grid";
  $("layout").setAttribute("aria-pressed", String(state.layout === "speaker"));
  renderTiles();
});
$("mute-all").addEventListener("click", () => act("mute-all", {}, t("room.muteall.done")));
$("end").addEventListener("click", () => { $("end").hidden = true; $("end-confirm").hidden = false; $("end-no").focus(); });
$("end-no").addEventListener("click", () => { $("end-confirm").hidden = true; $("end").hidden = false; $("end").focus(); });
$("end-yes").addEventListener("click", async () => {
  $("end-confirm").hidden = true;
  const ack = await emit("end", { reason: "ended by the host" });
  if (!ack.ok) { $("status").textContent = errorText(ack.error); $("end").hidden = false; }
});
$("auto-admit").addEventListener("change", (ev) => act("lobby-policy", { auto_admit: ev.target.checked },
  t(ev.target.checked ? "room.auto.on" : "room.auto.off")));

// --- the page's test hook: what the E2E test asserts on ------------------------------------------

window.aulacastRoom = {
  get phase() { return state.phase; },
  /** Cut the transport as a network drop would (Socket.IO then reconnects by itself). */
  simulateNetworkDrop() { state.socket?.io.engine?.close(); },
  async snapshot() {
    const inbound = state.link ? await state.link.inboundStats() : {};
    const ice = state.link ? await state.link.iceStats() : {};
    return {
      phase: state.phase,
      conn: $("conn").dataset.state,
      you: state.you,
      members: [...state.members.values()],
      waiting: [...state.waiting.values()],
      chat: chat ? chat.snapshot() : [],
      speaking: state.speaking,
      ice,
      quality: state.quality,
      layout: state.layout,
      tiles: [...state.tiles.entries()].map(([key, t]) => ({
        mic: t.node.dataset.mic, cam: t.node.dataset.cam, flags: t.flags.textContent,
        box: (({ width, height }) => ({ width: Math.round(width), height: Math.round(height) }))(t.node.getBoundingClientRect()),
        key, person_id: Number(t.node.dataset.person), has_video: Boolean(t.track),
        frames: t.video.getVideoPlaybackQuality?.().totalVideoFrames ?? 0, width: t.video.videoWidth,
      })),
      sitting: sitting.active ? sitting.snapshot() : null,
      senders: state.link ? Object.fromEntries(Object.entries(state.link.senders).map(([k, v]) => [k, Boolean(v.track)])) : {},
      remote: state.remote.map((r) => ({
        mid: r.mid, person_id: r.person_id, source: r.source, kind: r.kind, ready: r.track.readyState,
        muted: r.track.muted, ...(inbound[r.mid] || {}),
      })),
    };
  },
};

// --- start --------------------------------------------------------------------------------------

(async () => {
  state.me = await whoAmI(); // signed out: to the sign-in page without a 401 in the console
  await useLanguage(pickLanguage(state.me.language), ["room", "sitting"]);
  chat = new ChatView({
    list: $("chat-log"), form: $("chat-form"), input: $("chat-input"), error: $("chat-error"),
    send: (body, clientId) => emit("chat", { body, client_id: clientId }),
    remove: (messageId, reason) => emit("chat-delete", { message_id: messageId, reason }),
    canModerate: () => Boolean(state.grant?.moderate),
    timezone: () => zone(),
  });
  if (!Number.isInteger(sessionId) || sessionId <= 0) {
    notice(t("room.notalink"), [scheduleLink()]);
    return;
  }
  setConn("connecting", t("room.conn.token"));
  const join = await fetchToken();
  if (!join) { setConn("ended", t("room.conn.notjoined")); return; }
  state.join = join;
  state.grant = join.grant;
  $("title").textContent = titleOf(join.session);
  document.title = `${titleOf(join.session)} — aulacast`;
  setConn("idle", t("room.conn.notyet"));
  await untilOpen();
  await deviceCheck();
})().catch((e) => notice(t("room.startfailed", { why: errorText(e) }), [retryButton()]));

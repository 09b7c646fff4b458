// Hand-in of a recorded presentation and the written work (§31) over tus 1.0: resumable, so a dropped
// connection or a closed tab continues where it stopped (the upload's URL is kept in localStorage).
// The presentation can also be recorded here (MediaRecorder, camera + microphone) and handed in the same way.
import { api, el, announce, errorText, num, when, whoAmI } from "/static/common.js";
import { has, pickLanguage, said, t, titleOf, useLanguage, word } from "/static/i18n.js";

const CHUNK = 8 * 1024 * 1024;
const TUS = { "Tus-Resumable": "1.0.0", "X-Requested-With": "aulacast" };
const form = document.getElementById("handin");
let defenses = [];
let me = null;

function b64(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

async function failure(res, url = null) {
  let error = null;
  try { error = (await res.json()).error; } catch { /* no JSON body */ }
  let text = errorText(error, res.statusText);
  if (error?.code === "refused_upload" && url) { // the upload keeps its refusal with a code: say it in the language
    try {
      const up = await api("GET", `/api/uploads/${url.split("/").pop()}`);
      if (up.status === "refused") text = uploadMessage(up);
    } catch { /* the server's sentence stays */ }
  }
  const err = new Error(text);
  err.status = res.status;
  return err;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function offsetOf(url) {
  const res = await fetch(url, { method: "HEAD", headers: TUS, credentials: "same-origin" });
  return res.ok ? Number(res.headers.get("Upload-Offset")) : null;
}

async function tusUpload(file, meta, progress) {
  const key = `aulacast:tus:${meta.session}:${meta.kind}:${file.name}:${file.size}:${file.lastModified}`;
  let url = localStorage.getItem(key);
  let offset = url ? await offsetOf(url) : null;
  if (offset === null) {
    const encoded = Object.entries(meta).map(([k, v]) => `${k} ${b64(String(v))}`).join(",");
    const res = await fetch("/api/uploads", { method: "POST", credentials: "same-origin",
      headers: { ...TUS, "Upload-Length": String(file.size), "Upload-Metadata": encoded } });
    if (res.status !== 201) throw await failure(res);
    url = res.headers.get("Location");
    localStorage.setItem(key, url);
    offset = 0;
  }
  let retries = 0;
  while (offset < file.size) {
    progress(offset / file.size);
    let res;
    try {
      res = await fetch(url, { method: "PATCH", credentials: "same-origin", body: file.slice(offset, offset + CHUNK),
        headers: { ...TUS, "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream" } });
    } catch {
      if (++retries > 20) throw new Error(t("archive.handin.dropping"));
      announce(t("archive.handin.resuming"));
      await sleep(Math.min(30000, 1000 * 2 ** retries));
      offset = (await offsetOf(url)) ?? offset;
      continue;
    }
    if (res.status !== 204) {
      if (res.status !== 409 && res.status !== 423) localStorage.removeItem(key);
      throw await failure(res, url);
    }
    retries = 0;
    offset = Number(res.headers.get("Upload-Offset"));
  }
  progress(1);
  localStorage.removeItem(key);
  return url.split("/").pop();
}

async function settle(id) {
  for (;;) {
    const up = await api("GET", `/api/uploads/${id}`);
    if (up.status !== "processing" && up.status !== "receiving") return up;
    announce(t("archive.handin.converting"));
    await sleep(1500);
  }
}

function showDone() {
  const list = document.getElementById("done");
  list.replaceChildren();
  for (const d of defenses) for (const u of d.uploads.filter((x) => x.status !== "cancelled")) {
    const what = t(u.kind === "presentation" ? "archive.handin.kind.presentation" : "archive.handin.kind.written_work");
    const item = el("li", { class: "card" }, t("archive.handin.item", { what, title: titleOf(d), file: u.filename, status: word("archive.upload", u.status) }));
    if (u.message) item.append(el("div", { class: u.status === "refused" ? "error" : "muted" }, uploadMessage(u)));
    if (u.asset_id) item.append(el("a", { href: `/archive/${u.asset_id}` }, t("archive.handin.open")));
    list.append(item);
  }
}

async function load() {
  const data = await api("GET", "/api/uploads");
  defenses = data.defenses;
  const select = form.session;
  select.replaceChildren(...defenses.map((d) => el("option", { value: String(d.session_id) },
    `${titleOf(d)} (${when(d.start, me.timezone, { zone: false })})`)));
  form.hidden = defenses.length === 0;
  rec.section.hidden = form.hidden || !window.MediaRecorder || !navigator.mediaDevices?.getUserMedia;
  if (!defenses.length) announce(t("archive.handin.nodefense"));
  showDone();
}

// Upload a file (chosen, or recorded below) for the selected defense; errors go to ``errorBox``.
async function handIn(file, kind, errorBox) {
  const bar = document.getElementById("progress");
  errorBox.textContent = "";
  bar.hidden = false;
  let ok = false;
  try {
    const id = await tusUpload(file, { session: form.session.value, kind, filename: file.name },
      (f) => { bar.value = f; announce(t("archive.handin.uploading", { pct: num(f, { style: "percent" }) })); });
    const up = await settle(id);
    ok = up.status === "archived";
    announce(ok ? t("archive.handin.ok") : uploadMessage(up));
    if (!ok) errorBox.textContent = uploadMessage(up);
  } catch (err) {
    errorBox.textContent = err.message;
    announce("");
  }
  await load();
  return ok;
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  await handIn(form.file.files[0], form.kind.value, document.getElementById("error"));
});

// --- recording in the browser (MediaRecorder): camera and microphone into a WebM, handed in like a file ---

const rec = {
  section: document.getElementById("recorder"), preview: document.getElementById("preview"),
  time: document.getElementById("rec-time"), state: document.getElementById("rec-state"),
  start: document.getElementById("rec-start"), stop: document.getElementById("rec-stop"),
  send: document.getElementById("rec-send"), error: document.getElementById("rec-error"),
  recorder: null, stream: null, chunks: [], file: null, began: 0, ticker: 0,
};
const RECORDING_TYPES = ["video/webm;codecs=vp8,opus", "video/webm;codecs=vp9,opus", "video/webm", "video/mp4"];

const clock = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;

function releaseCamera() {
  for (const t of rec.stream?.getTracks() ?? []) t.stop();
  rec.stream = null;
  clearInterval(rec.ticker);
}

async function startRecording() {
  rec.error.textContent = "";
  try {
    rec.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 }, audio: true });
  } catch (err) {
    rec.error.textContent = err.name === "NotAllowedError"
      ? t("archive.rec.denied")
      : t("archive.rec.nodevice", { why: err.message || err.name });
    return;
  }
  const type = RECORDING_TYPES.find((t) => MediaRecorder.isTypeSupported(t)) || "";
  rec.recorder = new MediaRecorder(rec.stream, type ? { mimeType: type } : {});
  rec.chunks = [];
  rec.file = null;
  rec.recorder.ondataavailable = (e) => { if (e.data.size) rec.chunks.push(e.data); };
  rec.recorder.onstop = () => {
    const seconds = (Date.now() - rec.began) / 1000;
    releaseCamera();
    const mime = rec.recorder.mimeType || "video/webm";
    const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
    rec.file = new File(rec.chunks, `presentation-${stamp}.${mime.includes("mp4") ? "mp4" : "webm"}`,
      { type: mime, lastModified: Date.now() });
    rec.preview.srcObject = null;
    rec.preview.src = URL.createObjectURL(rec.file);
    rec.preview.muted = false;
    rec.preview.controls = true;
    rec.state.textContent = t("archive.rec.recorded", { mb: num(rec.file.size / 1e6, { maximumFractionDigits: 1, minimumFractionDigits: 1 }) });
    rec.start.textContent = t("archive.rec.again");
    rec.start.disabled = false;
    rec.send.disabled = false;
    announce(t("archive.rec.done", { time: clock(seconds) }));
  };
  rec.preview.controls = false;
  rec.preview.muted = true;
  rec.preview.removeAttribute("src");
  rec.preview.srcObject = rec.stream;
  rec.preview.play().catch(() => {});
  rec.recorder.start(1000); // a piece every second: a long talk is never held in one buffer
  rec.began = Date.now();
  rec.time.textContent = "0:00";
  rec.ticker = setInterval(() => { rec.time.textContent = clock((Date.now() - rec.began) / 1000); }, 250);
  rec.state.textContent = t("archive.rec.recording");
  rec.start.disabled = true;
  rec.send.disabled = true;
  rec.stop.disabled = false;
  announce(t("archive.rec.say"));
}

rec.start.addEventListener("click", startRecording);
rec.stop.addEventListener("click", () => {
  rec.stop.disabled = true;
  if (rec.recorder?.state === "recording") rec.recorder.stop();
});
rec.send.addEventListener("click", async () => {
  if (!rec.file) return;
  rec.send.disabled = rec.start.disabled = true;
  const ok = await handIn(rec.file, "presentation", rec.error);
  rec.start.disabled = false;
  rec.send.disabled = ok; // a refused recording can be sent again after a fix on the server side, or re-recorded
  if (ok) rec.state.textContent = t("archive.rec.handedin");
});

/** An upload's stored note: its status said in the page's language; a refusal's reason by its code
 * (orchestrator/archive/presentations.py HANDIN_REFUSALS, media's intake refusals), else as the server wrote it. */
function uploadMessage(u) {
  if (u.status === "archived") return t("archive.handin.ok");
  if (u.status === "refused") return t("archive.handin.refused", { why: said("archive", u.message_code, u.message_params, u.message).text });
  return has(`archive.handin.note.${u.status}`) ? t(`archive.handin.note.${u.status}`) : u.message;
}

(async () => {
  me = await whoAmI();
  await useLanguage(pickLanguage(me.language), ["archive"]);
  await load();
  document.body.dataset.ready = "1";
})().catch((err) => announce(err.message));

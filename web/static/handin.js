// Hand-in of a recorded presentation and the written work (§31) over tus 1.0: resumable, so a dropped
// connection or a closed tab continues where it stopped (the upload's URL is kept in localStorage).
import { api, el, announce } from "/static/common.js";

const CHUNK = 8 * 1024 * 1024;
const TUS = { "Tus-Resumable": "1.0.0", "X-Requested-With": "aulacast" };
const form = document.getElementById("handin");
let defenses = [];

function b64(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

async function failure(res) {
  let message = res.statusText;
  try { message = (await res.json()).error.message; } catch { /* no JSON body */ }
  const err = new Error(message);
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
      if (++retries > 20) throw new Error("the connection keeps dropping; try again later — the upload will continue");
      announce("Connection lost; resuming…");
      await sleep(Math.min(30000, 1000 * 2 ** retries));
      offset = (await offsetOf(url)) ?? offset;
      continue;
    }
    if (res.status !== 204) {
      if (res.status !== 409 && res.status !== 423) localStorage.removeItem(key);
      throw await failure(res);
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
    announce("Received; converting and archiving…");
    await sleep(1500);
  }
}

function showDone() {
  const list = document.getElementById("done");
  list.replaceChildren();
  for (const d of defenses) for (const u of d.uploads.filter((x) => x.status !== "cancelled")) {
    const what = u.kind === "presentation" ? "Presentation" : "Written work";
    const item = el("li", { class: "card" }, `${what} for “${d.title}”: ${u.filename} — ${u.status}`);
    if (u.message) item.append(el("div", { class: u.status === "refused" ? "error" : "muted" }, u.message));
    if (u.asset_id) item.append(el("a", { href: `/archive/${u.asset_id}` }, "Open in the archive"));
    list.append(item);
  }
}

async function load() {
  const data = await api("GET", "/api/uploads");
  defenses = data.defenses;
  const select = form.session;
  select.replaceChildren(...defenses.map((d) => el("option", { value: String(d.session_id) },
    `${d.title} (${new Date(d.start).toLocaleDateString()})`)));
  form.hidden = defenses.length === 0;
  if (!defenses.length) announce("You have no defense to hand in for.");
  showDone();
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = form.file.files[0];
  const bar = document.getElementById("progress");
  document.getElementById("error").textContent = "";
  bar.hidden = false;
  try {
    const id = await tusUpload(file, { session: form.session.value, kind: form.kind.value, filename: file.name },
      (f) => { bar.value = f; announce(`Uploading… ${Math.round(f * 100)} %`); });
    const up = await settle(id);
    announce(up.status === "archived" ? "Handed in: your committee can see it." : up.message);
  } catch (err) {
    document.getElementById("error").textContent = err.message;
    announce("");
  }
  await load();
});

load().catch((err) => announce(err.message));

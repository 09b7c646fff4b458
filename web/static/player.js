// The archive player: HLS through hls.js (vendored), chapters, and the session's chat replayed in time.
import { api, el, announce, dayLabel, errorText, viewer } from "/static/common.js";
import { has, pickLanguage, t, useLanguage } from "/static/i18n.js";

const id = Number(location.pathname.split("/").filter(Boolean).pop());
const video = document.getElementById("video");
const chatList = document.getElementById("chat");
let cues = [];
let shown = 0; // cues[0..shown) are on screen
let hls = null;
let playback = null;

function clock(s) {
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(sec).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function replayChat() {
  const now = video.currentTime;
  if (shown > 0 && cues[shown - 1].start > now) { // sought backwards: start over
    chatList.replaceChildren();
    shown = 0;
  }
  let added = null;
  while (shown < cues.length && cues[shown].start <= now) {
    const c = cues[shown];
    added = el("li", { "data-start": String(c.start) },
      el("button", { type: "button", class: "link", "aria-label": t("archive.player.from", { at: clock(c.start) }), onclick: () => seek(c.start) }, clock(c.start)),
      " ", el("strong", {}, c.speaker || ""), " ", el("span", { class: "text" }, c.text));
    chatList.append(added);
    shown++;
  }
  document.getElementById("chat-empty").hidden = shown > 0;
  if (added) chatList.scrollTop = chatList.scrollHeight;
}

function seek(t) {
  video.currentTime = t;
  video.play().catch(() => {});
}

/** A record's language code ("kk", "ru-KZ") as a name in the page's language; an unknown code as it is. */
function languageName(code) {
  const base = String(code || "").slice(0, 2).toLowerCase();
  return has(`archive.lang.${base}`) ? t(`archive.lang.${base}`) : code;
}

function showRecord(item) {
  const dc = item.dublin_core;
  document.title = `${dc.title} — aulacast`;
  document.getElementById("title").textContent = dc.title;
  const date = /^\d{4}-\d{2}-\d{2}$/.test(dc.date || "") ? dayLabel(dc.date, { day: "numeric", month: "long", year: "numeric" }) : dc.date;
  const rows = [["creator", dc.creator], ["date", date], ["subject", dc.subject], ["language", languageName(dc.language)],
    ["description", dc.description], ["rights", dc.rights], ["duration", item.duration ? clock(item.duration) : ""]];
  const dl = document.getElementById("record");
  dl.replaceChildren();
  for (const [k, v] of rows) if (v) dl.append(el("dt", {}, t(`archive.record.${k}`)), el("dd", {}, v));
}

function showChapters(chapters) {
  const list = document.getElementById("chapters");
  list.replaceChildren();
  for (const c of chapters) {
    list.append(el("li", {}, el("button", { type: "button", class: "link", onclick: () => seek(c.start) }, `${clock(c.start)} ${c.title}`)));
  }
  document.getElementById("chapters-nav").hidden = chapters.length === 0;
}

function setupEdit(item) {
  const form = document.getElementById("edit");
  if (!item.may?.edit) return;
  form.hidden = false;
  form.title.value = item.dublin_core.title;
  form.description.value = item.dublin_core.description;
  form.language.value = item.dublin_core.language;
  form.rights.value = item.dublin_core.rights;
  form.visibility.value = item.visibility;
  if (item.kind === "presentation" || item.kind === "written_work") form.visibility.disabled = true;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { title: form.title.value, description: form.description.value, language: form.language.value, rights: form.rights.value };
    if (!form.visibility.disabled) body.visibility = form.visibility.value;
    try {
      const saved = await api("PATCH", `/api/archive/${id}`, body);
      showRecord(saved);
      document.getElementById("edit-error").textContent = "";
      announce(t("archive.edit.saved"));
    } catch (err) {
      document.getElementById("edit-error").textContent = errorText(err);
    }
  });
}

function load(url, at) {
  if (window.Hls && window.Hls.isSupported()) {
    if (!hls) {
      // No worker: the page's policy allows scripts from this origin only, not blob: workers.
      hls = new window.Hls({ enableWorker: false });
      hls.attachMedia(video);
      hls.on(window.Hls.Events.ERROR, async (_e, data) => {
        if (!data.fatal) return;
        const status = data.response?.code;
        if (data.type === window.Hls.ErrorTypes.NETWORK_ERROR && (status === 403 || status === 410)) {
          const at = video.currentTime; // the signed link expired: ask for a fresh one and go on
          playback = await api("GET", `/api/archive/${id}/playback`);
          load(playback.hls, at);
        } else {
          announce(t("archive.player.cannot", { why: data.details }));
        }
      });
    }
    hls.loadSource(url);
    if (at) hls.once(window.Hls.Events.MANIFEST_PARSED, () => { video.currentTime = at; });
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = url;
    if (at) video.currentTime = at;
  } else {
    announce(t("archive.player.nohls"));
  }
}

// A Media Fragments start time (#t=95 or #t=npt:95): a defense protocol links each turn's start so.
function startAt() {
  const m = /^#t=(?:npt:)?(\d+(?:\.\d+)?)/.exec(window.location.hash);
  return m ? Number(m[1]) : 0;
}

async function main() {
  await useLanguage(pickLanguage((await viewer())?.language), ["archive"]);
  try {
    const item = await api("GET", `/api/archive/${id}`);
    showRecord(item);
    setupEdit(item);
    playback = await api("GET", `/api/archive/${id}/playback`);
  } catch (err) {
    announce(errorText(err));
    document.body.dataset.ready = "1";
    return;
  }
  cues = (playback.chat || []).slice().sort((a, b) => a.start - b.start);
  showChapters(playback.chapters || []);
  if (playback.poster) video.poster = playback.poster;
  if (playback.download) {
    const a = document.getElementById("download");
    a.href = playback.download;
    if (playback.kind === "written_work") a.textContent = t("archive.player.download.pdf");
    a.hidden = false;
  }
  if (playback.hls) load(playback.hls, startAt());
  else {
    video.hidden = true;
    announce(t(playback.kind === "written_work" ? "archive.player.pdf" : "archive.player.novideo"));
  }
  video.addEventListener("timeupdate", replayChat);
  video.addEventListener("seeked", replayChat);
  document.body.dataset.ready = "1";
}

main();

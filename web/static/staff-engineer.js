// Channel (the broadcast engineer's page, issue 13 §3): a channel day as a timeline, its XMLTV / ffplayout /
// CSV downloads, playout status and the as-run log. Data: /api/tv/* (engineer and admin only; the same
// views are `aulacast tv day|status|as-run`). Times are the channel's (its zone is named on the page).
import { api, el, errorText, num } from "/static/common.js";
import { said, t, useLanguage } from "/static/i18n.js";
import { section, table } from "/static/staff-kit.js";

export const TITLE = "Channel";

const TYPES = ["programme", "repeat", "filler"];
const MARK = { programme: "▶", repeat: "↻", filler: "·" }; // a sign per type: the kinds differ by more than colour

/** "HH:MM" of an ISO time in the channel's zone. */
function hm(iso, tz) {
  return new Intl.DateTimeFormat("en-GB", { timeZone: tz, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(iso));
}

function hms(iso, tz) {
  return new Intl.DateTimeFormat("en-GB", { timeZone: tz, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }).format(new Date(iso));
}

/** A text in the page's language, else the channel's order, else any. */
function pick(text, langs) {
  const lang = document.documentElement.lang;
  for (const l of [lang, ...langs, "en", "ru", "kk"]) if (text?.[l]) return text[l];
  return Object.values(text || {})[0] || "";
}

function minutes(seconds) {
  const m = Math.round(seconds / 60);
  return m >= 60 ? t("engineer.hours", { h: num(Math.floor(m / 60)), m: num(m % 60) }) : t("engineer.minutes", { m: num(m) });
}

function itemTitle(it, langs) {
  const sub = pick(it.episode_title, langs);
  const main = pick(it.title, langs) || t(`engineer.kind.${it.kind}`);
  return sub ? `${main}: ${sub}` : main;
}

/** Programmes and repeats one block each; the fillers between them one block per run. */
function blocks(day) {
  const out = [];
  for (const it of day.items) {
    const last = out[out.length - 1];
    if (it.type === "filler" && last?.type === "filler") {
      last.items.push(it);
      last.end = it.end;
      last.duration += it.duration;
    } else {
      out.push({ type: it.type, start: it.start, end: it.end, offset: it.offset, duration: it.duration, items: [it] });
    }
  }
  return out;
}

function blockTitle(b, langs) {
  return b.type === "filler" ? t("engineer.fillers.run", { n: num(b.items.length) }) : itemTitle(b.items[0], langs);
}

function timeline(day, detail) {
  const tz = day.channel.timezone;
  const langs = day.channel.languages;
  const total = (new Date(day.end) - new Date(day.start)) / 1000;
  const list = el("ol", { class: "tl-blocks", "aria-label": t("engineer.timeline.label", { n: num(blocks(day).length) }) });
  const show = (b, button) => {
    list.querySelectorAll("button[aria-pressed]").forEach((x) => x.setAttribute("aria-pressed", "false"));
    button.setAttribute("aria-pressed", "true");
    detail.replaceChildren(
      el("h3", {}, `${t(`engineer.type.${b.type}`)}: ${blockTitle(b, langs)}`),
      el("p", {}, t("engineer.span", { start: hms(b.start, tz), end: hms(b.end, tz), length: minutes(b.duration) })),
      table([t("engineer.col.start"), t("engineer.col.length"), t("engineer.col.kind"), t("engineer.col.title")],
        b.items.map((it) => [hms(it.start, tz), minutes(it.duration), t(`engineer.kind.${it.kind}`), itemTitle(it, langs)])));
  };
  for (const b of blocks(day)) {
    const title = blockTitle(b, langs);
    const label = t("engineer.block", { type: t(`engineer.type.${b.type}`), title, start: hm(b.start, tz), end: hm(b.end, tz) });
    // the name starts with what the block shows (WCAG 2.5.3), then says the rest: type, full title, span
    const shown = b.type === "filler" ? [] : [el("span", { class: "tl-text" }, `${hm(b.start, tz)} `),
      el("span", { class: "tl-text" }, pick(b.items[0].title, langs))];
    const button = el("button", { type: "button", class: `tl-block tl-${b.type}`, title: label, "aria-pressed": "false" },
      el("span", { class: "tl-mark", "aria-hidden": "true" }, MARK[b.type]), ...shown,
      el("span", { class: "sr-only" }, `${shown.length ? " — " : ""}${label}`));
    button.addEventListener("click", () => show(b, button));
    const li = el("li", {}, button);
    li.style.left = `${(100 * b.offset) / total}%`; // CSSOM: allowed by the page's Content-Security-Policy
    li.style.width = `${(100 * b.duration) / total}%`;
    list.append(li);
  }
  // hour ticks along the axis (every 3 hours labelled)
  const axis = el("div", { class: "tl-axis", "aria-hidden": "true" });
  const first = new Date(day.start).getTime();
  for (let s = 0; s < total; s += 3600) {
    const tick = el("span", { class: "tl-tick" }, (s / 3600) % 3 === 0 ? hm(new Date(first + s * 1000).toISOString(), tz) : "");
    tick.style.left = `${(100 * s) / total}%`;
    axis.append(tick);
  }
  // where the day is now, when it is the day on air
  const at = (Date.now() - first) / 1000;
  if (at >= 0 && at < total) {
    const mark = el("span", { class: "tl-now" }, el("span", {}, t("engineer.nowmark", { time: hm(new Date().toISOString(), tz) })));
    mark.style.left = `${(100 * at) / total}%`;
    axis.append(mark);
  }
  const legend = el("ul", { class: "tl-legend", "aria-label": t("engineer.legend") },
    ...TYPES.map((k) => el("li", {}, el("span", { class: `tl-swatch tl-${k}`, "aria-hidden": "true" }, MARK[k]), t(`engineer.type.${k}`))));
  return el("div", { class: "timeline" }, legend, el("div", { class: "tl-track" }, list, axis));
}

function allItems(day) {
  const tz = day.channel.timezone;
  const langs = day.channel.languages;
  return el("details", { class: "tl-all" }, el("summary", {}, t("engineer.items", { n: num(day.items.length) })),
    table([t("engineer.col.start"), t("engineer.col.end"), t("engineer.col.length"), t("engineer.col.type"), t("engineer.col.kind"), t("engineer.col.title")],
      day.items.map((it) => [hms(it.start, tz), hms(it.end, tz), minutes(it.duration), `${MARK[it.type]} ${t(`engineer.type.${it.type}`)}`,
        t(`engineer.kind.${it.kind}`), itemTitle(it, langs)]), t("engineer.items.caption", { zone: tz })));
}

function playout(st, tz, langs) {
  const parts = [el("p", { class: st.running ? "ok" : "" }, `${t(st.running ? "engineer.playout.on" : "engineer.playout.off")} — ${t(`engineer.playout.state.${st.state}`)}`)];
  const rows = [];
  for (const which of ["current", "next"]) {
    const it = st[which];
    if (it) rows.push([t(`engineer.playout.${which}`), `${hm(it.start, tz)}–${hm(it.end, tz)}`, t(`engineer.kind.${it.kind}`), itemTitle(it, langs)]);
  }
  if (rows.length) parts.push(table([t("engineer.playout.what"), t("engineer.col.time"), t("engineer.col.kind"), t("engineer.col.title")], rows));
  if (st.updated_at) parts.push(el("p", { class: "muted" }, t("engineer.playout.updated", { at: hms(st.updated_at, tz), target: st.target || "—" })));
  return parts;
}

function asRun(data, tz) {
  if (!data.records.length) return [el("p", {}, t("engineer.asrun.none"))];
  return [table([t("engineer.col.start"), t("engineer.col.end"), t("engineer.col.status"), t("engineer.col.kind"), t("engineer.col.title"), t("engineer.col.note")],
    data.records.map((r) => [hms(r.start, tz), hms(r.end, tz), t(`engineer.asrun.status.${r.status}`), t(`engineer.kind.${r.kind}`), r.title, r.note]),
    t("engineer.asrun.caption", { n: num(data.records.length) }))];
}

/** The builder's notes (schedules/tv/fill.py WARNINGS) in the reader's language; a note the catalogue does not
 * know stays in English, marked lang="en". The programme a note names is worded here from its parts. */
function notes(day) {
  const list = day.notes?.length === day.warnings.length ? day.notes : day.warnings.map((text) => ({ code: "", params: {}, text }));
  return el("ul", { class: "tv-notes" }, ...list.map((n) => {
    const p = { ...n.params };
    if (p.title !== undefined && p.episode !== undefined) {
      p.programme = t(p.repeat ? "engineer.msg.programme.repeat" : "engineer.msg.programme", { title: p.title, episode: num(Number(p.episode)) });
    }
    if (p.seconds !== undefined) p.seconds = num(Number(p.seconds));
    const s = said("engineer", n.code, p, n.text);
    return el("li", s.lang ? { lang: s.lang } : {}, s.text);
  }));
}

function downloads(date) {
  const q = `?date=${encodeURIComponent(date)}`;
  const link = (href, key) => el("li", {}, el("a", { href: href + q, download: "" }, t(key)));
  return el("ul", { class: "downloads" }, link("/api/tv/day.xml", "engineer.download.xmltv"),
    link("/api/tv/day.ffplayout.json", "engineer.download.ffplayout"), link("/api/tv/day.csv", "engineer.download.csv"),
    link("/api/tv/as-run.csv", "engineer.download.asrun"));
}

function shift(date, days) {
  const d = new Date(`${date}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export async function render(page) {
  // this page's words (web/static/i18n/engineer/) beside the staff pages'
  await useLanguage(document.documentElement.lang, ["staff", "engineer"]);
  const params = new URLSearchParams(location.search);
  const picker = el("input", { type: "date", id: "tv-date" });
  const prev = el("button", { type: "button" }, t("engineer.prev"));
  const next = el("button", { type: "button" }, t("engineer.next"));
  const now = el("button", { type: "button" }, t("engineer.now"));
  const body = el("div", { id: "tv-body" });
  const toolbar = el("div", { class: "toolbar" }, el("label", { class: "inline", for: "tv-date" }, t("engineer.date")), picker, prev, next, now);

  const load = async (date) => {
    const q = date ? `?date=${encodeURIComponent(date)}` : "";
    let day;
    try {
      day = await api("GET", `/api/tv/day${q}`);
    } catch (e) {
      body.replaceChildren(el("p", { class: "error", role: "alert" }, errorText(e)));
      return;
    }
    picker.value = day.date;
    if (date) history.replaceState(null, "", `?date=${day.date}`);
    const tz = day.channel.timezone;
    const langs = day.channel.languages;
    const [st, aired] = await Promise.all([api("GET", "/api/tv/playout"), api("GET", `/api/tv/as-run?date=${day.date}`)]);
    const count = (k) => day.items.filter((i) => i.type === k).length;
    const fillerSeconds = day.items.filter((i) => i.type === "filler").reduce((a, i) => a + i.duration, 0);
    const detail = el("div", { class: "tl-detail", "aria-live": "polite" }, el("p", { class: "muted" }, t("engineer.detail.hint")));
    body.replaceChildren(
      el("p", { class: "lead" }, t("engineer.summary", { channel: pick(day.channel.display_names, langs) || day.channel.name, date: day.date,
        start: hm(day.start, tz), end: hm(day.end, tz), zone: tz, programmes: num(count("programme")), repeats: num(count("repeat")),
        fillers: minutes(fillerSeconds) })),
      section(t("engineer.timeline"), timeline(day, detail), detail, allItems(day),
        ...(day.warnings.length ? [el("h3", {}, t("engineer.warnings")), notes(day)] : [])),
      section(t("engineer.downloads"), downloads(day.date)),
      section(t("engineer.playout"), ...playout(st, tz, langs)),
      section(t("engineer.asrun"), ...asRun(aired, tz)),
    );
  };
  picker.addEventListener("change", () => picker.value && load(picker.value));
  prev.addEventListener("click", () => load(shift(picker.value, -1)));
  next.addEventListener("click", () => load(shift(picker.value, 1)));
  now.addEventListener("click", () => { history.replaceState(null, "", location.pathname); load(""); });
  page.replaceChildren(toolbar, body);
  await load(params.get("date") || "");
}

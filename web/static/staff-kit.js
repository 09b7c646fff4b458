// Shared parts of the staff pages: the page list per role, tables, sections, uploads.
import { el, errorText, num } from "/static/common.js";
import { has, t } from "/static/i18n.js";

export const PAGES = [
  { key: "schedule", path: "/schedule", title: "My schedule", roles: null, text: "Your sessions this week, in your time zone; one click to join." },
  { key: "tutor", path: "/staff/tutor", title: "Tutor desk", roles: ["tutor", "teacher"], text: "Your offerings, their gradebooks, a consultation on request (§19)." },
  { key: "registrar", path: "/staff/registrar", title: "Registrar desk", roles: ["registrar", "admin"], text: "Calendar, roster and curriculum uploads, the plan's dry run and apply, sessions, gradebooks." },
  { key: "admin", path: "/staff/admin", title: "Administration", roles: ["admin"], text: "People and roles, your tokens, the audit log and its chain." },
  { key: "operator", path: "/staff/operator", title: "Operations", roles: ["admin"], text: "Nodes, live rooms per media worker, worker load, Redis and database; /metrics." },
  { key: "engineer", path: "/staff/engineer", title: "Channel", roles: ["engineer", "admin"], text: "The channel's day as a timeline, XMLTV/ffplayout/CSV downloads, playout status and the as-run log." },
  { key: "handin", path: "/handin", title: "Hand in", roles: ["student"], text: "Hand in your presentation and written work for a defense (§31)." },
  { key: "archive", path: "/archive", title: "Archive", roles: null, text: "Recorded lectures and consultations you may watch." },
];

export function mine(me) {
  return PAGES.filter((p) => !p.roles || p.roles.some((r) => me.roles.includes(r)));
}

export function table(headers, rows, caption) {
  return el("table", { class: "data" },
    ...(caption ? [el("caption", {}, caption)] : []),
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c ?? ""))))));
}

export function section(title, ...children) {
  const id = `h-${title.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, "-")}`; // any script: kk/ru titles too
  return el("section", { class: "card staff", "aria-labelledby": id }, el("h2", { id }, title), ...children);
}

/** A file upload to a route taking the raw file as its body; the answer (or the refusal) goes to out. */
export function uploadForm(label, accept, send, out) {
  const input = el("input", { type: "file", accept });
  const dry = el("button", { type: "button" }, t("staff.upload.dry"));
  const go = el("button", { type: "button", class: "primary" }, t("staff.upload.import"));
  const run = async (dryRun) => {
    const file = input.files[0];
    if (!file) { out.replaceChildren(el("p", { class: "error" }, t("staff.upload.choose"))); return; }
    out.replaceChildren(el("p", { class: "when" }, t("staff.upload.working")));
    try {
      out.replaceChildren(...await send(await file.text(), file.name, dryRun));
    } catch (e) {
      // with a table of bad rows, the rows say what is wrong (each by its code); the lead line says it in the language
      out.replaceChildren(el("p", { class: "error", role: "alert" }, e.rows ? t("staff.upload.refused") : e.message), ...(e.rows || []));
    }
  };
  dry.addEventListener("click", () => run(true));
  go.addEventListener("click", () => run(false));
  return el("div", { class: "upload" }, el("label", {}, label, input), el("span", { class: "buttons" }, dry, go));
}

/** The words of a server-made sentence ({code, params, message}) in the page's language, or null when the
 * catalogue lacks its code or a code nested in its params (a param may be such a sentence, or a list of them). */
function saidText(item) {
  if (!item || typeof item !== "object" || !item.code || !has(`staff.msg.${item.code}`)) return null;
  const one = (v) => (v && typeof v === "object" ? saidText(v) : typeof v === "number" ? num(v, { useGrouping: false }) : String(v ?? ""));
  const vars = {};
  for (const [k, v] of Object.entries(item.params || {})) {
    const parts = (Array.isArray(v) ? v : [v]).map(one);
    if (parts.includes(null)) return null;
    vars[k] = parts.join("; ");
  }
  return t(`staff.msg.${item.code}`, vars);
}

/** A server-made sentence shown in the page's language: t("staff.msg.<code>", params) when the catalogue has
 * the code, else the server's English words (``message``, ``reason`` or ``english``) marked lang="en". */
export function said(item, english) {
  const text = saidText(item);
  if (text !== null) return el("span", { class: "said" }, text);
  return el("span", { class: "said", lang: "en" }, english ?? item?.message ?? item?.reason ?? (typeof item === "string" ? item : ""));
}

/** A raw body request (YAML, CSV) with the JSON answer; refusals carry their rows in e.rows. */
export async function sendRaw(method, path, contentType, body) {
  const res = await fetch(path, { method, body, credentials: "same-origin",
    headers: { "Content-Type": contentType, "X-Requested-With": "aulacast" } });
  const data = await res.json();
  if (!res.ok) {
    const err = new Error(errorText(data?.error, res.statusText));
    // each bad row with its code (said in the page's language); plain strings only from servers without codes
    const rows = data.problems || data.error?.problems || data.errors || data.error?.errors;
    if (Array.isArray(rows) && rows.length) {
      err.rows = [table([t("staff.rows.where"), t("staff.rows.problem")], rows.map((r) => typeof r === "string" ? ["", said(null, r)]
        : [String(r.line ?? r.row ?? r.where ?? ""), said(r, r.message ?? r.error ?? JSON.stringify(r))]), t("staff.rows.caption"))];
    }
    throw err;
  }
  return data;
}


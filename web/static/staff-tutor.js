// Tutor desk: my offerings with their gradebooks (results entered here are audited), a
// consultation on request (§19) for my students, and the recordings of my sessions in the archive.
import { api, dayLabel, el, instantIn, num } from "/static/common.js";
import { t, titleOf, word } from "/static/i18n.js";
import { section, table } from "/static/staff-kit.js";

export const TITLE = "Tutor desk";
const RECENT = 20;
const LONG = { day: "numeric", month: "long", year: "numeric" };

/** A control's attendance requirement as the gradebook shows it (docs/registrar.md), or "" when it has none. */
function attendanceNote(st) {
  const a = st && st.attendance;
  if (!a) return "";
  const text = t("staff.tutor.attendance", { attended: num(a.attended), held: num(a.held), min: num(a.min_percent) });
  return el("small", { class: a.met ? "attendance" : "attendance unmet" }, a.met ? text : `${text} — ${t("staff.tutor.failed")}`);
}

/** Every offering I may see, each a table: students × controls, each graded cell editable (POST /api/results). */
export async function gradebooks() {
  const { offerings } = await api("GET", "/api/me/offerings");
  if (!offerings.length) return el("p", {}, t("staff.tutor.nooffering"));
  return el("div", { class: "gradebooks" }, ...offerings.map((o) => {
    const out = el("p", { class: "when", "aria-live": "polite" });
    const rows = o.students.map((s) => [s.name, ...o.controls.map((c) => {
      const note = attendanceNote(s.standing?.[c.id]);
      if (c.graded === false) return el("div", {}, el("small", {}, t("staff.tutor.byattendance")), " ", note);
      const r = s.results[c.id];
      const input = el("input", { type: "number", min: "0", max: "100", inputmode: "numeric", value: r ? String(r.points) : "",
        "aria-label": `${c.name}: ${s.name}`, class: "points" });
      input.addEventListener("change", async () => {
        try {
          const d = await api("POST", "/api/results", { offering: o.code, student: s.username, activity: c.id, points: Number(input.value) });
          out.textContent = t("staff.tutor.recorded", { student: s.name, control: c.name, points: num(Number(input.value)), letter: d.letter,
            passed: t(d.passed ? "staff.tutor.passed" : "staff.tutor.failed") });
        } catch (e) { out.textContent = t("staff.notsaved", { why: e.message }); }
      });
      return note ? el("div", {}, input, " ", note) : input;
    })]);
    return el("div", { class: "gradebook" }, table([t("staff.tutor.student"), ...o.controls.map((c) => c.name)], rows,
      `${o.discipline} — ${o.code} (${o.group.code}, ${o.period})`), out);
  }));
}

function consultationForm(offerings, me) {
  const title = el("input", { required: "", maxlength: "300", value: word("kind", "consultation").replace(/^./, (c) => c.toUpperCase()) });
  const start = el("input", { type: "datetime-local", required: "" });
  const minutes = el("input", { type: "number", min: "5", max: "480", value: "45" });
  const group = el("select", {}, ...offerings.map((o) => el("option", { value: String(o.group.id) }, `${o.group.code} — ${o.discipline}`)));
  const out = el("p", { "aria-live": "polite" });
  const form = el("form", { class: "grid-form" },
    el("label", {}, t("staff.tutor.title"), title), el("label", {}, t("staff.tutor.starts", { tz: me.timezone }), start), el("label", {}, t("staff.tutor.minutes"), minutes),
    el("label", {}, t("staff.tutor.group"), group), el("button", { type: "submit", class: "primary" }, t("staff.tutor.create")), out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const iso = instantIn(start.value, me.timezone).toISOString(); // the profile's zone, not the browser's
      const s = await api("POST", "/api/sessions", { title: title.value, start: iso, minutes: Number(minutes.value), group_id: Number(group.value) });
      out.replaceChildren(t("staff.tutor.created"), " ", el("a", { href: `/join/${s.id}` }, titleOf(s)), ` (${word("status", s.status)}).`);
    } catch (e) { out.textContent = t("staff.tutor.notcreated", { why: e.message }); }
  });
  return form;
}

export async function render(page, me) {
  const { offerings } = await api("GET", "/api/me/offerings");
  page.replaceChildren(
    section(t("staff.tutor.offerings"), offerings.length ? table([t("staff.tutor.offering"), t("staff.tutor.discipline"), t("staff.tutor.group"),
      t("staff.tutor.period"), t("staff.tutor.technology"), t("staff.tutor.students")],
      offerings.map((o) => [o.code, o.discipline, o.group.code, o.period, o.technology, num(o.students.length)])) : el("p", {}, t("staff.tutor.none"))),
    section(t("staff.tutor.gradebook"), await gradebooks()),
    section(t("staff.tutor.consultation"), offerings.length ? consultationForm(offerings, me) : el("p", {}, t("staff.tutor.nogroup"))),
    section(t("staff.tutor.recordings"), await recordings(me),
      el("p", {}, t("staff.tutor.recordings.before"), el("a", { href: "/archive" }, t("staff.tutor.recordings.link")), t("staff.tutor.recordings.after"))),
  );
}

/** The newest recordings of my sessions (GET /api/archive?tutor=me: the archive's own access rule). */
async function recordings(me) {
  const { items } = await api("GET", `/api/archive?tutor=${encodeURIComponent(me.username)}&limit=${RECENT}`);
  if (!items.length) return el("p", {}, t("staff.tutor.recordings.none"));
  const minutes = (s) => (s ? t("staff.tutor.recordings.minutes", { n: num(Math.max(1, Math.round(s / 60))) }) : "—");
  return table([t("staff.tutor.recordings.title"), t("staff.tutor.recordings.date"), t("staff.tutor.recordings.length"), t("staff.tutor.recordings.state")],
    items.map((i) => [el("a", { href: i.page }, i.dublin_core.title),
      /^\d{4}-\d{2}-\d{2}$/.test(i.dublin_core.date || "") ? dayLabel(i.dublin_core.date, LONG) : i.dublin_core.date || "—",
      minutes(i.duration), t(i.playable ? "staff.tutor.recordings.ready" : "staff.tutor.recordings.preparing")]),
    t("staff.tutor.recordings.newest", { n: num(RECENT) }));
}

// Tutor desk: my offerings with their gradebooks (results entered here are audited), and a
// consultation on request (§19) for my students.
import { api, el } from "/static/common.js";
import { section, table } from "/static/staff-kit.js";

export const TITLE = "Tutor desk";

/** Every offering I may see, each a table: students × controls, each cell editable (POST /api/results). */
export async function gradebooks() {
  const { offerings } = await api("GET", "/api/me/offerings");
  if (!offerings.length) return el("p", {}, "You teach no offering in the current plan.");
  return el("div", { class: "gradebooks" }, ...offerings.map((o) => {
    const out = el("p", { class: "when", "aria-live": "polite" });
    const rows = o.students.map((s) => [s.name, ...o.controls.map((c) => {
      const r = s.results[c.id];
      const input = el("input", { type: "number", min: "0", max: "100", inputmode: "numeric", value: r ? String(r.points) : "",
        "aria-label": `${c.name}: ${s.name}`, class: "points" });
      input.addEventListener("change", async () => {
        try {
          const d = await api("POST", "/api/results", { offering: o.code, student: s.username, activity: c.id, points: Number(input.value) });
          out.textContent = `${s.name}, ${c.name}: ${input.value} points (${d.letter}, ${d.passed ? "passed" : "not passed"}); recorded in the audit log.`;
        } catch (e) { out.textContent = `Not saved: ${e.message}`; }
      });
      return input;
    })]);
    return el("div", { class: "gradebook" }, table(["Student", ...o.controls.map((c) => c.name)], rows,
      `${o.discipline} — ${o.code} (${o.group.code}, ${o.period})`), out);
  }));
}

function consultationForm(offerings) {
  const title = el("input", { required: "", maxlength: "300", value: "Consultation" });
  const start = el("input", { type: "datetime-local", required: "" });
  const minutes = el("input", { type: "number", min: "5", max: "480", value: "45" });
  const group = el("select", {}, ...offerings.map((o) => el("option", { value: String(o.group.id) }, `${o.group.code} — ${o.discipline}`)));
  const out = el("p", { "aria-live": "polite" });
  const form = el("form", { class: "grid-form" },
    el("label", {}, "Title", title), el("label", {}, "Starts (your time zone)", start), el("label", {}, "Minutes", minutes),
    el("label", {}, "Group", group), el("button", { type: "submit", class: "primary" }, "Create the consultation"), out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const offset = -new Date(start.value).getTimezoneOffset();
      const sign = offset >= 0 ? "+" : "-";
      const iso = `${start.value}:00${sign}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, "0")}:${String(Math.abs(offset) % 60).padStart(2, "0")}`;
      const s = await api("POST", "/api/sessions", { title: title.value, start: iso, minutes: Number(minutes.value), group_id: Number(group.value) });
      out.replaceChildren("Created: ", el("a", { href: `/join/${s.id}` }, s.title), ` (${s.status}).`);
    } catch (e) { out.textContent = `Not created: ${e.message}`; }
  });
  return form;
}

export async function render(page) {
  const { offerings } = await api("GET", "/api/me/offerings");
  page.replaceChildren(
    section("My offerings", offerings.length ? table(["Offering", "Discipline", "Group", "Period", "Technology", "Students"],
      offerings.map((o) => [o.code, o.discipline, o.group.code, o.period, o.technology, String(o.students.length)])) : el("p", {}, "None.")),
    section("Gradebook", await gradebooks()),
    section("Consultation on request (§19)", offerings.length ? consultationForm(offerings) : el("p", {}, "You teach no group yet.")),
    section("My recordings", el("p", {}, "Recordings of your sessions are in the ", el("a", { href: "/archive" }, "archive"), ".")),
  );
}

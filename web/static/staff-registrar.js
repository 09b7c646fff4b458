// Registrar desk: calendar, roster and curriculum uploads (dry run first), the plan's diff and apply,
// unplaced and §29 reports, sessions with filters, gradebooks.
import { api, el, when } from "/static/common.js";
import { section, sendRaw, table, uploadForm } from "/static/staff-kit.js";
import { gradebooks } from "/static/staff-tutor.js";

export const TITLE = "Registrar desk";

function calendarAnswer(data) {
  const d = data.description || {};
  const out = [el("p", {}, data.dry_run ? `Checked: "${data.name}" is valid; nothing was imported.` : `Imported "${data.name}" (calendar ${data.id}).`)];
  const periods = d.periods || d.teaching_weeks || [];
  if (Array.isArray(periods) && periods.length) {
    out.push(table(["Period", "From", "To", "Teaching weeks"], periods.map((p) => [p.name || p.id, p.start, p.end, String(p.teaching_weeks ?? p.weeks ?? "")]), "Teaching weeks per period"));
  }
  if (typeof d === "string") out.push(el("pre", {}, d));
  return out;
}

export function planAnswer(data) {
  const sign = [["+", "added", data.added], ["~", "moved", data.moved.map((m) => `${m.key}: ${m.from} → ${m.to}`)],
    ["*", "updated", data.updated], ["-", "cancelled", data.cancelled],
    ["!", "unplaced", data.unplaced.map((u) => `${u.key}: ${u.reason}`)]];
  const rows = sign.flatMap(([s, what, list]) => list.map((x) => [s, what, x]));
  return [
    el("p", { class: "plan-summary" }, data.summary || `${rows.length} change(s)`),
    rows.length ? table(["", "Change", "Session"], rows, data.dry_run ? "What applying the plan would do" : "What the plan did")
      : el("p", {}, `Nothing to change (${data.unchanged} session(s) stay as they are).`),
    ...(data.ineligible.length ? [table(["Student", "Offering", "Why not admitted (§29)"], data.ineligible.map((i) => [String(i.student), String(i.offering), i.reason]), "§29: not admitted")] : []),
  ];
}

async function sessions(me) {
  const box = el("div");
  const kind = el("select", { "aria-label": "Kind" }, ...["", "consultation", "defense", "lecture", "control"].map((k) => el("option", { value: k }, k || "every kind")));
  const status = el("select", { "aria-label": "Status" }, ...["", "planned", "open", "live", "closed", "cancelled"].map((k) => el("option", { value: k }, k || "every status")));
  const from = el("input", { type: "date", "aria-label": "From" });
  const load = async () => {
    const start = from.value ? new Date(`${from.value}T00:00:00Z`) : new Date(Date.now() - 86400e3);
    const to = new Date(start.getTime() + 14 * 86400e3);
    const data = await api("GET", `/api/sessions?from=${start.toISOString()}&to=${to.toISOString()}`);
    const rows = data.sessions.filter((s) => (!kind.value || s.kind === kind.value) && (!status.value || s.status === status.value));
    box.replaceChildren(table(["When", "Title", "Kind", "Status"], rows.slice(0, 300).map((s) => [when(s.start, me.timezone), s.title, s.kind, s.status]),
      `${rows.length} session(s) from ${start.toISOString().slice(0, 10)}, 14 days`));
  };
  for (const c of [kind, status, from]) c.addEventListener("change", load);
  await load();
  return section("Sessions", el("div", { class: "toolbar" }, kind, status, from), box);
}

export async function render(page, me) {
  const calOut = el("div", { "aria-live": "polite" });
  const rosterOut = el("div", { "aria-live": "polite" });
  const curOut = el("div", { "aria-live": "polite" });
  const planOut = el("div", { "aria-live": "polite" });
  const dryPlan = el("button", { type: "button", id: "plan-dry" }, "Show the plan's changes (dry run)");
  const applyPlan = el("button", { type: "button", class: "primary", id: "plan-apply" }, "Apply the plan");
  const plan = async (dry) => {
    planOut.replaceChildren(el("p", { class: "when" }, "Planning…"));
    try { planOut.replaceChildren(...planAnswer(await api("POST", `/api/plan${dry ? "?dry_run=1" : ""}`))); }
    catch (e) { planOut.replaceChildren(el("p", { class: "error", role: "alert" }, e.message)); }
  };
  dryPlan.addEventListener("click", () => plan(true));
  applyPlan.addEventListener("click", () => plan(false));
  page.replaceChildren(
    section("Academic calendar", uploadForm("Calendar YAML", ".yaml,.yml", async (text, name, dry) =>
      calendarAnswer(await sendRaw("POST", `/api/calendar?name=${encodeURIComponent(name)}${dry ? "&dry_run=1" : ""}`, "application/yaml", text)), calOut), calOut),
    section("Roster", uploadForm("Roster CSV", ".csv", async (text, _name, dry) => {
      const d = await sendRaw("POST", `/api/roster${dry ? "?dry_run=1" : ""}`, "text/csv", text);
      return [el("p", {}, d.dry_run ? `${d.rows} row(s) are valid; nothing was imported.` : `Imported: ${d.created} created, ${d.updated} updated, ${d.groups_created} group(s) created.`)];
    }, rosterOut), rosterOut),
    section("Curriculum", uploadForm("Curriculum YAML", ".yaml,.yml", async (text, name, dry) => {
      if (dry) return [el("p", {}, "The curriculum is checked as it is imported (all or nothing): import it, or fix what the refusal names.")];
      const d = await sendRaw("POST", `/api/curriculum?name=${encodeURIComponent(name)}`, "application/yaml", text);
      return [el("p", {}, `Imported: ${Object.entries(d).map(([k, v]) => `${k} ${v}`).join(", ")}.`)];
    }, curOut), curOut),
    section("Plan", el("p", {}, "+ added, ~ moved, * updated, - cancelled, ! unplaced. A dry run changes nothing."),
      el("div", { class: "toolbar" }, dryPlan, applyPlan), planOut),
    await sessions(me),
    section("Gradebooks", await gradebooks(me)),
  );
}

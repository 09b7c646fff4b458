// Registrar desk: calendar, roster and curriculum uploads (dry run first), the plan's diff and apply,
// unplaced and §29 reports, sessions with filters, gradebooks.
import { api, el, dayLabel, num, when } from "/static/common.js";
import { t, titleOf, word } from "/static/i18n.js";
import { said, section, sendRaw, table, uploadForm } from "/static/staff-kit.js";
import { gradebooks } from "/static/staff-tutor.js";

export const TITLE = "Registrar desk";

function calendarAnswer(data) {
  // the check's periods and notes come with codes (staff-kit said); the server's English description is for the CLI
  const out = [el("p", {}, data.dry_run ? t("staff.cal.checked", { name: data.name }) : t("staff.cal.imported", { name: data.name, id: data.id }))];
  const periods = data.periods || [];
  if (periods.length) {
    out.push(table([t("staff.cal.period"), t("staff.cal.from"), t("staff.cal.to"), t("staff.cal.weeks")],
      periods.map((p) => [p.name || p.id, p.start, p.end, num(p.teaching_weeks)]), t("staff.cal.caption")));
  }
  if ((data.notes || []).length) out.push(el("ul", { class: "cal-notes" }, ...data.notes.map((n) => el("li", {}, said(n)))));
  return out;
}

export function planAnswer(data, tz) {
  // the unplaced reasons and §29 reasons are the server's sentences by code (staff-kit said): in the page's language
  const sign = [["+", "added", data.added], ["~", "moved", data.moved.map((m) => `${m.key}: ${when(m.from, tz, { zone: false })} → ${when(m.to, tz, { zone: false })}`)],
    ["*", "updated", data.updated], ["-", "cancelled", data.cancelled],
    ["!", "unplaced", data.unplaced.map((u) => el("span", { class: "unplaced" }, `${u.key}: `, said(u)))]];
  const rows = sign.flatMap(([s, what, list]) => list.map((x) => [s, t(`staff.plan.${what}`), x]));
  const counts = sign.map(([, what, list]) => list.length ? `${t(`staff.plan.${what}`)}: ${num(list.length)}` : "").filter(Boolean);
  return [
    // the server's summary is English prose (for the API and CLI); the same figures are said here in the page's language
    el("p", { class: "plan-summary" }, counts.length ? counts.join(", ") : t("staff.plan.nochange.short")),
    rows.length ? table(["", t("staff.plan.change"), t("staff.plan.session")], rows, t(data.dry_run ? "staff.plan.would" : "staff.plan.did"))
      : el("p", {}, t("staff.plan.nochange", { n: num(data.unchanged) })),
    ...(data.ineligible.length ? [table([t("staff.plan.student"), t("staff.plan.offering"), t("staff.plan.why")],
      data.ineligible.map((i) => [String(i.student), String(i.offering), said(i)]), t("staff.plan.ineligible"))] : []),
  ];
}

async function sessions(me) {
  const box = el("div");
  const kind = el("select", { "aria-label": t("staff.sessions.kind") }, ...["", "consultation", "defense", "lecture", "control"].map((k) => el("option", { value: k }, k ? word("kind", k) : t("staff.sessions.anykind"))));
  const status = el("select", { "aria-label": t("staff.sessions.status") }, ...["", "planned", "open", "live", "closed", "cancelled"].map((k) => el("option", { value: k }, k ? word("status", k) : t("staff.sessions.anystatus"))));
  const from = el("input", { type: "date", "aria-label": t("staff.sessions.from") });
  const load = async () => {
    const start = from.value ? new Date(`${from.value}T00:00:00Z`) : new Date(Date.now() - 86400e3);
    const to = new Date(start.getTime() + 14 * 86400e3);
    const data = await api("GET", `/api/sessions?from=${start.toISOString()}&to=${to.toISOString()}`);
    const rows = data.sessions.filter((s) => (!kind.value || s.kind === kind.value) && (!status.value || s.status === status.value));
    box.replaceChildren(table([t("staff.sessions.when"), t("staff.sessions.title"), t("staff.sessions.kind"), t("staff.sessions.status")],
      rows.slice(0, 300).map((s) => [when(s.start, me.timezone), titleOf(s), word("kind", s.kind), word("status", s.status)]),
      t("staff.sessions.caption", { n: num(rows.length), from: dayLabel(start.toISOString().slice(0, 10), { day: "numeric", month: "long", year: "numeric" }) })));
  };
  for (const c of [kind, status, from]) c.addEventListener("change", load);
  await load();
  return section(t("staff.sessions"), el("div", { class: "toolbar" }, kind, status, from), box);
}

export async function render(page, me) {
  const calOut = el("div", { "aria-live": "polite" });
  const rosterOut = el("div", { "aria-live": "polite" });
  const curOut = el("div", { "aria-live": "polite" });
  const planOut = el("div", { "aria-live": "polite" });
  const dryPlan = el("button", { type: "button", id: "plan-dry" }, t("staff.plan.dry"));
  const applyPlan = el("button", { type: "button", class: "primary", id: "plan-apply" }, t("staff.plan.apply"));
  const plan = async (dry) => {
    planOut.replaceChildren(el("p", { class: "when" }, t("staff.plan.working")));
    // sendRaw: a refused plan's contradictions come as rows, each said by its code
    try { planOut.replaceChildren(...planAnswer(await sendRaw("POST", `/api/plan${dry ? "?dry_run=1" : ""}`, "application/json", ""), me.timezone)); }
    catch (e) { planOut.replaceChildren(el("p", { class: "error", role: "alert" }, e.rows ? t("staff.plan.refused") : e.message), ...(e.rows || [])); }
  };
  dryPlan.addEventListener("click", () => plan(true));
  applyPlan.addEventListener("click", () => plan(false));
  page.replaceChildren(
    section(t("staff.calendar"), uploadForm(t("staff.calendar.file"), ".yaml,.yml", async (text, name, dry) =>
      calendarAnswer(await sendRaw("POST", `/api/calendar?name=${encodeURIComponent(name)}${dry ? "&dry_run=1" : ""}`, "application/yaml", text)), calOut), calOut),
    section(t("staff.roster"), uploadForm(t("staff.roster.file"), ".csv", async (text, _name, dry) => {
      const d = await sendRaw("POST", `/api/roster${dry ? "?dry_run=1" : ""}`, "text/csv", text);
      return [el("p", {}, d.dry_run ? t("staff.roster.checked", { n: num(d.rows) })
        : t("staff.roster.imported", { created: num(d.created), updated: num(d.updated), groups: num(d.groups_created) }))];
    }, rosterOut), rosterOut),
    section(t("staff.curriculum"), uploadForm(t("staff.curriculum.file"), ".yaml,.yml", async (text, name, dry) => {
      if (dry) return [el("p", {}, t("staff.curriculum.nodry"))];
      const d = await sendRaw("POST", `/api/curriculum?name=${encodeURIComponent(name)}`, "application/yaml", text);
      return [el("p", {}, t("staff.curriculum.imported", { what: Object.entries(d).map(([k, v]) => `${word("staff.curriculum.count", k)}: ${num(v)}`).join(", ") }))];
    }, curOut), curOut),
    section(t("staff.plan"), el("p", {}, t("staff.plan.legend")),
      el("div", { class: "toolbar" }, dryPlan, applyPlan), planOut),
    await sessions(me),
    section(t("staff.gradebooks"), await gradebooks(me)),
  );
}

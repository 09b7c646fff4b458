// Administration: people and roles, my tokens, the audit log with its chain status.
import { api, el } from "/static/common.js";
import { section, table } from "/static/staff-kit.js";

export const TITLE = "Administration";

export async function render(page) {
  const [{ people }, { tokens }, log] = await Promise.all([api("GET", "/api/people"), api("GET", "/api/me/tokens"), api("GET", "/api/audit")]);
  const out = el("p", { "aria-live": "polite" });
  const rows = people.map((p) => {
    const roles = el("input", { value: (p.roles || []).join(", "), "aria-label": `Roles: ${p.display_name}`, class: "roles" });
    const save = el("button", { type: "button", class: "small", "aria-label": `Save roles: ${p.display_name}` }, "Save roles");
    save.addEventListener("click", async () => {
      try {
        await api("PUT", `/api/people/${p.id}/roles`, { roles: roles.value.split(",").map((r) => r.trim()).filter(Boolean) });
        out.textContent = `${p.display_name}: roles saved (audited).`;
      } catch (e) { out.textContent = `Not saved: ${e.message}`; }
    });
    return [p.username, p.display_name, el("span", { class: "inline-edit" }, roles, save)];
  });
  page.replaceChildren(
    section("People and roles", table(["Username", "Name", "Roles"], rows, `${people.length} people`), out),
    section("My tokens", table(["Kind", "Label", "Created", "Expires"], tokens.map((t) => [t.kind, t.label, t.created_at, t.expires_at]))),
    section("Audit log", el("p", { class: log.intact ? "ok" : "error", id: "chain" },
      log.intact ? "The audit chain is intact: no entry was changed or removed." : "The audit chain is BROKEN: an entry was changed or removed."),
    table(["#", "When", "Who", "Action", "Target"], log.entries.slice(0, 100).map((e) => [String(e.id), e.at, String(e.actor_id ?? "—"), e.action, e.target]), "Newest first (100)")),
  );
}

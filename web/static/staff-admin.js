// Administration: people and roles, my tokens, the audit log with its chain status.
import { api, el, errorText, num, when } from "/static/common.js";
import { t, word } from "/static/i18n.js";
import { said, section, table } from "/static/staff-kit.js";

export const TITLE = "Administration";

export async function render(page, me) {
  const [{ people }, { tokens }, log] = await Promise.all([api("GET", "/api/people"), api("GET", "/api/me/tokens"), api("GET", "/api/audit")]);
  const tz = me?.timezone;
  const at = (iso) => (iso ? when(iso, tz, { zone: false }) : "—");
  const out = el("p", { "aria-live": "polite" });
  const rows = people.map((p) => {
    // role names stay the system's (they are what is typed here), each with its word in the page's language
    const roles = el("input", { value: (p.roles || []).join(", "), "aria-label": t("staff.admin.roles.of", { name: p.display_name }), class: "roles",
      title: (p.roles || []).map((r) => `${r}: ${word("role", r)}`).join(", ") });
    const save = el("button", { type: "button", class: "small", "aria-label": t("staff.admin.save.of", { name: p.display_name }) }, t("staff.admin.save"));
    save.addEventListener("click", async () => {
      try {
        await api("PUT", `/api/people/${p.id}/roles`, { roles: roles.value.split(",").map((r) => r.trim()).filter(Boolean) });
        out.textContent = t("staff.admin.saved", { name: p.display_name });
      } catch (e) { out.textContent = t("staff.notsaved", { why: e.message }); }
    });
    return [p.username, p.display_name, el("span", { class: "inline-edit" }, roles, save)];
  });
  page.replaceChildren(
    section(t("staff.admin.people"), table([t("staff.admin.username"), t("staff.admin.name"), t("staff.admin.roles")], rows,
      t("staff.admin.count", { n: num(people.length) })), out),
    section(t("staff.admin.tokens"), tokenDesk(tokens, at)),
    section(t("staff.admin.audit"), el("p", { class: log.intact ? "ok" : "error", id: "chain" },
      log.chain ? said(log.chain) : t(log.intact ? "staff.admin.intact" : "staff.admin.broken")),
    table(["#", t("staff.admin.when"), t("staff.admin.who"), t("staff.admin.action"), t("staff.admin.target")],
      log.entries.slice(0, 100).map((e) => [String(e.id), at(e.at), String(e.actor_id ?? "—"), e.action, e.target]), t("staff.admin.newest", { n: num(100) }))),
  );
}

/**
 * My sign-ins and API tokens: a new token is shown once (the server keeps only its hash), any may be
 * revoked here — the same calls as the CLI's `aulacast tokens` (POST/DELETE /api/me/tokens).
 */
function tokenDesk(tokens, at) {
  const out = el("p", { "aria-live": "polite" });
  const shown = el("div", { class: "new-token", hidden: "" });
  const rows = tokens.map((k) => {
    const revoke = el("button", { type: "button", class: "small", "aria-label": t("staff.admin.revoke.of", { label: k.label || word("staff.token", k.kind) }) },
      t("staff.admin.revoke"));
    revoke.addEventListener("click", async () => {
      try {
        await api("DELETE", `/api/me/tokens/${k.id}`);
        revoke.closest("tr").remove();
        out.textContent = t("staff.admin.revoked", { label: k.label || word("staff.token", k.kind) });
      } catch (e) { out.textContent = errorText(e); }
    });
    return [word("staff.token", k.kind), k.label, at(k.created_at), at(k.expires_at), revoke];
  });
  const label = el("input", { name: "label", maxlength: "100", required: "" });
  const form = el("form", { class: "toolbar" },
    el("label", { class: "inline" }, t("staff.admin.token.label"), " ", label),
    el("button", { type: "submit" }, t("staff.admin.token.create")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const { token } = await api("POST", "/api/me/tokens", { label: label.value.trim() });
      const value = el("input", { readonly: "", value: token, size: "48", "aria-label": t("staff.admin.token.value") });
      shown.replaceChildren(el("p", {}, t("staff.admin.token.once")), value);
      shown.hidden = false;
      value.focus();
      value.select();
      label.value = "";
      out.textContent = t("staff.admin.token.made");
    } catch (e) { out.textContent = errorText(e); }
  });
  return el("div", {}, table([t("staff.admin.kind"), t("staff.admin.label"), t("staff.admin.created"), t("staff.admin.expires"), t("staff.admin.token.actions")], rows),
    form, shown, out);
}

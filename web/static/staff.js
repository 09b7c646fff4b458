// The portal's landing page and staff pages (issue 13 §3): one shell, one module per page.
//
// /home lists the pages of the person's roles, so nobody lands on an empty "My schedule";
// /staff/<page> loads the page's module. Every figure comes from the JSON API, which checks
// the role and the ownership (orchestrator/policy.py) again: hiding a link is not the security.
import { api, el, announce, whoAmI } from "/static/common.js";
import { mine } from "/static/staff-kit.js";
import { pickLanguage, t, useLanguage, word } from "/static/i18n.js";

async function main() {
  const me = await whoAmI();
  await useLanguage(pickLanguage(me.language), ["staff"]);
  document.getElementById("who").textContent = `${me.display_name} (${me.roles.map((r) => word("role", r)).join(", ")})`;
  document.getElementById("logout").addEventListener("click", async () => { await api("POST", "/api/auth/logout"); location.href = "/login"; });
  const nav = document.getElementById("nav");
  nav.replaceChildren(el("a", { href: "/home" }, t("shell.home")), ...mine(me).map((p) =>
    el("a", { href: p.path, ...(p.path === location.pathname ? { "aria-current": "page" } : {}) }, t(`page.${p.key}.title`))));
  const name = location.pathname.startsWith("/staff/") ? location.pathname.slice(7) : "home";
  const page = document.getElementById("page");
  const mod = await import(`/static/staff-${name}.js`);
  const title = t(name === "home" ? "home.title" : `page.${name}.title`);
  document.getElementById("page-title").textContent = title;
  document.title = `${title} — aulacast`;
  await mod.render(page, me);
  document.body.dataset.ready = "1";
}

main().catch((e) => announce(e.message));

// Home: the pages of your roles, and what is next for you.
import { api, el, when } from "/static/common.js";
import { mine } from "/static/staff-kit.js";
import { LANGUAGES, t } from "/static/i18n.js";

export const TITLE = "Home";

export async function render(page, me) {
  const cards = mine(me).map((p) => el("li", { class: "card" }, el("h2", {}, el("a", { href: p.path }, t(`page.${p.key}.title`))),
    el("p", {}, t(`page.${p.key}.text`))));
  const soon = await api("GET", "/api/me/schedule");
  const next = soon.sessions.filter((s) => ["planned", "open", "live"].includes(s.status))[0];
  page.replaceChildren(
    el("p", { class: "lead" }, next ? t("home.next", { title: next.title, when: when(next.start, me.timezone) }) : t("home.none")),
    el("ul", { class: "tiles", "aria-label": t("shell.nav") }, ...cards),
    languageChooser(me));
}

/** The profile's language (PUT /api/me/language); "as my browser" clears it. */
function languageChooser(me) {
  const names = { kk: "Қазақша", ru: "Русский", en: "English" };
  const select = el("select", { id: "language" }, el("option", { value: "" }, t("home.language.browser")),
    ...LANGUAGES.map((l) => el("option", { value: l, lang: l }, names[l])));
  select.value = me.language || "";
  select.addEventListener("change", async () => {
    await api("PUT", "/api/me/language", { language: select.value || null });
    location.reload();
  });
  return el("p", { class: "language" }, el("label", { class: "inline" }, t("home.language"), select));
}

// Home: the pages of your roles, and what is next for you.
import { api, el, when } from "/static/common.js";
import { mine } from "/static/staff-kit.js";

export const TITLE = "Home";

export async function render(page, me) {
  const cards = mine(me).map((p) => el("li", { class: "card" }, el("h2", {}, el("a", { href: p.path }, p.title)), el("p", {}, p.text)));
  const soon = await api("GET", "/api/me/schedule");
  const next = soon.sessions.filter((s) => ["planned", "open", "live"].includes(s.status))[0];
  page.replaceChildren(
    el("p", { class: "lead" }, next ? `Next: ${next.title}, ${when(next.start, me.timezone)}.` : "No session is planned for you in the next two weeks."),
    el("ul", { class: "tiles", "aria-label": "Your pages" }, ...cards));
}

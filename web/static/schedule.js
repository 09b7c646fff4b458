// "My schedule": a week of sessions in the viewer's own time zone (§10, §13), one click to join.
import { api, el, announce } from "/static/common.js";

let me = null;
let monday = startOfWeek(new Date());

function startOfWeek(d) {
  const day = new Date(d.getFullYear(), d.getMonth(), d.getDate());
  const shift = (day.getDay() + 6) % 7;
  day.setDate(day.getDate() - shift);
  return day;
}

function fmt(iso, tz, opts) {
  return new Intl.DateTimeFormat(undefined, { timeZone: tz, ...opts }).format(new Date(iso));
}

function localDay(iso, tz) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(iso));
}

async function render() {
  const tz = me.timezone;
  const end = new Date(monday);
  end.setDate(end.getDate() + 7);
  const data = await api("GET", `/api/me/schedule?from=${encodeURIComponent(monday.toISOString())}&to=${encodeURIComponent(end.toISOString())}`);
  document.getElementById("range").textContent = `${monday.toLocaleDateString()} – ${new Date(end - 1).toLocaleDateString()}`;
  document.getElementById("tz").textContent = `Times in ${tz}`;
  const week = document.getElementById("week");
  week.replaceChildren();
  const today = localDay(new Date().toISOString(), tz);
  for (let i = 0; i < 7; i++) {
    const d = new Date(monday);
    d.setDate(d.getDate() + i);
    const key = localDay(new Date(d.getTime() + 12 * 3600e3).toISOString(), tz);
    const items = data.sessions.filter((s) => localDay(s.start, tz) === key);
    const col = el("div", { class: "day" + (key === today ? " today" : ""), role: "region", "aria-label": key },
      el("h2", {}, fmt(d.toISOString(), tz, { weekday: "long", day: "numeric", month: "short" })));
    for (const s of items) {
      const when = `${fmt(s.start, tz, { hour: "2-digit", minute: "2-digit" })}–${fmt(s.end, tz, { hour: "2-digit", minute: "2-digit" })}`;
      const joinable = s.status === "open" || s.status === "live";
      const card = el(joinable ? "a" : "div", { class: `session ${s.status}`, ...(joinable ? { href: `/join/${s.id}` } : {}) },
        el("span", { class: "when" }, `${when} · ${s.kind} · ${s.status}`), el("br"), s.title);
      if (joinable) card.setAttribute("aria-label", `Join ${s.title}, ${when}, ${s.status}`);
      col.append(card);
    }
    if (!items.length) col.append(el("p", { class: "when" }, "—"));
    week.append(col);
  }
  announce(`${data.sessions.length} session(s) this week`);
}

document.getElementById("prev").addEventListener("click", () => { monday.setDate(monday.getDate() - 7); render(); });
document.getElementById("next").addEventListener("click", () => { monday.setDate(monday.getDate() + 7); render(); });
document.getElementById("today").addEventListener("click", () => { monday = startOfWeek(new Date()); render(); });
document.getElementById("logout").addEventListener("click", async () => { await api("POST", "/api/auth/logout"); location.href = "/login"; });
document.getElementById("feed").addEventListener("click", async () => {
  const { feed_url } = await api("POST", "/api/me/feed-token");
  const box = document.getElementById("feedurl");
  box.hidden = false;
  box.textContent = `Subscribe to this URL in your calendar app (it replaces any earlier one): ${feed_url}`;
});

(async () => {
  me = (await api("GET", "/api/me")).person;
  document.getElementById("who").textContent = `${me.display_name} (${me.roles.join(", ")})`;
  await render();
  setInterval(render, 60000);
})().catch((e) => announce(e.message));

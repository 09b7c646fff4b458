// "My schedule": a week of sessions in the viewer's PROFILE time zone (§10, §13), one click to join.
//
// The week, its days and every time come from the profile's zone, never the browser's: a New York
// student on a UTC laptop sees Monday to Sunday as New York has them (issue 13 §1.2).
import { pickLanguage, t, titleOf, useLanguage, word } from "/static/i18n.js";
import { api, el, announce, whoAmI, addDays, clock, dayKey, dayLabel, mondayOf } from "/static/common.js";

let me = null;
let monday = null; // "YYYY-MM-DD", the Monday of the shown week in the profile's zone

async function render() {
  const tz = me.timezone;
  const days = [...Array(7).keys()].map((i) => addDays(monday, i));
  // one day of margin either side covers every zone's offset; the days are then cut in the profile's zone
  const from = `${addDays(monday, -1)}T00:00:00Z`;
  const to = `${addDays(monday, 8)}T00:00:00Z`;
  const data = await api("GET", `/api/me/schedule?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
  const short = { day: "numeric", month: "short", year: "numeric" };
  document.getElementById("range").textContent = `${dayLabel(days[0], short)} – ${dayLabel(days[6], short)}`;
  document.getElementById("tz").textContent = t("schedule.tz", { tz });
  const week = document.getElementById("week");
  week.replaceChildren();
  const today = dayKey(Date.now(), tz);
  let shown = 0;
  for (const key of days) {
    const items = data.sessions.filter((s) => dayKey(s.start, tz) === key);
    shown += items.length;
    const col = el("div", { class: "day" + (key === today ? " today" : ""), role: "region", "aria-label": dayLabel(key), "data-day": key },
      el("h2", {}, dayLabel(key, { weekday: "long", day: "numeric", month: "short" })));
    for (const s of items) {
      const span = `${clock(s.start, tz)}–${clock(s.end, tz)}`;
      const joinable = s.status === "open" || s.status === "live";
      const card = el(joinable ? "a" : "div", { class: `session ${s.status}`, "data-session": String(s.id), ...(joinable ? { href: `/join/${s.id}` } : {}) },
        el("span", { class: "when" }, `${span} · ${word("kind", s.kind)} · ${word("status", s.status)}`), el("br"), titleOf(s));
      col.append(card);
    }
    if (!items.length) col.append(el("p", { class: "when" }, "—"));
    week.append(col);
  }
  announce(t("schedule.count", { n: shown }));
}

function go(key) {
  monday = mondayOf(key);
  const url = new URL(location.href);
  url.searchParams.set("week", monday);
  history.replaceState(null, "", url);
  return render();
}

document.getElementById("prev").addEventListener("click", () => go(addDays(monday, -7)));
document.getElementById("next").addEventListener("click", () => go(addDays(monday, 7)));
document.getElementById("today").addEventListener("click", () => go(dayKey(Date.now(), me.timezone)));
document.getElementById("logout").addEventListener("click", async () => { await api("POST", "/api/auth/logout"); location.href = "/login"; });
document.getElementById("feed").addEventListener("click", async () => {
  const { feed_url } = await api("POST", "/api/me/feed-token");
  const box = document.getElementById("feedurl");
  box.hidden = false;
  box.textContent = t("schedule.feed.text", { url: feed_url });
});

(async () => {
  me = await whoAmI();
  await useLanguage(pickLanguage(me.language));
  document.getElementById("who").textContent = `${me.display_name} (${me.roles.map((r) => word("role", r)).join(", ")})`;
  const asked = new URLSearchParams(location.search).get("week");
  await go(/^\d{4}-\d{2}-\d{2}$/.test(asked || "") ? asked : dayKey(Date.now(), me.timezone));
  document.body.dataset.ready = "1";
  setInterval(render, 60000);
})().catch((e) => announce(e.message));

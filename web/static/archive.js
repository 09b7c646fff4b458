// The archive: full-text search over titles, descriptions and chat, filtered; only what you may see.
import { api, el, announce } from "/static/common.js";

const form = document.getElementById("search");

async function run() {
  const params = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (String(v).trim()) params.set(k, String(v).trim());
  history.replaceState(null, "", params.toString() ? `?${params}` : location.pathname);
  try {
    const data = await api("GET", `/api/archive?${params}`);
    const list = document.getElementById("results");
    list.replaceChildren();
    for (const item of data.items) {
      const dc = item.dublin_core;
      list.append(el("li", { class: "card" },
        el("a", { href: item.page }, dc.title), " ",
        el("span", { class: "muted" }, [dc.date, dc.subject, dc.creator, item.kind].filter(Boolean).join(" · "))));
    }
    announce(data.count ? `${data.count} recording(s)` : "Nothing found.");
  } catch (err) {
    announce(err.message);
  }
}

for (const [k, v] of new URLSearchParams(location.search)) if (form.elements[k]) form.elements[k].value = v;
form.addEventListener("submit", (ev) => { ev.preventDefault(); run(); });
run();

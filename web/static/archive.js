// The archive: full-text search over titles, descriptions and chat, filtered; only what you may see.
import { api, el, announce, dayLabel, errorText, num, viewer } from "/static/common.js";
import { pickLanguage, t, useLanguage, word } from "/static/i18n.js";

const form = document.getElementById("search");
const LONG = { day: "numeric", month: "long", year: "numeric" };

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
      const date = /^\d{4}-\d{2}-\d{2}$/.test(dc.date || "") ? dayLabel(dc.date, LONG) : dc.date;
      list.append(el("li", { class: "card" },
        el("a", { href: item.page }, dc.title), " ",
        el("span", { class: "muted" }, [date, dc.subject, dc.creator, item.kind && word("kind", item.kind)].filter(Boolean).join(" · "))));
    }
    announce(data.count ? t("archive.count", { n: num(data.count) }) : t("archive.none"));
  } catch (err) {
    announce(errorText(err));
  }
}

for (const [k, v] of new URLSearchParams(location.search)) if (form.elements[k]) form.elements[k].value = v;
form.addEventListener("submit", (ev) => { ev.preventDefault(); run(); });
(async () => {
  await useLanguage(pickLanguage((await viewer())?.language), ["archive"]);
  await run();
  document.body.dataset.ready = "1";
})();

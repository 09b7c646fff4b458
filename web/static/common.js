// Shared helpers for aulacast pages: JSON API calls with the session cookie and the CSRF header.
import { has, t } from "/static/i18n.js";
export async function api(method, path, body) {
  const opts = { method, headers: { "X-Requested-With": "aulacast" }, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  if (res.status === 401 && !location.pathname.startsWith("/login")) {
    location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    throw new Error("sign in first");
  }
  const data = res.headers.get("Content-Type")?.includes("json") ? await res.json() : await res.text();
  if (!res.ok) {
    const err = new Error(errorText(data?.error, res.statusText));
    err.code = data?.error?.code;
    err.detail = data?.error?.message; // the server's own (English) words, for logs and tests
    throw err;
  }
  return data;
}

/** The signed-in person, or a trip to the sign-in page (asked without a 401 in the console). */
export async function whoAmI() {
  const { person } = await api("GET", "/api/auth/state");
  if (!person) {
    location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    throw new Error("sign in first");
  }
  return person;
}

/**
 * A refusal from the server ({code, message}) in the person's language: the catalogue's
 * error.<code>, which may quote the server's detail as {detail} (a row number, a field name);
 * the server's English words only when the code is unknown to the catalogues.
 */
export function errorText(error, fallback = "") {
  const detail = error?.message || fallback;
  const key = `error.${error?.code}`;
  if (error?.code && has(key)) return t(key, { detail });
  return detail;
}

/** The signed-in person or null (pages anyone may open, like the archive): no trip to sign in. */
export async function viewer() {
  try {
    return (await api("GET", "/api/auth/state")).person || null;
  } catch {
    return null;
  }
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

export function announce(text) {
  const live = document.getElementById("status");
  if (live) live.textContent = text;
}

// --- times: every time a person sees is in their profile's zone, never the browser's ----------------
// (issue 13 §1.2: a New York student on a UTC laptop lost sessions and saw wrong "opens at" times)

export function locale() {
  const lang = document.documentElement.lang || "en";
  return lang === "en" ? "en-GB" : lang; // en-GB: "Monday 14 December", 24-hour clock
}

/** "YYYY-MM-DD" of an instant in a zone. */
export function dayKey(instant, tz) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" })
    .format(new Date(instant));
}

/** The calendar day key n days after key (pure date arithmetic, no zone involved). */
export function addDays(key, n) {
  const [y, m, d] = key.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

/** The Monday of the week holding day key. */
export function mondayOf(key) {
  const [y, m, d] = key.split("-").map(Number);
  const weekday = new Date(Date.UTC(y, m - 1, d)).getUTCDay();
  return addDays(key, -((weekday + 6) % 7));
}

const known = {};
/**
 * Whether this browser's Intl has the language's data. Debian's Chromium claims Kazakh but has no
 * names for it ("M12 2, Wed", "2026 M11 30"), so the test is a month's name, not supportedLocalesOf.
 */
function native(kind, loc) {
  if (known[kind + loc] === undefined) {
    const january = new Intl.DateTimeFormat(loc, { month: "long", timeZone: "UTC" }).format(new Date(Date.UTC(2020, 0, 15)));
    known[kind + loc] = Intl[kind].supportedLocalesOf([loc]).length > 0 && !/^M?\d+$/.test(january)
      && (loc.startsWith("en") || january !== "January");
  }
  return known[kind + loc];
}

/** A day key shown as a date ("Monday 14 December"); opts override the parts. */
export function dayLabel(key, opts = { weekday: "long", day: "numeric", month: "long" }) {
  const [y, m, d] = key.split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, d, 12));
  if (native("DateTimeFormat", locale())) return new Intl.DateTimeFormat(locale(), { timeZone: "UTC", ...opts }).format(date);
  // no Intl data for the language: its catalogue's month and weekday names, in its order (date.* keys)
  const month = opts.month ? t(`date.month.${opts.month === "long" ? "" : "short."}${m}`) : "";
  const weekday = opts.weekday ? t(`date.weekday.${opts.weekday === "long" ? "" : "short."}${date.getUTCDay()}`) : "";
  const day = t(opts.year ? "date.ymd" : "date.dm", { year: y, day: d, month });
  return weekday ? t("date.withweekday", { date: day, weekday }) : day;
}

/** "10:00" in the zone. */
export function clock(instant, tz) {
  return new Intl.DateTimeFormat(locale(), { timeZone: tz, hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
    .format(new Date(instant));
}

/** "10:00" today, else "Monday 14 December, 10:00"; with zone: "… (Asia/Almaty)". */
export function when(instant, tz, { zone = true } = {}) {
  const key = dayKey(instant, tz);
  const date = key === dayKey(Date.now(), tz) ? "" : `${dayLabel(key)}, `;
  return `${date}${clock(instant, tz)}${zone ? ` (${tz})` : ""}`;
}

/** A number as the person's language writes it (grouping, decimal sign; Kazakh writes them as Russian does). */
export function num(n, opts = {}) {
  const loc = native("NumberFormat", locale()) ? locale() : locale() === "kk" ? "ru" : "en-GB";
  return new Intl.NumberFormat(loc, opts).format(n);
}

/** The instant a wall-clock time ("YYYY-MM-DDTHH:MM", as <input type=datetime-local> gives it) names in a zone. */
export function instantIn(local, tz) {
  const [d, hm] = local.split("T");
  const [y, mo, da] = d.split("-").map(Number);
  const [h, mi] = hm.split(":").map(Number);
  const wall = Date.UTC(y, mo - 1, da, h, mi);
  const offset = (at) => { // the zone's offset from UTC at an instant, in ms
    const p = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", year: "numeric", month: "numeric",
      day: "numeric", hour: "numeric", minute: "numeric" }).formatToParts(new Date(at)).map((x) => [x.type, Number(x.value)]));
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute) - at;
  };
  let at = wall - offset(wall);
  at = wall - offset(at); // once more: the offset at the instant itself (a DST change between the two)
  return new Date(at);
}

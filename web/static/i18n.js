// Message catalogues (issue 13 §4): kk, ru, en — /static/i18n/{lang}.json holds what every page
// shares (shell, sign-in, words); each area of the portal (room, staff, archive, …) has its own
// folder /static/i18n/{area}/{lang}.json, so pages load only their words and areas edit apart.
//
// The language is the profile's (PUT /api/me/language), else the browser's first of kk/ru/en,
// else English. A key missing from the catalogue shows as ⟦key⟧: visible, so the test that renders
// every page in every language finds it (a silent English fallback would hide it).
export const LANGUAGES = ["kk", "ru", "en"];
let catalogue = {};

export function pickLanguage(profile) {
  if (LANGUAGES.includes(profile)) return profile;
  for (const l of navigator.languages || [navigator.language]) {
    const two = String(l || "").slice(0, 2).toLowerCase();
    if (LANGUAGES.includes(two)) return two;
  }
  return "en";
}

export async function useLanguage(lang, areas = []) {
  // "errors" (error.<code>: the server's refusals, common.js errorText) goes with every page
  const urls = [`/static/i18n/${lang}.json`, ...["errors", ...areas].map((a) => `/static/i18n/${a}/${lang}.json`)];
  const parts = await Promise.all(urls.map(async (u) => (await fetch(u, { credentials: "same-origin" })).json()));
  catalogue = Object.assign({}, ...parts);
  document.documentElement.lang = lang;
  translate(document);
  return lang;
}

export function t(key, vars = {}) {
  const text = catalogue[key];
  if (text === undefined) return `⟦${key}⟧`;
  return text.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

export function has(key) {
  return catalogue[key] !== undefined;
}

/** A session's title in the page's language: the API's `titles` (orchestrator/session_titles.py), else its `title`. */
export function titleOf(session) {
  return session?.titles?.[document.documentElement.lang] || session?.title || "";
}

/** A data value shown as a word (a session's kind or status): translated when the catalogue knows it. */
export function word(group, value) {
  return catalogue[`${group}.${value}`] ?? value;
}

/** Fill data-i18n (text), data-i18n-label (aria-label), data-i18n-placeholder, data-i18n-tip (title
 * attribute), data-i18n-doc (document title) under root. */
export function translate(root) {
  root.querySelectorAll("[data-i18n]").forEach((e) => { e.textContent = t(e.dataset.i18n); });
  root.querySelectorAll("[data-i18n-label]").forEach((e) => e.setAttribute("aria-label", t(e.dataset.i18nLabel)));
  root.querySelectorAll("[data-i18n-placeholder]").forEach((e) => e.setAttribute("placeholder", t(e.dataset.i18nPlaceholder)));
  root.querySelectorAll("[data-i18n-tip]").forEach((e) => e.setAttribute("title", t(e.dataset.i18nTip)));
  const title = document.querySelector("title[data-i18n-doc]");
  if (title) document.title = t(title.dataset.i18nDoc);
}

/** A sentence the server made (fileio/message.py: a stable code, the values it quotes, its English text):
 * in the reader's language when the area's catalogue words the code (<area>.msg.<code>), else the English
 * text, which the caller marks lang="en". Returns { text, lang } (lang: null, or "en" for the fallback). */
export function said(area, code, params, text) {
  const key = `${area}.msg.${code}`;
  return code && has(key) ? { text: t(key, params || {}), lang: null } : { text: text || "", lang: "en" };
}

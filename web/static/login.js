import { api } from "/static/common.js";
import { pickLanguage, useLanguage } from "/static/i18n.js";

useLanguage(pickLanguage(null)).then(() => { document.body.dataset.ready = "1"; });

/** Where to go after signing in: a page of this site only. The check resolves `next` the way the
 * browser will (backslashes, tabs, "//host"), so only the same origin passes; anything else: /home. */
function afterSignIn(next) {
  if (!next) return "/home";
  try {
    const url = new URL(next, location.origin);
    if (url.origin === location.origin) return url.href;
  } catch {
    /* not a URL at all */
  }
  return "/home";
}

const form = document.getElementById("login");
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const data = new FormData(form);
  const error = document.getElementById("error");
  error.textContent = "";
  try {
    await api("POST", "/api/auth/login", { username: data.get("username"), password: data.get("password") });
    location.href = afterSignIn(new URLSearchParams(location.search).get("next"));
  } catch (e) {
    error.textContent = e.message;
  }
});

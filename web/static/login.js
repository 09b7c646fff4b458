import { api } from "/static/common.js";

const form = document.getElementById("login");
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const data = new FormData(form);
  const error = document.getElementById("error");
  error.textContent = "";
  try {
    await api("POST", "/api/auth/login", { username: data.get("username"), password: data.get("password") });
    const next = new URLSearchParams(location.search).get("next");
    location.href = next && next.startsWith("/") && !next.startsWith("//") ? next : "/home";
  } catch (e) {
    error.textContent = e.message;
  }
});

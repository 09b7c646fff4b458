// The recording indicator of the room page: a "● Recording" badge in the header, shown to everyone
// while the session is recorded, and for a consultation's host a button to turn recording on/off.
//
// Self-contained: room.js calls watchRecording(socket, sessionId) once the socket exists. State comes
// from GET /api/sessions/{id}/recording on (re)connect and the "recording" socket event afterwards.
import { api, el, announce, errorText } from "/static/common.js";
import { said, t } from "/static/i18n.js";

export function watchRecording(socket, sessionId) {
  const header = document.querySelector("header");
  document.getElementById("rec")?.remove(); // a new socket (reconnect) gets a fresh indicator
  document.getElementById("rec-toggle")?.remove();
  const badge = el("span", { id: "rec", class: "rec", role: "status", "aria-live": "polite", hidden: "" },
    t("room.rec.badge"));
  const toggle = el("button", { id: "rec-toggle", type: "button", class: "rec-toggle", hidden: "" }, t("room.rec.start"));
  header?.insertBefore(badge, header.querySelector("#conn")?.nextSibling ?? null);
  header?.insertBefore(toggle, badge.nextSibling);
  let on = false;
  let canToggle = false;

  /** r: the "recording" event; why it stopped (orchestrator/recordings.py RECORDING_REASONS) by its code. */
  function render(next, r = {}) {
    const reason = r.reason ? said("room", r.reason_code, r.reason_params, r.reason).text : "";
    const changed = next !== on;
    on = next;
    badge.hidden = !on;
    badge.title = on ? t("room.rec.title") : "";
    toggle.hidden = !canToggle;
    toggle.textContent = t(on ? "room.rec.stop" : "room.rec.start");
    toggle.setAttribute("aria-pressed", String(on));
    if (changed) announce(on ? t("room.rec.started") : reason ? t("room.rec.stopped.why", { why: reason }) : t("room.rec.stopped"));
  }

  async function refresh() {
    try {
      const s = await api("GET", `/api/sessions/${sessionId}/recording`);
      canToggle = Boolean(s.can_toggle);
      render(Boolean(s.on));
    } catch { /* the room works without the indicator; the next event updates it */ }
  }

  toggle.addEventListener("click", async () => {
    toggle.disabled = true;
    try {
      await api("POST", `/api/sessions/${sessionId}/recording`, { on: !on });
    } catch (e) {
      announce(t("room.rec.failed", { why: errorText(e) }));
    } finally {
      toggle.disabled = false;
    }
  });
  socket.on("connect", refresh);
  socket.on("recording", (r) => render(Boolean(r.on), r));
  return { refresh, get on() { return on; } };
}

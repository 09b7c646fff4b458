// Operations: nodes, live rooms per media worker, worker load, Redis and database state (/api/ops/status).
import { api, el, num } from "/static/common.js";
import { t, word } from "/static/i18n.js";
import { said, section, table } from "/static/staff-kit.js";

export const TITLE = "Operations";

// a failure: the server's sentence by its code in the page's language, the driver's own words beside it (lang="en")
const failure = (st) => el("span", {}, said(st, st.message ?? st.error), ...(st.error && st.code ? [" (", el("code", { lang: "en" }, st.error), ")"] : []));
const yesNo = (ok) => t(ok === null || ok === undefined ? "staff.ops.unset" : ok ? "staff.ops.up" : "staff.ops.down");

export async function render(page) {
  const st = await api("GET", "/api/ops/status");
  const db = st.database;
  const media = st.media || { workers: [], rooms: [] };
  const ms = (v) => t("staff.ops.ms", { n: num(v) });
  page.replaceChildren(
    section(t("staff.ops.services"), table([t("staff.ops.service"), t("staff.ops.state"), t("staff.ops.detail")], [
      [t("staff.ops.database"), yesNo(db.ok), db.ok ? `${db.dialect}, ${t("staff.ops.revision", { rev: db.revision })}, ${ms(db.ms)}` : failure(db)],
      ["Redis", yesNo(st.redis.ok), st.redis.ok ? ms(st.redis.ms) : st.redis.ok === null ? t("staff.ops.single") : failure(st.redis)],
      [t("staff.ops.nodes"), num(st.nodes.length), st.nodes.join(", ")],
    ])),
    section(t("staff.ops.rooms"), st.rooms.length ? table([t("staff.ops.session"), t("staff.ops.people"), t("staff.ops.waiting")],
      st.rooms.map((r) => [String(r.session_id), num(r.people), num(r.waiting)])) : el("p", {}, t("staff.ops.norooms"))),
    section(t("staff.ops.workers"), media.workers.length ? table([t("staff.ops.worker"), t("staff.ops.process"), t("staff.ops.wrooms"), t("staff.ops.peers"), t("staff.ops.load"), t("staff.ops.restarts")],
      media.workers.map((w) => [String(w.index), String(w.pid ?? "—"), w.rooms.join(", ") || "—", num(w.peers), num(w.load), num(w.restarts)]))
      : el("p", {}, t(media.started ? "staff.ops.inprocess" : "staff.ops.nomedia"))),
    section(t("staff.ops.bystatus"), table([t("staff.ops.status"), t("staff.ops.sessions")],
      Object.entries(db.sessions_by_status || {}).map(([k, v]) => [word("status", k), num(v)]))),
    section(t("staff.ops.metrics"), el("p", {}, t("staff.ops.metrics.before"), el("code", {}, "/metrics"), t("staff.ops.metrics.after"))),
  );
}

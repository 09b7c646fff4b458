// Operations: nodes, live rooms per media worker, worker load, Redis and database state (/api/ops/status).
import { api, el } from "/static/common.js";
import { section, table } from "/static/staff-kit.js";

export const TITLE = "Operations";

const yesNo = (ok) => (ok === null || ok === undefined ? "not configured" : ok ? "up" : "DOWN");

export async function render(page) {
  const st = await api("GET", "/api/ops/status");
  const db = st.database;
  const media = st.media || { workers: [], rooms: [] };
  page.replaceChildren(
    section("Services", table(["Service", "State", "Detail"], [
      ["Database", yesNo(db.ok), db.ok ? `${db.dialect}, revision ${db.revision}, ${db.ms} ms` : db.error],
      ["Redis", yesNo(st.redis.ok), st.redis.ok ? `${st.redis.ms} ms` : st.redis.error || st.redis.note],
      ["Nodes", String(st.nodes.length), st.nodes.join(", ")],
    ])),
    section("Live rooms (this node)", st.rooms.length ? table(["Session", "People in the room", "Waiting"], st.rooms.map((r) => [String(r.session_id), String(r.people), String(r.waiting)])) : el("p", {}, "No room has anybody in it.")),
    section("Media workers", media.workers.length ? table(["Worker", "Process", "Rooms", "Peers", "Load", "Restarts"],
      media.workers.map((w) => [String(w.index), String(w.pid ?? "—"), w.rooms.join(", ") || "—", String(w.peers), String(w.load), String(w.restarts)]))
      : el("p", {}, media.started ? "The media server runs in this process (no workers)." : "No media started on this node yet.")),
    section("Sessions by status", table(["Status", "Sessions"], Object.entries(db.sessions_by_status || {}).map(([k, v]) => [k, String(v)]))),
    section("Metrics", el("p", {}, "Prometheus scrapes ", el("code", {}, "/metrics"), " with an administrator's API token as bearer; a Grafana dashboard is in infra/grafana-aulacast.json.")),
  );
}

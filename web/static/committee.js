// The committee page: my sittings, the queue, grading forms, sign-off; the audience's public view.
// Everything shown comes from /api/sittings (which decides what each person may see); no points
// ever reach the public view, and a member sees only their own points until the chair closes grading.
import { api, el, announce, whoAmI } from "./common.js";
import { pickLanguage, t, titleOf, useLanguage, word } from "./i18n.js";

const params = new URLSearchParams(location.search);
const sittingId = params.get("sitting");
const publicView = params.get("view") === "public";
let current = null;
let timer = null;

async function act(method, path, body, done) {
  try {
    const out = await api(method, path, body);
    announce(done);
    if (out && out.queue) show(out); else await load();
  } catch (err) {
    announce(err.message);
  }
}

function button(label, onclick, cls = "") {
  return el("button", { type: "button", class: cls, onclick }, label);
}

function pointsCell(s, turn) {
  const td = el("td", { class: "points" });
  if (turn.scores) td.append(turn.scores.map((x) => x.points).join(", ") || "—");
  else if (turn.my_score !== undefined) {
    const mine = turn.my_score ? String(turn.my_score.points) : "";
    const open = ["presenting", "done"].includes(turn.status) && !turn.grading_closed && s.status === "running";
    if (open) {
      const input = el("input", { type: "number", min: "0", max: "100", step: "1", value: mine, size: "4",
        "aria-label": t("committee.points.mine", { name: turn.student.name }) });
      td.append(input, button(t("committee.save"), () => {
        const raw = input.value.trim();
        const points = /^\d+$/.test(raw) ? Number(raw) : raw; // the server names what is wrong
        act("PUT", `/api/sittings/${s.id}/turns/${turn.id}/score`, { points }, t("committee.points.saved", { name: turn.student.name }));
      }));
    } else td.append(mine || "—");
    td.append(el("span", { class: "muted" }, ` ${t("committee.points.entered", { n: turn.entered ?? 0 })}`));
  } else td.append("");
  return td;
}

function gradeCell(turn) {
  if (!turn.grade) return el("td", {}, "");
  const g = turn.grade;
  const text = g.points === undefined ? g.letter : `${g.letter} (${g.points}, ${g.grade_point.toFixed(2)})${g.final ? ` ${t("committee.grade.final")}` : ""}`;
  return el("td", { class: "grade" }, text);
}

function actionsCell(s, turn, i, queue) {
  const td = el("td", {});
  const chair = s.my_seat === "chair";
  const base = `/api/sittings/${s.id}/turns/${turn.id}`;
  if ((chair || s.my_seat === "secretary") && s.status === "planned") {
    const order = queue.map((x) => x.student.username);
    const move = (d) => {
      const j = i + d;
      if (j < 0 || j >= order.length) return;
      [order[i], order[j]] = [order[j], order[i]];
      act("PUT", `/api/sittings/${s.id}/order`, { students: order }, t("committee.reordered"));
    };
    td.append(el("button", { type: "button", "aria-label": t("committee.up", { name: turn.student.name }), onclick: () => move(-1) }, "↑"),
      el("button", { type: "button", "aria-label": t("committee.down", { name: turn.student.name }), onclick: () => move(1) }, "↓"));
  }
  if (chair && s.status !== "signed") {
    if (turn.status === "waiting") {
      td.append(button(t("committee.turn.start"), () => act("POST", base + "/start", undefined, t("committee.turn.started", { name: turn.student.name })), "primary"),
        button(t("committee.absent"), () => act("POST", base + "/absent", { to: "end" }, t("committee.absent.done", { name: turn.student.name }))));
    }
    if (turn.status === "presenting") td.append(button(t("committee.turn.end"), () => act("POST", `/api/sittings/${s.id}/end-turn`, undefined, t("committee.turn.ended"))));
    if (["presenting", "done"].includes(turn.status) && !turn.grading_closed) {
      td.append(button(t("committee.close"), () => act("POST", base + "/close", undefined, t("committee.closed", { name: turn.student.name }))));
    }
  }
  if (turn.note) td.append(el("span", { class: "muted" }, ` ${turn.note}`));
  return td;
}

function showTimer(s) {
  clearInterval(timer);
  const box = document.getElementById("turn-timer");
  const turn = s.queue.find((x) => x.id === s.current_turn);
  if (!turn || !turn.started_at) { box.textContent = ""; return; }
  const ends = new Date(turn.started_at).getTime() + s.slot_minutes * 60000;
  const tick = () => {
    const left = Math.round((ends - Date.now()) / 1000);
    const m = Math.floor(Math.abs(left) / 60), sec = String(Math.abs(left) % 60).padStart(2, "0");
    box.textContent = t(left >= 0 ? "committee.timer.left" : "committee.timer.over", { name: turn.student.name, time: `${m}:${sec}` });
    box.classList.toggle("warning", left < 120);
  };
  tick();
  timer = setInterval(tick, 1000);
}

function show(s) {
  current = s;
  document.getElementById("sitting").hidden = false;
  document.getElementById("sitting-title").textContent = titleOf(s);
  const facts = [t("committee.status", { status: word("committee.state", s.status) }), t("committee.slot", { n: s.slot_minutes })];
  if (s.rule) facts.push(t("committee.rule", { rule: word("committee.rule", s.rule) }));
  if (s.my_seat) facts.push(t("committee.you", { seat: word("committee.seat", s.my_seat) }));
  document.getElementById("sitting-facts").textContent = facts.join(" · ");
  document.getElementById("committee").textContent = t("committee.members", { list: s.committee.map((c) => `${c.name} (${word("committee.seat", c.seat)})`).join(", ") });
  const actions = document.getElementById("actions");
  actions.replaceChildren();
  if (s.room) actions.append(el("a", { href: `/join/${s.room}`, class: "room-link" }, t(publicView ? "committee.room.watch" : "committee.room.open")));
  if (s.my_seat === "chair" && s.status === "planned") actions.append(button(t("committee.start"), () => act("POST", `/api/sittings/${s.id}/start`, undefined, t("committee.started")), "primary"));
  if (s.my_seat === "chair" && s.status === "running") actions.append(button(t("committee.sign"), () => act("POST", `/api/sittings/${s.id}/sign`, undefined, t("committee.signed")), "primary"));
  if (s.status === "signed" && s.my_seat) {
    for (const f of ["pdf", "html", "json"]) actions.append(el("a", { href: `/api/sittings/${s.id}/protocol?format=${f}`, class: "protocol" }, t("committee.protocol", { format: f.toUpperCase() })));
  }
  const body = document.querySelector("#queue tbody");
  body.replaceChildren(...s.queue.map((turn, i) => el("tr", { "data-turn": turn.id, "data-student": turn.student.username || "" },
    el("td", {}, turn.position), el("td", {}, turn.student.name), el("td", { class: "turn-status", "data-status": turn.status },
      word("committee.turn", turn.status) + (turn.path === "recorded" ? ` ${t("committee.turn.recorded")}` : "")),
    pointsCell(s, turn), gradeCell(turn), publicView ? el("td", {}) : actionsCell(s, turn, i, s.queue))));
  showTimer(s);
}

async function load() {
  if (!sittingId) return;
  show(await api("GET", publicView ? `/api/sittings/${sittingId}/public` : `/api/sittings/${sittingId}`));
}

async function main() {
  try {
    const me = publicView ? null : await whoAmI();
    await useLanguage(pickLanguage(me?.language), ["committee"]);
    if (!publicView) {
      const mine = await api("GET", "/api/sittings");
      const list = document.getElementById("sittings");
      list.replaceChildren(...mine.sittings.map((x) => el("li", {}, el("a", { href: `/committee?sitting=${x.id}` }, titleOf(x)),
        ` — ${t("committee.line", { status: word("committee.state", x.status), n: x.students })}${x.my_seat ? `, ${t("committee.you", { seat: word("committee.seat", x.my_seat) })}` : ""}`)));
      if (!mine.sittings.length) list.append(el("li", {}, t("committee.none")));
    } else {
      document.getElementById("mine").hidden = true;
    }
    await load();
  } catch (err) {
    announce(err.message);
  }
}

main();

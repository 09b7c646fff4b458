// The committee page: my sittings, the queue, grading forms, sign-off; the audience's public view.
// Everything shown comes from /api/sittings (which decides what each person may see); no points
// ever reach the public view, and a member sees only their own points until the chair closes grading.
import { api, el, announce } from "./common.js";

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

function pointsCell(s, t) {
  const td = el("td", { class: "points" });
  if (t.scores) td.append(t.scores.map((x) => x.points).join(", ") || "—");
  else if (t.my_score !== undefined) {
    const mine = t.my_score ? String(t.my_score.points) : "";
    const open = ["presenting", "done"].includes(t.status) && !t.grading_closed && s.status === "running";
    if (open) {
      const input = el("input", { type: "number", min: "0", max: "100", step: "1", value: mine, size: "4",
        "aria-label": `My points for ${t.student.name}` });
      td.append(input, button("Save", () => {
        const raw = input.value.trim();
        const points = /^\d+$/.test(raw) ? Number(raw) : raw; // the server names what is wrong
        act("PUT", `/api/sittings/${s.id}/turns/${t.id}/score`, { points }, `Points saved for ${t.student.name}.`);
      }));
    } else td.append(mine || "—");
    td.append(el("span", { class: "muted" }, ` (${t.entered ?? 0} entered)`));
  } else td.append("");
  return td;
}

function gradeCell(t) {
  if (!t.grade) return el("td", {}, "");
  const g = t.grade;
  const text = g.points === undefined ? g.letter : `${g.letter} (${g.points}, ${g.grade_point.toFixed(2)})${g.final ? " final" : ""}`;
  return el("td", { class: "grade" }, text);
}

function actionsCell(s, t, i, queue) {
  const td = el("td", {});
  const chair = s.my_seat === "chair";
  const base = `/api/sittings/${s.id}/turns/${t.id}`;
  if ((chair || s.my_seat === "secretary") && s.status === "planned") {
    const order = queue.map((x) => x.student.username);
    const move = (d) => {
      const j = i + d;
      if (j < 0 || j >= order.length) return;
      [order[i], order[j]] = [order[j], order[i]];
      act("PUT", `/api/sittings/${s.id}/order`, { students: order }, "Queue reordered.");
    };
    td.append(button("↑", () => move(-1)), button("↓", () => move(1)));
  }
  if (chair && s.status !== "signed") {
    if (t.status === "waiting") {
      td.append(button("Start turn", () => act("POST", base + "/start", undefined, `${t.student.name} presents.`), "primary"),
        button("Absent", () => act("POST", base + "/absent", { to: "end" }, `${t.student.name} marked absent.`)));
    }
    if (t.status === "presenting") td.append(button("End turn", () => act("POST", `/api/sittings/${s.id}/end-turn`, undefined, "Turn ended.")));
    if (["presenting", "done"].includes(t.status) && !t.grading_closed) {
      td.append(button("Close grading", () => act("POST", base + "/close", undefined, `Grading closed for ${t.student.name}.`)));
    }
  }
  if (t.note) td.append(el("span", { class: "muted" }, ` ${t.note}`));
  return td;
}

function showTimer(s) {
  clearInterval(timer);
  const box = document.getElementById("turn-timer");
  const t = s.queue.find((x) => x.id === s.current_turn);
  if (!t || !t.started_at) { box.textContent = ""; return; }
  const ends = new Date(t.started_at).getTime() + s.slot_minutes * 60000;
  const tick = () => {
    const left = Math.round((ends - Date.now()) / 1000);
    const m = Math.floor(Math.abs(left) / 60), sec = String(Math.abs(left) % 60).padStart(2, "0");
    box.textContent = left >= 0 ? `${t.student.name}: ${m}:${sec} left` : `${t.student.name}: over time by ${m}:${sec}`;
    box.classList.toggle("warning", left < 120);
  };
  tick();
  timer = setInterval(tick, 1000);
}

function show(s) {
  current = s;
  document.getElementById("sitting").hidden = false;
  document.getElementById("sitting-title").textContent = s.title;
  const facts = [`Status: ${s.status}`, `${s.slot_minutes} minutes a student`];
  if (s.rule) facts.push(`grading rule: ${s.rule}`);
  if (s.my_seat) facts.push(`you: ${s.my_seat}`);
  document.getElementById("sitting-facts").textContent = facts.join(" · ");
  document.getElementById("committee").textContent = "Committee: " + s.committee.map((c) => `${c.name} (${c.seat})`).join(", ");
  const actions = document.getElementById("actions");
  actions.replaceChildren();
  if (s.room) actions.append(el("a", { href: `/join/${s.room}` }, publicView ? "Watch the sitting" : "Open the sitting's room"));
  if (s.my_seat === "chair" && s.status === "planned") actions.append(button("Start the sitting", () => act("POST", `/api/sittings/${s.id}/start`, undefined, "The sitting has started."), "primary"));
  if (s.my_seat === "chair" && s.status === "running") actions.append(button("Sign off", () => act("POST", `/api/sittings/${s.id}/sign`, undefined, "Signed off: the grades are final."), "primary"));
  if (s.status === "signed" && s.my_seat) {
    for (const f of ["pdf", "html", "json"]) actions.append(el("a", { href: `/api/sittings/${s.id}/protocol?format=${f}`, class: "protocol" }, `Protocol (${f.toUpperCase()})`));
  }
  const body = document.querySelector("#queue tbody");
  body.replaceChildren(...s.queue.map((t, i) => el("tr", { "data-turn": t.id, "data-student": t.student.username || "" },
    el("td", {}, t.position), el("td", {}, t.student.name), el("td", { class: "turn-status" }, t.status + (t.path === "recorded" ? " (recorded)" : "")),
    pointsCell(s, t), gradeCell(t), publicView ? el("td", {}) : actionsCell(s, t, i, s.queue))));
  showTimer(s);
}

async function load() {
  if (!sittingId) return;
  show(await api("GET", publicView ? `/api/sittings/${sittingId}/public` : `/api/sittings/${sittingId}`));
}

async function main() {
  try {
    if (!publicView) {
      const mine = await api("GET", "/api/sittings");
      const list = document.getElementById("sittings");
      list.replaceChildren(...mine.sittings.map((x) => el("li", {}, el("a", { href: `/committee?sitting=${x.id}` }, x.title),
        ` — ${x.status}, ${x.students} student(s)${x.my_seat ? ", you: " + x.my_seat : ""}`)));
      if (!mine.sittings.length) list.append(el("li", {}, "No sittings for you."));
    } else {
      document.getElementById("mine").hidden = true;
    }
    await load();
  } catch (err) {
    announce(err.message);
  }
}

main();

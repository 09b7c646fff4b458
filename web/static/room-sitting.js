// A defense sitting in the room page (issue 12): who holds the floor, the turn timer everyone sees,
// the student's written work beside the video for the committee, a member's microphone on the
// chair's word. room.js owns the page; it calls the hooks below (listen, enter, allowed, tools).
//
// The server decides what each person may publish now (signaling/handlers/defense.py, floor_grant):
// a student of the queue only while their turn runs, a committee member their camera and, once the
// chair opens it, their microphone; the secretary a microphone once opened; the audience nothing.
// `allowedNow` mirrors that rule so the page offers only what the server will accept, and the page
// follows every `floor` and `mic` event by starting or stopping what it sends.
import { el, announce, errorText } from "/static/common.js";
import { t } from "/static/i18n.js";

const COMMITTEE = new Set(["chair", "committee", "secretary", "observer"]);
const STANDBY = ["camera", "microphone"]; // what the student on deck pre-publishes (never the screen)

/** Next in the queue: their camera and microphone go to the server on standby, to nobody else. */
export function onDeck(room, personId) {
  return Boolean(room && room.floor !== personId && (room.on_deck || []).includes(personId));
}

/** The sources `grant` may publish now in a room whose sitting state is `room` (welcome.room / events). */
export function allowedNow(grant, personId, room) {
  const base = grant?.publish || [];
  if (grant?.role === "presenter") { // only a sitting's room has presenters: no floor yet = waiting
    if (!room || room.sitting == null) return [];
    if (room.floor === personId) return base;
    return onDeck(room, personId) ? STANDBY : [];
  }
  if (!room || room.sitting == null) return base;
  const open = (room.mics || []).includes(personId);
  if (grant.role === "secretary") return open ? base.filter((s) => s === "microphone") : [];
  if (grant.role === "committee") return base.filter((s) => s !== "microphone" || open);
  return base;
}

/** "12:34" from seconds (absolute value). */
export function clock(seconds) {
  const s = Math.abs(Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** The timer's words and state for a turn ending at `endsAt` (epoch seconds), `warned` after turn-warning. */
export function timerText(turn, now, warned) {
  if (!turn) return { text: "", state: "idle" };
  const left = turn.ends_at - now;
  if (left <= 0) return { text: t("sitting.timer.over", { name: turn.name, time: clock(left) }), state: "over" };
  const soon = warned || (turn.warn_at != null && now >= turn.warn_at);
  return { text: t("sitting.timer.left", { name: turn.name, time: clock(left) }), state: soon ? "warning" : "running" };
}

export class SittingView {
  /**
   * hooks: { you() -> {person_id, role}, grant() -> grant, nameOf(id), members() -> Map,
   *          emit(event, payload) -> ack, floorChanged(allowed, previousAllowed), render() }
   */
  constructor(hooks) {
    this.h = hooks;
    this.room = null; // {sitting, floor, mics, turn}
    this.warned = false;
    this.timer = null;
    this.workFor = null; // turn id whose written work is shown
  }

  get active() { return this.room != null && this.room.sitting != null; }

  /** The sources I may publish now (the join grant's when the room runs no sitting). */
  allowed() {
    const me = this.h.you();
    return allowedNow(this.h.grant(), me?.person_id, this.room);
  }

  /** Whether what I send of `source` reaches the room now (on standby it reaches only the server). */
  sends(source) {
    const me = this.h.you()?.person_id;
    return this.allowed().includes(source) && !(this.h.grant()?.role === "presenter" && onDeck(this.room, me));
  }

  /** Register the sitting's events on the room's socket (called once per connection). */
  listen(socket) {
    socket.on("floor", (f) => this.onFloor(f));
    socket.on("turn-warning", (w) => this.onWarning(w));
    socket.on("turn-time-up", (w) => this.onTimeUp(w));
    socket.on("mic", (m) => this.onMic(m));
    socket.on("queue", (q) => this.onQueue(q));
  }

  /**
   * From `welcome`: a late joiner sees the running turn, its timer and who may speak. `session` is the
   * join answer's: a defense slot of a sitting is a sitting's room before its first turn too (the room
   * learns the sitting's id only when the chair starts one), so nobody sends what the floor withholds.
   */
  enter(w, session) {
    const r = w.room || {};
    const key = session?.kind === "defense" && session.sitting ? session.sitting : null;
    const id = r.sitting ?? key;
    this.room = id == null ? null
      : { sitting: id, floor: r.floor ?? null, mics: r.mics || [], turn: r.turn || null, on_deck: r.on_deck || [] };
    document.getElementById("sitting-bar").hidden = !this.active;
    if (!this.active) return;
    this.warned = false;
    this.show(); // room.js then follows the floor (followFloor) with its media
  }

  onFloor(f) {
    const before = this.allowed();
    const me = this.h.you()?.person_id;
    this.room = { sitting: f.sitting, floor: f.presenter ?? null, mics: [], turn: f.turn || null, on_deck: f.on_deck || [] };
    this.warned = false;
    document.getElementById("sitting-bar").hidden = false;
    this.show();
    if (f.presenter === me) announce(t("sitting.you.floor"));
    else if (f.previous === me) announce(t("sitting.you.done"));
    else if (onDeck(this.room, me) && this.h.grant()?.role === "presenter") announce(t("sitting.me.standby"));
    else if (f.presenter != null) announce(t("sitting.presenting", { name: f.turn?.name || this.h.nameOf(f.presenter) }));
    else announce(t("sitting.no.turn"));
    this.h.floorChanged(this.allowed(), before);
  }

  /** The queue changed (an absence): who is on deck may have changed with it. */
  onQueue(q) {
    announce(t("sitting.queue.changed"));
    if (!this.active || !q.on_deck) return;
    const before = this.allowed();
    this.room.on_deck = q.on_deck;
    this.show();
    this.h.floorChanged(this.allowed(), before);
  }

  onWarning(w) {
    if (this.room?.turn?.id !== w.turn_id) return;
    this.warned = true;
    this.tick();
    announce(t("sitting.warning.said", { time: clock(this.room.turn.ends_at - Date.now() / 1000) }));
  }

  onTimeUp(w) {
    if (this.room?.turn?.id !== w.turn_id) return;
    this.tick();
    announce(t("sitting.timeup.said"));
  }

  onMic(m) {
    if (!this.active) return;
    const before = this.allowed();
    const mics = new Set(this.room.mics);
    if (m.open) mics.add(m.person_id); else mics.delete(m.person_id);
    this.room.mics = [...mics];
    const me = this.h.you()?.person_id;
    if (m.person_id === me) announce(t(m.open ? "sitting.mic.yours.open" : "sitting.mic.yours.closed"));
    this.show();
    this.h.floorChanged(this.allowed(), before);
  }

  /** The bar over the video: who presents, the timer, my own state; the written work for the committee. */
  show() {
    const r = this.room;
    const me = this.h.you();
    const presenter = r.floor != null ? (r.turn?.name || this.h.nameOf(r.floor)) : null;
    const who = document.getElementById("sitting-presenter");
    who.textContent = presenter ? t("sitting.presenting", { name: presenter }) : t("sitting.no.turn");
    who.dataset.person = r.floor == null ? "" : String(r.floor);
    const mine = document.getElementById("sitting-me");
    const role = me?.role;
    let text = "";
    if (role === "presenter") {
      text = t(r.floor === me.person_id ? "sitting.me.presenting" : onDeck(r, me.person_id) ? "sitting.me.standby" : "sitting.me.waiting");
    }
    else if (role === "committee") text = t(r.mics.includes(me.person_id) ? "sitting.me.mic.open" : "sitting.me.mic.closed");
    else if (role === "secretary") text = t(r.mics.includes(me.person_id) ? "sitting.me.mic.open" : "sitting.me.secretary");
    else if (role === "audience" || role === "observer") text = t("sitting.me.audience");
    mine.textContent = text;
    this.tick();
    clearInterval(this.timer);
    if (r.turn) this.timer = setInterval(() => this.tick(), 1000);
    this.showWork();
    this.h.render();
  }

  tick() {
    const box = document.getElementById("sitting-timer");
    const { text, state } = timerText(this.room?.turn, Date.now() / 1000, this.warned);
    box.textContent = text;
    box.dataset.state = state;
    if (state === "over") clearInterval(this.timer);
  }

  /** The current student's written work (PDF) for the committee; the server's policy has the last word. */
  async showWork() {
    const pane = document.getElementById("work-pane");
    const role = this.h.grant()?.role;
    const turn = this.room?.turn;
    if (!COMMITTEE.has(role) || !turn) {
      pane.hidden = true;
      this.workFor = null;
      document.getElementById("work-frame").removeAttribute("src");
      return;
    }
    if (this.workFor === turn.id) return;
    this.workFor = turn.id;
    const url = `/api/sittings/${this.room.sitting}/turns/${turn.id}/written-work`;
    const frame = document.getElementById("work-frame");
    const note = document.getElementById("work-note");
    const link = document.getElementById("work-open");
    document.getElementById("work-title").textContent = t("sitting.work.title", { name: turn.name });
    let status = 0;
    try {
      status = (await fetch(url, { credentials: "same-origin", headers: { Range: "bytes=0-0" } })).status;
    } catch { status = 0; }
    if (this.workFor !== turn.id) return; // the floor moved meanwhile
    pane.hidden = status === 403 || status === 401;
    const ok = status === 200 || status === 206;
    frame.hidden = !ok;
    link.hidden = !ok;
    if (ok) {
      frame.src = url;
      frame.title = t("sitting.work.frame", { name: turn.name });
      link.href = url;
      note.textContent = "";
    } else {
      frame.removeAttribute("src");
      note.textContent = t(status === 404 ? "sitting.work.none" : "sitting.work.failed");
    }
    pane.dataset.turn = String(turn.id);
    pane.dataset.state = ok ? "shown" : status === 404 ? "none" : pane.hidden ? "refused" : "failed";
  }

  /** The chair's microphone control for a committee member or the secretary (the people list). */
  tools(m) {
    if (!this.active || !this.h.grant()?.moderate || !["committee", "secretary"].includes(m.role)) return [];
    const open = this.room.mics.includes(m.person_id);
    const label = t(open ? "sitting.mic.close" : "sitting.mic.open");
    return [el("button", {
      type: "button", class: "small", "aria-label": `${label}: ${m.name}`, "data-mic": open ? "open" : "closed",
      onclick: async () => {
        const ack = await this.h.emit("mic", { person_id: m.person_id, open: !open });
        document.getElementById("status").textContent = ack.ok
          ? t(open ? "sitting.mic.closed.for" : "sitting.mic.opened.for", { name: m.name }) : errorText(ack.error);
      },
    }, label)];
  }

  /** Said on my own tile when the floor lets me send nothing now: nobody sees it but me. */
  localNote() {
    const me = this.h.you()?.person_id;
    const shown = this.h.grant()?.role === "presenter" ? this.room?.floor === me : this.allowed().includes("camera");
    if (!this.active || shown) return "";
    return ` — ${t("sitting.local.hidden")}`;
  }

  /** In a sitting the floor names the presenter: the room's own "Make presenter" is not offered. */
  get ownsPresenter() { return this.active; }

  snapshot() {
    return {
      room: this.room, warned: this.warned, standby: onDeck(this.room, this.h.you()?.person_id),
      timer: { text: document.getElementById("sitting-timer").textContent, state: document.getElementById("sitting-timer").dataset.state },
      presenter_label: document.getElementById("sitting-presenter").textContent,
      me: document.getElementById("sitting-me").textContent,
      work: (({ hidden, dataset }) => ({ hidden, state: dataset.state || null, turn: dataset.turn || null }))(document.getElementById("work-pane")),
      work_src: document.getElementById("work-frame").getAttribute("src"),
    };
  }
}

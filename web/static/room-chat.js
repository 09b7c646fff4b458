// The room's chat panel: history from `welcome`, live `chat` / `chat-deleted` events, sending with an ack.
import { el, when } from "/static/common.js";

export class ChatView {
  /**
   * list: the <ol role="log"> element; send(body, clientId) -> Promise<ack>;
   * remove(messageId, reason) -> Promise<ack> (moderators); canModerate() -> bool;
   * timezone() -> the person's profile zone (times are shown in it, with the date when not today).
   */
  constructor({ list, form, input, error, send, remove, canModerate, timezone }) {
    Object.assign(this, { list, form, input, error, send, remove, canModerate, timezone });
    this.pending = new Map(); // clientId -> <li> shown while the server has not answered
    this.messages = new Map(); // id -> {data, node}
    this.counter = 0;
    form.addEventListener("submit", (ev) => { ev.preventDefault(); this.submit(); });
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); this.submit(); }
    });
  }

  /** Replace everything with the welcome snapshot (after a reconnect too). */
  reset(history) {
    this.messages.clear();
    this.list.replaceChildren();
    for (const m of history) this.add(m, { quiet: true });
    this.scroll();
  }

  add(m, { quiet = false } = {}) {
    const known = this.messages.get(m.id);
    const node = this.render(m);
    if (known) known.node.replaceWith(node);
    else this.list.append(node);
    this.messages.set(m.id, { data: m, node });
    if (!quiet) this.scroll();
  }

  deleted({ id, reason }) {
    const known = this.messages.get(id);
    if (!known) return;
    this.add({ ...known.data, deleted: true, body: "", delete_reason: reason });
  }

  render(m) {
    const tz = this.timezone ? this.timezone() : undefined;
    const li = el("li", { class: "msg" + (m.deleted ? " deleted" : "") + (m.offline ? " offline" : ""), "data-id": String(m.id) },
      el("span", { class: "sender" }, m.sender_name), " ",
      el("time", { datetime: m.sent_at, title: tz || "" }, when(m.sent_at, tz, { zone: false })),
      m.offline ? el("span", { class: "when" }, " (off-line message)") : "",
      el("p", { class: "body" }, m.deleted ? "This message was removed by a moderator." : m.body));
    if (this.canModerate() && !m.deleted) {
      const del = el("button", { type: "button", class: "link", "aria-label": `Delete message from ${m.sender_name}` }, "Delete");
      del.addEventListener("click", () => this.askDelete(li, m));
      li.append(del);
    }
    return li;
  }

  askDelete(li, m) {
    const reason = el("input", { "aria-label": "Reason for deleting", maxlength: "500", value: "off-topic" });
    const ok = el("button", { type: "button", class: "danger" }, "Delete message");
    const cancel = el("button", { type: "button" }, "Cancel");
    const box = el("span", { class: "confirm" }, reason, ok, cancel);
    ok.addEventListener("click", async () => {
      const ack = await this.remove(m.id, reason.value.trim() || "removed by a moderator");
      if (!ack.ok) this.error.textContent = ack.error.message;
      box.remove();
    });
    cancel.addEventListener("click", () => box.remove());
    li.append(box);
    reason.focus();
  }

  /**
   * Send what is in the box and clear the box at once, so text typed while the server answers is
   * never touched (it used to be wiped by the previous message's confirmation: issue 13 §1.3).
   * A refused or unsent message goes back into the box, before anything typed since, with the reason.
   */
  async submit() {
    const body = this.input.value.trim();
    if (!body) return;
    this.error.textContent = "";
    const clientId = `c${Date.now()}-${++this.counter}`;
    this.input.value = "";
    const li = el("li", { class: "msg pending", "data-client": clientId }, el("p", { class: "body" }, body),
      el("span", { class: "when" }, "sending…"));
    this.pending.set(clientId, li);
    this.list.append(li);
    this.scroll();
    let reason = null;
    try {
      const ack = await this.send(body, clientId);
      if (ack.ok) this.add(ack.message);
      else reason = ack.error.message;
    } catch (e) {
      reason = `not sent: ${e.message}`;
    }
    li.remove();
    this.pending.delete(clientId);
    if (reason !== null) {
      const typed = this.input.value;
      this.input.value = typed.trim() ? `${body}\n${typed}` : body;
      this.error.textContent = `Not sent: ${reason}. Your message is back in the box; send it again when ready.`;
    }
  }

  scroll() {
    const box = this.list.closest(".chat-log") || this.list; // the log region scrolls; the <ol> holds the items
    box.scrollTop = box.scrollHeight;
  }

  /** Plain list of what is shown (the E2E test reads it). */
  snapshot() {
    return [...this.messages.values()].map(({ data }) => ({ id: data.id, sender_name: data.sender_name, body: data.body, deleted: data.deleted }));
  }
}

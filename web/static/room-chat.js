// The room's chat panel: history from `welcome`, live `chat` / `chat-deleted` events, sending with an ack.
import { el } from "/static/common.js";

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

export class ChatView {
  /**
   * list: the <ol role="log"> element; send(body, clientId) -> Promise<ack>;
   * remove(messageId, reason) -> Promise<ack> (moderators); canModerate() -> bool.
   */
  constructor({ list, form, input, error, send, remove, canModerate }) {
    Object.assign(this, { list, form, input, error, send, remove, canModerate });
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
    const when = new Date(m.sent_at);
    const li = el("li", { class: "msg" + (m.deleted ? " deleted" : "") + (m.offline ? " offline" : ""), "data-id": String(m.id) },
      el("span", { class: "sender" }, m.sender_name), " ",
      el("time", { datetime: m.sent_at }, timeFmt.format(when)),
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

  async submit() {
    const body = this.input.value.trim();
    if (!body) return;
    this.error.textContent = "";
    const clientId = `c${Date.now()}-${++this.counter}`;
    try {
      const ack = await this.send(body, clientId);
      if (!ack.ok) {
        this.error.textContent = ack.error.message;
        return;
      }
      this.input.value = "";
      this.add(ack.message);
    } catch (e) {
      this.error.textContent = `Not sent: ${e.message}. Your text is kept; try again.`;
    }
  }

  scroll() {
    this.list.scrollTop = this.list.scrollHeight;
  }

  /** Plain list of what is shown (the E2E test reads it). */
  snapshot() {
    return [...this.messages.values()].map(({ data }) => ({ id: data.id, sender_name: data.sender_name, body: data.body, deleted: data.deleted }));
  }
}

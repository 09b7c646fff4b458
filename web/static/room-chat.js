// The room's chat panel: history from `welcome`, live `chat` / `chat-deleted` events, sending with an ack.
import { el, errorText, when } from "/static/common.js";
import { t } from "/static/i18n.js";

// the page's own fixed deletion reasons, shown in the reader's language (a typed reason stays as typed)
const REASONS = { "off-topic": "room.chat.offtopic", "removed by a moderator": "room.chat.bymod" };

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
      m.offline ? el("span", { class: "when" }, ` ${t("room.chat.offline")}`) : "",
      el("p", { class: "body" }, m.deleted ? t("room.chat.removed") : m.body));
    if (this.canModerate() && !m.deleted) {
      const del = el("button", { type: "button", class: "link", "aria-label": t("room.chat.delete.of", { name: m.sender_name }) }, t("room.chat.delete"));
      del.addEventListener("click", () => this.askDelete(li, m));
      li.append(del);
    }
    return li;
  }

  askDelete(li, m) {
    const reason = el("input", { "aria-label": t("room.chat.reason"), maxlength: "500", value: t("room.chat.offtopic") });
    const ok = el("button", { type: "button", class: "danger" }, t("room.chat.delete.msg"));
    const cancel = el("button", { type: "button" }, t("room.cancel"));
    const box = el("span", { class: "confirm" }, reason, ok, cancel);
    ok.addEventListener("click", async () => {
      const typed = reason.value.trim();
      const fixed = Object.keys(REASONS).find((k) => t(REASONS[k]) === typed); // the offered reason goes as its fixed value
      const ack = await this.remove(m.id, fixed || typed || "removed by a moderator");
      if (!ack.ok) this.error.textContent = errorText(ack.error);
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
      el("span", { class: "when" }, t("room.chat.sending")));
    this.pending.set(clientId, li);
    this.list.append(li);
    this.scroll();
    let reason = null;
    try {
      const ack = await this.send(body, clientId);
      if (ack.ok) this.add(ack.message);
      else reason = errorText(ack.error);
    } catch (e) {
      reason = e.message;
    }
    li.remove();
    this.pending.delete(clientId);
    if (reason !== null) {
      const typed = this.input.value;
      this.input.value = typed.trim() ? `${body}\n${typed}` : body;
      this.error.textContent = t("room.chat.notsent", { why: reason.replace(/[.;:\s]+$/, "") });
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

// The kitchen display (KDS): one station's open tickets, as columns with age timers.
//
// The hub is the source of truth. The screen loads the station with kitchen.get (its tickets at `rev`)
// and then applies each KitchenTicketChanged / KitchenStationChanged of the station's stream whose rev is
// the next one: an event at or below the screen's rev is already shown, a jump means one was missed and
// the screen reloads. live.js resubscribes with since/epoch after a drop, so the missed events are
// replayed; when the hub cannot replay them (resync) it calls onReset and the screen reloads. Events that
// arrive while a reload is in flight wait and are applied after it, so none falls between the two.
//
// Tap a ticket: bump it (new -> in preparation -> ready -> served, off the screen). Tap an item: that item
// is done. "Recuperar" brings back the last served ticket. Text comes from i18n/es.json.
import { $, h } from "/static/dom.js";
import { loadMessages } from "/static/i18n.js";
import { LiveSocket, bindConnectionBadge } from "/static/live.js";
import { Toasts, ageLevel, formatAge, formatQuantity } from "/kds/shared.js";

const STATION_KEY = "storehub.kds.station";
const SOUND_KEY = "storehub.kds.sound";

/** A short two-tone beep made on the spot (no audio files): the browser's own synthesizer. */
class Beeper {
  constructor() {
    this.context = null;
    this.on = localStorage.getItem(SOUND_KEY) !== "off";
    this.count = 0; // beeps asked for; shown as data-beeps for whoever checks the screen
    // Browsers start audio only after a gesture: the first tap anywhere unlocks it.
    document.addEventListener("pointerdown", () => this.unlock(), { passive: true });
  }

  unlock() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    if (!this.context) this.context = new Context();
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
    return this.context;
  }

  beep() {
    this.count += 1;
    if (!this.on) return;
    const context = this.unlock();
    if (!context) return;
    const start = context.currentTime;
    for (const [frequency, at] of [[880, 0], [1320, 0.16]]) {
      const tone = context.createOscillator();
      const gain = context.createGain();
      tone.type = "sine";
      tone.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start + at);
      gain.gain.exponentialRampToValueAtTime(0.35, start + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + at + 0.14);
      tone.connect(gain).connect(context.destination);
      tone.start(start + at);
      tone.stop(start + at + 0.15);
    }
  }
}

async function boot() {
  let messages;
  try {
    messages = await loadMessages("/kds/i18n/");
  } catch (err) {
    setTimeout(boot, 3000); // nothing to say it with yet: the loading text stays and we try again
    return;
  }
  messages.apply(document);
  document.title = messages.t("title");
  const { api } = window.storehub;
  let stations;
  try {
    await api("/api/v1/auth/me");
    stations = await api("/api/v1/kitchen/stations");
  } catch (err) {
    if (err.status === 401) {
      location.assign("/login/");
      return;
    }
    $("boot").replaceChildren(h("span", { text: messages.t("boot.failed") }));
    const retry = h("button", { type: "button", text: messages.t("boot.retry") });
    retry.addEventListener("click", () => location.reload());
    $("boot").append(retry);
    return;
  }
  const wanted = new URLSearchParams(location.search).get("station") || localStorage.getItem(STATION_KEY);
  const station = stations.find((s) => s.id === wanted);
  $("boot").hidden = true;
  if (station) start(messages, station);
  else pick(messages, stations);
}

/** No station chosen yet on this screen: one big button per station of the user's store. */
function pick(messages, stations) {
  const list = $("picker-list");
  list.replaceChildren();
  $("picker-error").textContent = stations.length ? "" : messages.t("picker.none");
  for (const station of stations) {
    const choice = h(
      "button",
      { type: "button", class: "station-choice", "data-station": station.id },
      h("strong", { text: station.name }),
      h("span", { class: "muted", text: station.code }),
    );
    choice.addEventListener("click", () => {
      $("picker").hidden = true;
      start(messages, station);
    });
    list.append(choice);
  }
  $("picker").hidden = false;
}

function start(messages, chosen) {
  localStorage.setItem(STATION_KEY, chosen.id);
  const url = new URL(location.href);
  url.searchParams.set("station", chosen.id);
  history.replaceState(null, "", url);

  const t = messages.t.bind(messages);
  const live = new LiveSocket();
  const toasts = new Toasts($("toasts"));
  const beeper = new Beeper();
  const app = $("app");
  const view = {
    station: { station_id: chosen.id, name: chosen.name, warn_after_s: chosen.warn_after_s, late_after_s: chosen.late_after_s },
    rev: null, // null until the first load
    tickets: new Map(),
    offset: 0, // hub clock minus this screen's clock, so ages do not depend on the screen's clock
    loading: false,
    held: [], // events that arrived during a reload
    busy: new Set(), // tickets with a command in flight: a second tap must not bump twice
    fresh: new Set(), // tickets that just arrived: they flash
  };

  function errorText(err) {
    const key = "errors." + (err && err.code);
    return messages.has(key) ? t(key) : (err && err.message) || t("errors.generic");
  }

  function tableOf(ticket) {
    return ticket.table ? t("ticket.table", { table: ticket.table }) : t("ticket.no_table");
  }

  function ageOf(ticket) {
    return (Date.now() + view.offset - Date.parse(ticket.created_at)) / 1000;
  }

  // -- state ----------------------------------------------------------------------------------------------

  async function reload() {
    if (view.loading) return;
    view.loading = true;
    view.held = [];
    try {
      const state = await live.request("kitchen.get", { station_id: chosen.id });
      view.station = state.station;
      view.rev = state.rev;
      view.tickets = new Map(state.tickets.map((ticket) => [ticket.ticket_id, ticket]));
      view.offset = Date.parse(state.server_time) - Date.now();
      view.loading = false;
      const held = view.held;
      view.held = [];
      for (const [name, payload] of held) apply(name, payload, true, false);
    } catch (err) {
      view.loading = false;
      toasts.show(errorText(err));
      setTimeout(reload, 3000);
    }
    render();
  }

  /**
   * One change of the station (an event, or a command's reply, which often comes before its event).
   * `announce`: a new ticket beeps and flashes (live events only). Returns false when an event reveals a
   * missed change: the screen reloads. A reply that is not the next change waits for the events instead.
   */
  function apply(name, payload, announce, reply) {
    if (view.loading) {
      if (!reply) view.held.push([name, payload]);
      return true;
    }
    if (view.rev === null || payload.rev <= view.rev) return true; // shown already
    if (payload.rev !== view.rev + 1) {
      if (reply) return true;
      reload();
      return false;
    }
    view.rev = payload.rev;
    if (name === "KitchenStationChanged") {
      view.station = payload;
    } else if (payload.state === "served") {
      view.tickets.delete(payload.ticket_id);
    } else {
      const arrived = !view.tickets.has(payload.ticket_id);
      view.tickets.set(payload.ticket_id, payload);
      if (arrived && announce && payload.state === "new") {
        view.fresh.add(payload.ticket_id);
        setTimeout(() => view.fresh.delete(payload.ticket_id), 3000);
        beeper.beep();
        app.dataset.beeps = String(beeper.count);
      }
    }
    return true;
  }

  // -- commands -------------------------------------------------------------------------------------------

  async function command(ticketId, type, payload) {
    if (view.busy.has(ticketId)) return;
    view.busy.add(ticketId);
    render();
    try {
      const ticket = await live.request(type, Object.assign({ station_id: chosen.id }, payload));
      // The reply can come before the event: show it now; the event then changes nothing.
      apply("KitchenTicketChanged", ticket, false, true);
    } catch (err) {
      toasts.show(errorText(err));
    } finally {
      view.busy.delete(ticketId);
      render();
    }
  }

  async function recall() {
    try {
      const ticket = await live.request("kitchen.recall", { station_id: chosen.id });
      apply("KitchenTicketChanged", ticket, false, true);
      toasts.show(t("recalled", { table: tableOf(ticket) }), "ok");
    } catch (err) {
      toasts.show(errorText(err));
    }
    render();
  }

  // -- drawing --------------------------------------------------------------------------------------------

  function itemNode(ticket, item) {
    const done = item.state === "ready" || item.state === "served";
    return h(
      "li",
      { class: "item", "data-item": item.item_id, "data-state": item.state, role: "button", tabindex: 0, "aria-pressed": done },
      h("span", { class: "qty", text: formatQuantity(item.quantity) + "×" }),
      h(
        "div",
        { class: "what" },
        h("span", { class: "name", text: item.name }),
        item.modifiers.length ? h("ul", { class: "mods" }, item.modifiers.map((m) => h("li", { text: m }))) : null,
        item.note ? h("p", { class: "note", text: item.note }) : null,
      ),
    );
  }

  function ticketNode(ticket) {
    const age = ageOf(ticket);
    const meta = [ticket.server, ticket.course].filter(Boolean).join(" · ");
    return h(
      "article",
      {
        class: "ticket" + (view.fresh.has(ticket.ticket_id) ? " fresh" : ""),
        "data-ticket": ticket.ticket_id,
        "data-state": ticket.state,
        "data-age": ageLevel(age, view.station),
        "data-busy": view.busy.has(ticket.ticket_id),
        role: "button",
        tabindex: 0,
        "aria-label": t("ticket.label", { table: tableOf(ticket), state: t("ticket.state." + ticket.state), age: formatAge(age) }),
      },
      h(
        "header",
        { class: "ticket-head" },
        h("strong", { class: "table", text: tableOf(ticket) }),
        h("span", { class: "timer", text: formatAge(age) }),
      ),
      meta ? h("p", { class: "meta", text: meta }) : null,
      h("ol", { class: "items" }, ticket.items.map((item) => itemNode(ticket, item))),
      ticket.note ? h("p", { class: "ticket-note", text: ticket.note }) : null,
      h(
        "footer",
        { class: "ticket-foot" },
        h("span", { class: "state", text: t("ticket.state." + ticket.state) }),
        h("span", { class: "tap", text: t("ticket.tap." + ticket.state) }),
      ),
    );
  }

  function sorted() {
    return Array.from(view.tickets.values()).sort(
      (a, b) => Date.parse(a.created_at) - Date.parse(b.created_at) || (a.ticket_id < b.ticket_id ? -1 : 1),
    );
  }

  function render() {
    const tickets = sorted();
    $("tickets").replaceChildren(...tickets.map(ticketNode));
    $("empty").hidden = tickets.length > 0 || view.rev === null;
    $("station-name").textContent = view.station.name;
    $("open-count").textContent = tickets.length === 1 ? t("bar.open_one") : t("bar.open", { n: tickets.length });
    app.dataset.rev = view.rev === null ? "" : String(view.rev);
  }

  /** Every second: the timers and their colours, without rebuilding the tickets. */
  function tick() {
    for (const node of $("tickets").children) {
      const ticket = view.tickets.get(node.dataset.ticket);
      if (!ticket) continue;
      const age = ageOf(ticket);
      node.querySelector(".timer").textContent = formatAge(age);
      node.dataset.age = ageLevel(age, view.station);
    }
    const now = new Date(Date.now() + view.offset);
    $("clock").textContent = now.toLocaleTimeString("es", { hour: "2-digit", minute: "2-digit" });
  }

  function showSound() {
    const button = $("sound");
    button.textContent = t(beeper.on ? "bar.sound_on" : "bar.sound_off");
    button.setAttribute("aria-pressed", String(beeper.on));
  }

  // -- wiring ---------------------------------------------------------------------------------------------

  $("tickets").addEventListener("click", (event) => {
    const ticketNode_ = event.target.closest(".ticket");
    if (!ticketNode_) return;
    const ticket = view.tickets.get(ticketNode_.dataset.ticket);
    if (!ticket) return;
    const itemNode_ = event.target.closest(".item");
    if (itemNode_) {
      const item = ticket.items.find((i) => String(i.item_id) === itemNode_.dataset.item);
      if (item && (item.state === "new" || item.state === "in_progress")) {
        command(ticket.ticket_id, "kitchen.item_done", { ticket_id: ticket.ticket_id, item_id: item.item_id });
      }
      return;
    }
    command(ticket.ticket_id, "kitchen.bump", { ticket_id: ticket.ticket_id });
  });
  $("tickets").addEventListener("keydown", (event) => {
    if ((event.key === "Enter" || event.key === " ") && event.target.closest("[role=button]")) {
      event.preventDefault();
      event.target.click();
    }
  });
  $("recall").addEventListener("click", recall);
  $("sound").addEventListener("click", () => {
    beeper.on = !beeper.on;
    localStorage.setItem(SOUND_KEY, beeper.on ? "on" : "off");
    showSound();
  });
  $("to-expo").addEventListener("click", () => {
    location.assign("/kds/expo.html?store=" + encodeURIComponent(chosen.store_id));
  });
  $("change-station").addEventListener("click", () => {
    localStorage.removeItem(STATION_KEY);
    location.assign("/kds/");
  });

  bindConnectionBadge(live, $("conn"), {
    connecting: t("conn.connecting"),
    connected: t("conn.connected"),
    reconnecting: t("conn.reconnecting"),
    offline: t("conn.offline"),
    waiting: (n) => t("conn.waiting", { n }),
  });
  live.addEventListener("unauthenticated", () => {
    toasts.show(t("errors.session"));
    setTimeout(() => location.assign("/login/"), 1500);
  });
  live.addEventListener("huberror", (event) => toasts.show(errorText(event.detail)));
  live.subscribe("kitchen:" + chosen.id, {
    onEvent(name, payload) {
      if (apply(name, payload, true, false)) render();
    },
    onReset: reload,
  });
  live.start();

  showSound();
  render();
  tick();
  setInterval(tick, 1000);
  app.hidden = false;
}

boot();

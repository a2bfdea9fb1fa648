// The kitchen display (KDS): one station's open tickets, as columns with age timers.
//
// The hub is the source of truth. The screen loads the station with kitchen.get (its tickets at `rev`)
// and then applies each KitchenTicketChanged / KitchenStationChanged of the station's stream whose rev is
// the next one: an event at or below the screen's rev is already shown, a jump means one was missed and
// the screen reloads. live.js resubscribes with since/epoch after a drop, so the missed events are
// replayed; when the hub cannot replay them (resync) it calls onReset and the screen reloads. Events that
// arrive while a reload is in flight wait and are applied after it, so none falls between the two. Those
// rules are station_tickets.js's, which the expo follows as well.
//
// Tap a ticket: bump it (new -> in preparation -> ready -> served, off the screen). Tap an item: that item
// is done. "Recuperar" brings back the last served ticket. Text comes from i18n/es.json.
import { $, h } from "/static/dom.js";
import { LiveSocket } from "/static/live.js";
import { errorTexts, loadTexts, pressOnEnter, showBootFailed, watchSocket } from "/kds/screen.js";
import { HubClock, Toasts, ageLevel, ageOf, formatAge, formatQuantity, tableName } from "/kds/shared.js";
import { StationTickets } from "/kds/station_tickets.js";

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
  const messages = await loadTexts("title", boot);
  if (!messages) return;
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
    showBootFailed(messages);
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
  const errorText = errorTexts(messages);
  const live = new LiveSocket();
  const toasts = new Toasts($("toasts"));
  const beeper = new Beeper();
  const clock = new HubClock();
  const app = $("app");
  const view = {
    busy: new Set(), // tickets with a command in flight: a second tap must not bump twice
    fresh: new Set(), // tickets that just arrived: they flash
  };
  const known = { station_id: chosen.id, name: chosen.name, warn_after_s: chosen.warn_after_s, late_after_s: chosen.late_after_s };
  const board = new StationTickets(live, known, {
    clock,
    changed: () => render(),
    failed: (err) => toasts.show(errorText(err)),
    arrived(ticket) {
      // A new ticket on the live stream beeps and flashes.
      if (ticket.state !== "new") return;
      view.fresh.add(ticket.ticket_id);
      setTimeout(() => view.fresh.delete(ticket.ticket_id), 3000);
      beeper.beep();
      app.dataset.beeps = String(beeper.count);
    },
  });

  const tableOf = (ticket) => tableName(t, ticket);

  // -- commands -------------------------------------------------------------------------------------------

  async function command(ticketId, type, payload) {
    if (view.busy.has(ticketId)) return;
    view.busy.add(ticketId);
    render();
    try {
      const ticket = await live.request(type, Object.assign({ station_id: chosen.id }, payload));
      // The reply can come before the event: show it now; the event then changes nothing.
      board.apply("KitchenTicketChanged", ticket, true);
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
      board.apply("KitchenTicketChanged", ticket, true);
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
    const age = ageOf(ticket, clock.now());
    const meta = [ticket.server, ticket.course].filter(Boolean).join(" · ");
    return h(
      "article",
      {
        class: "ticket" + (view.fresh.has(ticket.ticket_id) ? " fresh" : ""),
        "data-ticket": ticket.ticket_id,
        "data-state": ticket.state,
        "data-age": ageLevel(age, board.station),
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
    return Array.from(board.tickets.values()).sort(
      (a, b) => Date.parse(a.created_at) - Date.parse(b.created_at) || (a.ticket_id < b.ticket_id ? -1 : 1),
    );
  }

  function render() {
    const tickets = sorted();
    $("tickets").replaceChildren(...tickets.map(ticketNode));
    $("empty").hidden = tickets.length > 0 || board.rev === null;
    $("station-name").textContent = board.station.name;
    $("open-count").textContent = tickets.length === 1 ? t("bar.open_one") : t("bar.open", { n: tickets.length });
    app.dataset.rev = board.rev === null ? "" : String(board.rev);
  }

  /** Every second: the timers and their colours, without rebuilding the tickets. */
  function tick() {
    for (const node of $("tickets").children) {
      const ticket = board.tickets.get(node.dataset.ticket);
      if (!ticket) continue;
      const age = ageOf(ticket, clock.now());
      node.querySelector(".timer").textContent = formatAge(age);
      node.dataset.age = ageLevel(age, board.station);
    }
    clock.show($("clock"));
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
    const ticket = board.tickets.get(ticketNode_.dataset.ticket);
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
  pressOnEnter($("tickets"), "[role=button]");
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

  watchSocket(live, t, toasts, errorText);
  board.follow("kitchen:" + chosen.id);
  live.start();

  showSound();
  render();
  tick();
  setInterval(tick, 1000);
  app.hidden = false;
}

boot();

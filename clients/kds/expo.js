// The expo screen: every kitchen station of a store at once, as orders (one card per order, one part per
// station) and a summary per station. Whoever hands the dishes out serves a ready part with a tap, or the
// whole order once every part is ready ("Listo para servir").
//
// The hub is the source of truth, station by station, with the same rules as the station screen (kds.js):
// kitchen.expo answers each station's open tickets at its `rev` with its stream's position (seq, epoch);
// the screen follows each `kitchen:<station>` stream from that position (the hub replays what came after
// it) and applies each KitchenTicketChanged / KitchenStationChanged whose rev is that station's next one.
// An event at or below the station's rev is already shown; a jump means one was missed and that station
// reloads (kitchen.get), holding the events that arrive meanwhile. After a dropped socket live.js resumes
// every stream from its last seq; when the hub cannot replay (resync) the station reloads.
import { $, h } from "/static/dom.js";
import { loadMessages } from "/static/i18n.js";
import { LiveSocket, bindConnectionBadge } from "/static/live.js";
import { groupOrders, orderNode, summaryNode, tick } from "/kds/expo_view.js";
import { Toasts } from "/kds/shared.js";

const STATION_KEY = "storehub.kds.station"; // the station screen's choice on this device (kds.js)
const DENIED = new Set(["forbidden", "not_found"]);

async function boot() {
  let messages;
  try {
    messages = await loadMessages("/kds/i18n/");
  } catch (err) {
    setTimeout(boot, 3000); // nothing to say it with yet: the loading text stays and we try again
    return;
  }
  messages.apply(document);
  document.title = messages.t("expo.title");
  const { api } = window.storehub;
  let storeId = new URLSearchParams(location.search).get("store");
  try {
    const me = await api("/api/v1/auth/me");
    storeId = storeId || (me.user && me.user.store_id);
    if (!storeId) {
      // Not bound to a store: the store of this device's station, or of the first station there is.
      const stations = await api("/api/v1/kitchen/stations");
      if (!stations.length) return deny(messages, "none");
      const remembered = stations.find((s) => s.id === localStorage.getItem(STATION_KEY));
      storeId = (remembered || stations[0]).store_id;
    }
  } catch (err) {
    if (err.status === 401) return location.assign("/login/");
    if (err.status === 403) return deny(messages, "forbidden");
    $("boot").replaceChildren(h("span", { text: messages.t("boot.failed") }));
    const retry = h("button", { type: "button", text: messages.t("boot.retry") });
    retry.addEventListener("click", () => location.reload());
    $("boot").append(retry);
    return;
  }
  $("boot").hidden = true;
  start(messages, storeId);
}

/** This user may not see the store's kitchen (or there is none): say so instead of the screen. */
function deny(messages, reason) {
  $("boot").hidden = true;
  $("app").hidden = true;
  $("denied-text").textContent = messages.t("expo.denied." + reason);
  $("denied").dataset.reason = reason;
  $("denied").hidden = false;
}

function start(messages, storeId) {
  const url = new URL(location.href);
  url.searchParams.set("store", storeId);
  history.replaceState(null, "", url);

  const t = messages.t.bind(messages);
  const live = new LiveSocket();
  const toasts = new Toasts($("toasts"));
  const app = $("app");
  const view = {
    stations: new Map(), // station_id -> {station, rev, tickets, loading, held, stop}, in code order
    orders: new Map(), // order_id -> the order as last drawn (what a tap refers to)
    offset: 0, // hub clock minus this screen's clock
    loaded: false,
    busy: new Set(), // tickets being served: a second tap must not bump twice
  };
  const ctx = { t, now: () => Date.now() + view.offset, busy: view.busy };

  function errorText(err) {
    const key = "errors." + (err && err.code);
    return messages.has(key) ? t(key) : (err && err.message) || t("errors.generic");
  }

  // -- state ----------------------------------------------------------------------------------------------

  /** A station's state exactly as the hub answered it (kitchen.expo or kitchen.get). */
  function take(record, state) {
    record.station = state.station;
    record.rev = state.rev;
    record.tickets = new Map(state.tickets.map((ticket) => [ticket.ticket_id, ticket]));
    view.offset = Date.parse(state.server_time) - Date.now();
  }

  /** The whole store, once: every station's state, and each stream followed from its position. */
  async function load() {
    try {
      const expo = await live.request("kitchen.expo", { store_id: storeId });
      if (!expo.stations.length) {
        live.stop();
        deny(messages, "none");
        return;
      }
      const stations = new Map();
      for (const state of expo.stations) {
        const id = state.station.station_id;
        const record = view.stations.get(id) || { rev: null, loading: false, held: [], stop: null };
        take(record, state);
        if (!record.stop) record.stop = live.subscribe(state.stream, { ...handlers(record), from: state });
        stations.set(id, record);
      }
      view.stations = stations;
      view.loaded = true;
    } catch (err) {
      if (DENIED.has(err.code)) {
        live.stop();
        deny(messages, err.code);
        return;
      }
      toasts.show(errorText(err));
      setTimeout(load, 3000);
    }
    render();
  }

  function handlers(record) {
    return {
      onEvent(name, payload) {
        if (apply(record, name, payload, false)) render();
      },
      onReset: () => reload(record),
    };
  }

  /** One station again (a missed change, or the hub could not replay its stream). */
  async function reload(record) {
    if (record.loading) return;
    record.loading = true;
    record.held = [];
    try {
      take(record, await live.request("kitchen.get", { station_id: record.station.station_id }));
      record.loading = false;
      const held = record.held;
      record.held = [];
      for (const [name, payload] of held) apply(record, name, payload, false);
    } catch (err) {
      record.loading = false;
      toasts.show(errorText(err));
      setTimeout(() => reload(record), 3000);
    }
    render();
  }

  /**
   * One change of a station (an event, or a bump's reply, which often comes before its event). Returns
   * false when an event reveals a missed change: the station reloads. A reply that is not the next change
   * waits for the events instead.
   */
  function apply(record, name, payload, reply) {
    if (record.loading) {
      if (!reply) record.held.push([name, payload]);
      return true;
    }
    if (record.rev === null || payload.rev <= record.rev) return true; // shown already
    if (payload.rev !== record.rev + 1) {
      if (reply) return true;
      reload(record);
      return false;
    }
    record.rev = payload.rev;
    if (name === "KitchenStationChanged") record.station = payload;
    else if (payload.state === "served") record.tickets.delete(payload.ticket_id);
    else record.tickets.set(payload.ticket_id, payload);
    return true;
  }

  // -- serving --------------------------------------------------------------------------------------------

  /** Bump each ready part to served, on its own station. */
  async function serve(order, parts) {
    const todo = parts.filter((part) => part.ticket.state === "ready" && !view.busy.has(part.ticket.ticket_id));
    if (!todo.length) return;
    for (const part of todo) view.busy.add(part.ticket.ticket_id);
    render();
    const results = await Promise.allSettled(
      todo.map(async (part) => {
        const payload = { station_id: part.station.station_id, ticket_id: part.ticket.ticket_id };
        const ticket = await live.request("kitchen.bump", payload);
        const record = view.stations.get(ticket.station_id);
        if (record) apply(record, "KitchenTicketChanged", ticket, true);
      }),
    );
    for (const part of todo) view.busy.delete(part.ticket.ticket_id);
    const failed = results.find((result) => result.status === "rejected");
    const table = order.table ? t("ticket.table", { table: order.table }) : t("ticket.no_table");
    if (failed) toasts.show(errorText(failed.reason));
    else toasts.show(t("expo.served", { table }), "ok");
    render();
  }

  // -- drawing --------------------------------------------------------------------------------------------

  function render() {
    const records = Array.from(view.stations.values());
    const orders = groupOrders(records);
    view.orders = new Map(orders.map((order) => [order.order_id, order]));
    $("orders").replaceChildren(...orders.map((order) => orderNode(ctx, order)));
    $("summary").replaceChildren(...records.map((record) => summaryNode(ctx, record)));
    $("empty").hidden = orders.length > 0 || !view.loaded;
    $("order-count").textContent = orders.length === 1 ? t("expo.orders_one") : t("expo.orders", { n: orders.length });
    app.dataset.loaded = String(view.loaded);
    app.dataset.ready = String(orders.filter((order) => order.parts.every((p) => p.ticket.state === "ready")).length);
    everySecond();
  }

  function everySecond() {
    const stations = new Map(Array.from(view.stations, ([id, record]) => [id, record.station]));
    tick(ctx, app, stations);
    $("clock").textContent = new Date(ctx.now()).toLocaleTimeString("es", { hour: "2-digit", minute: "2-digit" });
  }

  // -- wiring ---------------------------------------------------------------------------------------------

  $("orders").addEventListener("click", (event) => {
    const card = event.target.closest(".order");
    const order = card && view.orders.get(card.dataset.order);
    if (!order) return;
    if (event.target.closest(".serve-all")) {
      serve(order, order.parts);
      return;
    }
    const node = event.target.closest(".part");
    const part = node && order.parts.find((p) => p.ticket.ticket_id === node.dataset.ticket);
    if (part) serve(order, [part]);
  });
  $("orders").addEventListener("keydown", (event) => {
    if ((event.key === "Enter" || event.key === " ") && event.target.closest(".part[role=button]")) {
      event.preventDefault();
      event.target.click();
    }
  });
  $("to-station").addEventListener("click", () => location.assign("/kds/"));

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
  live.start();
  load(); // waits for the connection

  render();
  setInterval(everySecond, 1000);
  app.hidden = false;
}

boot();

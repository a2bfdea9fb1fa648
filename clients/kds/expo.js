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
// every stream from its last seq; when the hub cannot replay (resync) the station reloads. Each station's
// state and those rules are a StationTickets (station_tickets.js), as on the station screen.
import { $ } from "/static/dom.js";
import { LiveSocket } from "/static/live.js";
import { groupOrders, orderNode, summaryNode, tick } from "/kds/expo_view.js";
import { errorTexts, loadTexts, pressOnEnter, showBootFailed, watchSocket } from "/kds/screen.js";
import { HubClock, Toasts, tableName } from "/kds/shared.js";
import { StationTickets } from "/kds/station_tickets.js";

const STATION_KEY = "storehub.kds.station"; // the station screen's choice on this device (kds.js)
const DENIED = new Set(["forbidden", "not_found"]);

async function boot() {
  const messages = await loadTexts("expo.title", boot);
  if (!messages) return;
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
    showBootFailed(messages);
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
  const errorText = errorTexts(messages);
  const live = new LiveSocket();
  const toasts = new Toasts($("toasts"));
  const clock = new HubClock();
  const app = $("app");
  const view = {
    stations: new Map(), // station_id -> its StationTickets, in code order
    orders: new Map(), // order_id -> the order as last drawn (what a tap refers to)
    loaded: false,
    busy: new Set(), // tickets being served: a second tap must not bump twice
  };
  const ctx = { t, now: () => clock.now(), busy: view.busy };
  const hooks = { clock, changed: () => render(), failed: (err) => toasts.show(errorText(err)) };

  // -- state ----------------------------------------------------------------------------------------------

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
        const record = view.stations.get(id) || new StationTickets(live, state.station, hooks);
        record.take(state);
        record.follow(state.stream, state);
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
        if (record) record.apply("KitchenTicketChanged", ticket, true);
      }),
    );
    for (const part of todo) view.busy.delete(part.ticket.ticket_id);
    const failed = results.find((result) => result.status === "rejected");
    if (failed) toasts.show(errorText(failed.reason));
    else toasts.show(t("expo.served", { table: tableName(t, order) }), "ok");
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
    clock.show($("clock"));
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
  pressOnEnter($("orders"), ".part[role=button]");
  $("to-station").addEventListener("click", () => location.assign("/kds/"));

  watchSocket(live, t, toasts, errorText);
  live.start();
  load(); // waits for the connection

  render();
  setInterval(everySecond, 1000);
  app.hidden = false;
}

boot();

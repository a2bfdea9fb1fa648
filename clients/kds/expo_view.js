// The expo screen's drawing: the stations' open tickets grouped into orders (one card per order, one part
// per station), and a compact summary per station. Pure functions of the state expo.js keeps; texts come
// from ctx.t (i18n/es.json). ctx: {t, now() (the hub's clock in ms), busy (ticket ids being served)}.
import { h } from "/static/dom.js";
import { ageLevel, ageOf, formatAge, formatQuantity, tableName } from "/kds/shared.js";

const LEVELS = ["ok", "warn", "late"];
const COUNTED = ["new", "in_progress", "ready"];

function since(ticket) {
  return Date.parse(ticket.created_at);
}

/**
 * Every open ticket of `records` (the stations, in their code order: {station, tickets}) grouped by its
 * order_id: [{order_id, table, server, course, created, parts: [{ticket, station}]}], oldest order first,
 * each order's parts in the stations' order.
 */
export function groupOrders(records) {
  const orders = new Map();
  for (const record of records) {
    for (const ticket of record.tickets.values()) {
      let order = orders.get(ticket.order_id);
      if (!order) {
        order = { order_id: ticket.order_id, table: ticket.table, server: ticket.server, course: ticket.course, created: since(ticket), parts: [] };
        orders.set(ticket.order_id, order);
      }
      order.created = Math.min(order.created, since(ticket));
      order.parts.push({ ticket, station: record.station });
    }
  }
  return Array.from(orders.values()).sort((a, b) => a.created - b.created || (a.order_id < b.order_id ? -1 : 1));
}

/** "all" when every open part of the order is ready, "some", or "none". */
export function readiness(order) {
  const ready = order.parts.filter((part) => part.ticket.state === "ready").length;
  return ready === order.parts.length ? "all" : ready ? "some" : "none";
}

function worst(levels) {
  return levels.reduce((a, b) => (LEVELS.indexOf(b) > LEVELS.indexOf(a) ? b : a), "ok");
}

function itemNode(item) {
  const extra = [item.modifiers.join(", "), item.note].filter(Boolean).join(" · ");
  return h(
    "li",
    { class: "part-item", "data-state": item.state },
    h("span", { class: "qty", text: formatQuantity(item.quantity) + "×" }),
    h("span", { class: "name", text: item.name }),
    extra ? h("span", { class: "extra", text: extra }) : null,
  );
}

function partNode(ctx, part) {
  const { ticket, station } = part;
  const age = ageOf(ticket, ctx.now());
  const ready = ticket.state === "ready";
  const state = ctx.t("expo.state." + ticket.state);
  return h(
    "li",
    {
      class: "part",
      "data-ticket": ticket.ticket_id,
      "data-station": station.station_id,
      "data-state": ticket.state,
      "data-age": ageLevel(age, station),
      "data-since": ticket.created_at,
      "data-busy": ctx.busy.has(ticket.ticket_id),
      role: ready ? "button" : null,
      tabindex: ready ? 0 : null,
      "aria-label": ctx.t("expo.part_label", { station: station.name, state, age: formatAge(age) }),
    },
    h(
      "div",
      { class: "part-head" },
      h("strong", { class: "station-name", text: station.name }),
      h("span", { class: "timer", text: formatAge(age) }),
    ),
    h("ul", { class: "part-items" }, ticket.items.map(itemNode)),
    ticket.note ? h("p", { class: "part-note", text: ticket.note }) : null,
    h(
      "div",
      { class: "part-foot" },
      h("span", { class: "badge", text: state }),
      ready ? h("span", { class: "serve", text: ctx.t("expo.serve") }) : null,
    ),
  );
}

export function orderNode(ctx, order) {
  const ready = readiness(order);
  const count = order.parts.filter((part) => part.ticket.state === "ready").length;
  const age = (ctx.now() - order.created) / 1000;
  const meta = [order.server, order.course].filter(Boolean).join(" · ");
  const levels = order.parts.map((part) => ageLevel(ageOf(part.ticket, ctx.now()), part.station));
  const busy = order.parts.some((part) => ctx.busy.has(part.ticket.ticket_id));
  const progress = { ready: count, n: order.parts.length };
  return h(
    "article",
    {
      class: "order",
      "data-order": order.order_id,
      "data-ready": ready,
      "data-age": worst(levels),
      "data-busy": busy,
      "aria-label": ctx.t("expo.order_label", Object.assign({ table: tableName(ctx.t, order), age: formatAge(age) }, progress)),
    },
    h(
      "header",
      { class: "order-head" },
      h("strong", { class: "table", text: tableName(ctx.t, order) }),
      h("span", { class: "timer", "data-since": new Date(order.created).toISOString(), text: formatAge(age) }),
    ),
    meta ? h("p", { class: "meta", text: meta }) : null,
    h("ul", { class: "parts" }, order.parts.map((part) => partNode(ctx, part))),
    ready === "all"
      ? h(
          "button",
          { class: "serve-all", type: "button", disabled: busy },
          h("strong", { text: ctx.t("expo.ready_all") }),
          h("span", { text: ctx.t("expo.serve_all") }),
        )
      : h("p", { class: "progress", text: ctx.t("expo.progress", progress) }),
  );
}

/** One station's counts by state and its oldest open ticket's age; a link to that station's screen. */
export function summaryNode(ctx, record) {
  const tickets = Array.from(record.tickets.values());
  const oldest = tickets.reduce((a, b) => (a === null || since(b) < since(a) ? b : a), null);
  const age = oldest ? ageOf(oldest, ctx.now()) : 0;
  const station = record.station;
  return h(
    "a",
    {
      class: "station-sum",
      href: "/kds/?station=" + encodeURIComponent(station.station_id),
      "data-station": station.station_id,
      "data-rev": record.rev === null ? "" : String(record.rev),
      "data-age": oldest ? ageLevel(age, station) : "ok",
      "data-since": oldest ? oldest.created_at : null,
    },
    h(
      "div",
      { class: "sum-head" },
      h("strong", { class: "station-name", text: station.name }),
      h("span", { class: "timer", text: oldest ? formatAge(age) : ctx.t("expo.idle") }),
    ),
    h(
      "dl",
      { class: "counts" },
      COUNTED.map((state) =>
        h(
          "div",
          { class: "count", "data-state": state },
          h("dt", { text: ctx.t("expo.count." + state) }),
          h("dd", { text: String(tickets.filter((ticket) => ticket.state === state).length) }),
        ),
      ),
    ),
  );
}

/**
 * Every second: timers and their colours in place (a tap must not land on a node just rebuilt).
 * stations: station_id -> StationView (its thresholds).
 */
export function tick(ctx, root, stations) {
  const now = ctx.now();
  for (const node of root.querySelectorAll(".part[data-since], .station-sum[data-since]")) {
    const station = stations.get(node.dataset.station);
    if (!station) continue;
    const age = (now - Date.parse(node.dataset.since)) / 1000;
    node.dataset.age = ageLevel(age, station);
    node.querySelector(".timer").textContent = formatAge(age);
  }
  for (const order of root.querySelectorAll(".order")) {
    const timer = order.querySelector(".order-head .timer");
    timer.textContent = formatAge((now - Date.parse(timer.dataset.since)) / 1000);
    order.dataset.age = worst(Array.from(order.querySelectorAll(".part"), (part) => part.dataset.age));
  }
}

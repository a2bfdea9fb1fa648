// What the station screen (kds.js) and the expo screen (expo.js) share: how quantities, tables and ages
// read, the age levels by a station's thresholds, the hub's clock, and the toasts. No texts of its own:
// the callers pass them in.
import { h } from "/static/dom.js";

/** Thousandths of a unit as the cooks read them: 2000 -> "2", 500 -> "0,5". */
export function formatQuantity(thousandths) {
  return String(thousandths / 1000).replace(".", ",");
}

/** Seconds as m:ss (h:mm:ss past an hour). */
export function formatAge(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

/** "Mesa 7" for a ticket (or an order) of table 7, "Sin mesa" without one; t: the catalog's texts. */
export function tableName(t, ticket) {
  return ticket.table ? t("ticket.table", { table: ticket.table }) : t("ticket.no_table");
}

/** A ticket's age in seconds at `now` (ms on the hub's clock). */
export function ageOf(ticket, now) {
  return (now - Date.parse(ticket.created_at)) / 1000;
}

/** The hub's clock as this screen reckons it (from the last state's server_time): ages agree with the hub. */
export class HubClock {
  constructor() {
    this.offset = 0; // hub clock minus this screen's clock, in ms
  }

  set(serverTime) {
    this.offset = Date.parse(serverTime) - Date.now();
  }

  now() {
    return Date.now() + this.offset;
  }

  /** The hub's hour and minute in the screen's bar. */
  show(node) {
    node.textContent = new Date(this.now()).toLocaleTimeString("es", { hour: "2-digit", minute: "2-digit" });
  }
}

/** ok, warn or late for a ticket of that age at a station with those thresholds. */
export function ageLevel(seconds, station) {
  if (seconds >= station.late_after_s) return "late";
  if (seconds >= station.warn_after_s) return "warn";
  return "ok";
}

/** At most two messages at the foot of the screen; errors stay longer than confirmations. */
export class Toasts {
  constructor(container) {
    this.container = container;
  }

  show(text, kind) {
    const node = h("div", { class: "toast " + (kind || "error"), role: kind === "ok" ? "status" : "alert", text });
    this.container.append(node);
    while (this.container.children.length > 2) this.container.firstElementChild.remove();
    setTimeout(() => node.remove(), kind === "ok" ? 2500 : 4500);
  }
}

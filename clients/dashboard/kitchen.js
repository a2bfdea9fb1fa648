// The dashboard's "Cocina" card: per kitchen station, today's tickets (by when they were opened): how many
// are open and how long the oldest has waited (ticking every second), the average and longest preparation
// (opened -> ready), and how many were served (with the average time until served).
//
// Ages are measured on the hub's clock: the snapshot says what time it was there (server_time), so a
// phone whose clock is a few minutes off still shows the right age.
import { formatAge as duration } from "/kds/shared.js"; // ages written as the kitchen display writes them
import { $, h } from "/static/dom.js";

export function createKitchen(messages) {
  const t = messages.t.bind(messages);
  const tn = (key, n) => t(key + (n === 1 ? "_one" : "_other"), { n });
  let offset = 0; // the hub's clock minus ours, in milliseconds
  let serverTime = null;
  let ticker = null;

  function age(since) {
    return duration((Date.now() + offset - Date.parse(since)) / 1000);
  }

  function tick() {
    for (const node of document.querySelectorAll("#kitchen [data-since]")) {
      node.textContent = age(node.dataset.since);
    }
  }

  function figure(cls, label, value, attrs, note) {
    return h("div", { class: "kfigure" },
      h("span", { class: "label", text: t(label) }),
      h("strong", { class: "value " + cls, ...(attrs || {}), text: value }),
      note || null);
  }

  function station(k) {
    const none = t("kitchen.none");
    const details = [];
    if (k.ready_waiting) details.push(tn("kitchen.ready_waiting", k.ready_waiting));
    if (k.served) details.push(t("kitchen.to_serve", { time: duration(k.serve_avg_s) }));
    return h("li", { "data-station-id": k.station_id, "data-open": String(k.open) },
      h("span", { class: "name", text: k.name }),
      h("span", { class: "details muted small", text: details.join(" · ") }),
      h("div", { class: "kfigures" },
        figure("open", "kitchen.open", String(k.open)),
        k.oldest_open_at
          ? figure("oldest", "kitchen.oldest", age(k.oldest_open_at), { "data-since": k.oldest_open_at })
          : figure("oldest", "kitchen.oldest", none),
        figure("prep-avg", "kitchen.prep_avg", k.prep_count ? duration(k.prep_avg_s) : none, null,
          k.prep_count ? h("span", { class: "prep-max muted small",
            text: t("kitchen.prep_max", { time: duration(k.prep_max_s) }) }) : null),
        figure("served", "kitchen.served", String(k.served))));
  }

  /** Draw the card from the dashboard's view (hidden where the tenant has no kitchen station). */
  function render(view) {
    if (view.server_time && view.server_time !== serverTime) {
      serverTime = view.server_time; // a new snapshot: measure the clocks' difference again
      offset = Date.parse(serverTime) - Date.now();
    }
    const stations = view.kitchen || [];
    $("kitchen-card").hidden = stations.length === 0;
    $("kitchen").replaceChildren(...stations.map(station));
    const open = stations.reduce((sum, k) => sum + k.open, 0);
    $("kitchen-summary").textContent = tn("kitchen.open_total", open);
    clearInterval(ticker);
    ticker = stations.some((k) => k.oldest_open_at) ? setInterval(tick, 1000) : null;
  }

  return { render };
}

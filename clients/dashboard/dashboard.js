// The owner's live dashboard: today's sales, per register and hour, margins, stock, tax documents, cash
// sessions, devices and kitchen ticket times (kitchen.js), on a phone or a laptop.
//
// * Live: the page follows the `tenant` stream through live.js. On the first subscription (and whenever
//   the hub cannot replay what we missed) live.js calls onReset: we ask `dashboard.get` for the snapshot.
//   DashboardChanged events carry only the sections that changed, each whole: we replace those sections.
// * The snapshot says which stream position it includes (seq, epoch). Events arriving while it is on its
//   way are kept and, once it is here, the newer ones (higher seq) are applied on top; older ones dropped.
//   A `reset` event (the hub rebuilt its figures, a new day began) asks for a new snapshot.
// * The chart is an inline SVG drawn here: no libraries, nothing inline in the HTML (CSP script-src 'self').
// * Reports: any range of days as a table, or as CSV for Excel (GET /api/v1/reports/sales).
// Text comes from i18n/es.json; money is formatted per currency (CLP no decimals, USD cents).
import { $, h } from "/static/dom.js";
import { startPage, toLogin } from "/static/page.js";
import { LiveSocket, bindConnectionBadge, connectionLabels } from "/static/live.js";
import { Money, currencyOf, formatQuantity } from "/static/money.js";
import { createKitchen } from "/dashboard/kitchen.js";

const MANAGERS = new Set(["owner", "manager"]);
const SVG = "http://www.w3.org/2000/svg";
const REPORTS = "/api/v1/reports/sales";
const MAX_REPORT_DAYS = 366;
// DashboardChanged field -> the part of the page that shows it.
const SECTIONS = {
  totals: "totals", registers: "registers", hours: "hours", top_products: "products",
  top_categories: "categories", low_stock: "stock", low_stock_count: "stock", fiscal: "fiscal",
  cash_sessions: "cash", devices: "devices", kitchen: "kitchen",
};

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

async function boot() {
  const page = await startPage({
    i18n: "/dashboard/i18n/",
    title: "title",
    sessionFailed: "session_failed",
    retry: boot,
  });
  if (!page) return;
  const { messages, me } = page;
  if (!MANAGERS.has(me.role)) {
    $("refused").hidden = false; // the hub would refuse dashboard.get anyway
    return;
  }
  $("live").hidden = false;
  createDashboard(messages, new Money(currencyOf(me.tenant)));
}

function createDashboard(messages, money) {
  const t = messages.t.bind(messages);
  const tn = (key, n) => t(key + (n === 1 ? "_one" : "_other"), { n }); // Spanish has two plural forms
  const locale = messages.lookup("locale") || "es-CL";
  const live = new LiveSocket();
  let view = null; // the DashboardView, kept current by the events
  let buffered = null; // events that arrive while a snapshot is on its way
  let loading = 0;
  let retryTimer = null;
  const kitchen = createKitchen(messages);

  bindConnectionBadge(live, $("conn"), connectionLabels(t));
  live.addEventListener("unauthenticated", toLogin);

  // -- formatting ---------------------------------------------------------------------------------------

  function zoned(options) {
    return new Intl.DateTimeFormat(locale, { timeZone: view.timezone, ...options });
  }

  /** "2026-03-01" (a calendar day) in words, without moving it by any time zone. */
  function dayText(text, options) {
    const [y, m, d] = String(text).split("-").map(Number);
    return new Intl.DateTimeFormat(locale, { timeZone: "UTC", ...options }).format(new Date(Date.UTC(y, m - 1, d)));
  }

  function share(part, whole) {
    return whole ? (Math.round((part * 1000) / whole) / 10).toLocaleString(locale) : "0";
  }

  function docType(code) {
    return messages.has("doc_type." + code) ? t("doc_type." + code) : t("doc_type.other", { code });
  }

  function flash(node) {
    node.classList.remove("changed");
    void node.offsetWidth; // restart the animation
    node.classList.add("changed");
  }

  function fill(listId, emptyId, items, render) {
    $(listId).replaceChildren(...items.map(render));
    if (emptyId) $(emptyId).hidden = items.length > 0;
  }

  // -- sections -----------------------------------------------------------------------------------------

  function renderTotals() {
    const s = view.totals;
    $("total").textContent = money.format(s.total);
    $("count").textContent = String(s.count);
    $("average").textContent = money.format(s.average);
    $("margin").textContent = money.format(s.margin);
    $("margin-share").textContent = t("totals.margin_share", { share: share(s.margin, s.net) });
    $("net").textContent = money.format(s.net);
    $("tax").textContent = t("totals.tax", { amount: money.format(s.tax) });
    $("returns").textContent = money.format(s.returns_total);
    $("returns-count").textContent = tn("totals.returns_count", s.returns);
    flash($("total"));
  }

  function renderRegisters() {
    fill("registers", null, view.registers, (r) =>
      h("li", { "data-register-id": r.register_id },
        h("span", { class: "name", text: r.name }),
        h("span", { class: "muted small", text: [tn("registers.sales", r.count),
          r.returns ? tn("registers.returns", r.returns) : ""].filter(Boolean).join(" · ") }),
        h("strong", { class: "amount", text: money.format(r.total) })));
  }

  function renderHours() {
    const chart = $("hours-chart");
    const { today, last_week: lastWeek, last_week_day: lastDay } = view.hours;
    const lastWeekDay = dayText(lastDay, { weekday: "long", day: "numeric", month: "short" });
    $("last-week-key").textContent = t("hours.last_week", { day: lastWeekDay });
    // Drawn at the chart's own size in pixels, so text is never stretched; redrawn when that changes.
    const box = chart.getBoundingClientRect();
    const width = Math.max(240, Math.round(box.width) || 720), height = Math.max(120, Math.round(box.height) || 240);
    const left = 8, top = 22, bottom = 22;
    const band = (width - left) / 24;
    const peak = Math.max(1, ...today, ...lastWeek);
    const y = (value) => top + (height - top - bottom) * (1 - Math.max(0, value) / peak);
    const nodes = [svg("title", {}, t("hours.chart"))];
    for (const fraction of [0, 0.5, 1]) {
      const at = y(peak * fraction);
      nodes.push(svg("line", { x1: left, x2: width, y1: at, y2: at, class: "grid" }));
      const label = money.format(Math.round(peak * fraction));
      if (fraction) nodes.push(svg("text", { x: left + 2, y: at - 4, class: "axis" }, label));
    }
    for (let hour = 0; hour < 24; hour += 1) {
      const x = left + hour * band;
      // Last week's bar wide and pale behind, today's narrow in front: (class, value, offset, width, title)
      const bars = [
        ["last-week", lastWeek[hour], 0.12, 0.76, "hours.bar_last_week"],
        ["today", today[hour], 0.3, 0.4, "hours.bar_today"],
      ];
      for (const [kind, value, offset, size, label] of bars) {
        const bar = svg("rect", { x: x + band * offset, y: y(value), width: band * size,
          height: Math.max(0, height - bottom - y(value)), class: "bar " + kind, "data-hour": hour });
        bar.append(svg("title", {}, t(label, { hour, amount: money.format(value) })));
        nodes.push(bar);
      }
      if (hour % 3 === 0) nodes.push(svg("text", { x: x + band / 2, y: height - 6, class: "axis hour" }, String(hour)));
    }
    chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
    chart.setAttribute("aria-label", t("hours.chart"));
    chart.replaceChildren(...nodes);
  }

  function renderProducts() {
    fill("products", "products-empty", view.top_products, (p) =>
      h("tr", { "data-product-id": p.product_id },
        h("td", { text: p.name }),
        h("td", { class: "num", text: formatQuantity(p.quantity, p.unit, ",", "kg") }),
        h("td", { class: "num", text: money.format(p.total) }),
        h("td", { class: "num" + (p.margin < 0 ? " negative" : ""), text: money.format(p.margin) })));
  }

  function renderCategories() {
    fill("categories", "categories-empty", view.top_categories, (c) =>
      h("tr", {},
        h("td", { text: c.name || t("categories.none") }),
        h("td", { class: "num", text: money.format(c.total) }),
        h("td", { class: "num" + (c.margin < 0 ? " negative" : ""), text: money.format(c.margin) })));
  }

  function renderStock() {
    const quantity = (q, unit) => formatQuantity(q, unit, ",");
    fill("low-stock", "stock-empty", view.low_stock, (i) =>
      h("li", { "data-product-id": i.product_id },
        h("span", { class: "name", text: i.name }),
        h("span", { class: "muted small", text: i.warehouse }),
        h("strong", { class: "amount warn",
          text: t("stock.left", { quantity: quantity(i.quantity), min: quantity(i.min_stock) }) })));
    const more = view.low_stock_count - view.low_stock.length;
    $("stock-more").hidden = more <= 0;
    $("stock-more").textContent = tn("stock.more", more);
  }

  function renderFiscal() {
    const counts = Object.entries(view.fiscal.counts);
    $("fiscal-counts").replaceChildren(
      ...(counts.length ? counts.map(([status, n]) =>
        h("span", { class: "chip status-" + status, "data-status": status, text: t("fiscal.count",
          { status: messages.has("status." + status) ? t("status." + status) : status, n }) }))
        : [h("span", { class: "muted", text: t("fiscal.empty") })]));
    fill("rejections", "rejections-empty", view.fiscal.rejections, (r) =>
      h("li", { "data-document-id": r.document_id },
        h("span", { class: "name", text: r.folio === null ? t("fiscal.no_folio", { type: docType(r.doc_type) })
          : t("fiscal.document", { type: docType(r.doc_type), folio: r.folio }) }),
        h("span", { class: "reason", text: r.reason })));
  }

  function renderCash() {
    const time = zoned({ hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    fill("cash", "cash-empty", view.cash_sessions, (c) =>
      h("li", { "data-session-id": c.session_id },
        h("span", { class: "name", text: c.register }),
        h("span", { class: "muted small", text: t("cash.opened", { time: time.format(new Date(c.opened_at)) }) }),
        h("strong", { class: "amount", text: t("cash.float", { amount: money.format(c.float_amount) }) })));
  }

  function deviceChips(d) {
    const chips = [];
    if (!d.connected) chips.push(["bad", t("devices.disconnected")]);
    else if (!d.online) chips.push(["bad", t("devices.offline")]);
    for (const flag of ["paper_out", "cover_open", "error"]) if (d[flag]) chips.push(["bad", t("devices." + flag)]);
    if (d.paper_near_end) chips.push(["warn", t("devices.paper_near_end")]);
    if (d.held) chips.push(["warn", tn("devices.held", d.held)]);
    if (d.waiting) chips.push(["", tn("devices.waiting", d.waiting)]);
    if (d.failed_today) chips.push(["bad", tn("devices.failed", d.failed_today)]);
    if (!chips.some(([level]) => level === "bad")) chips.unshift(["ok", t("devices.ok")]);
    return chips.map(([level, text]) => h("span", { class: "chip " + level, text }));
  }

  function renderDevices() {
    fill("devices", "devices-empty", view.devices, (d) =>
      h("li", { "data-device-id": d.device_id, "data-connected": String(d.connected) },
        h("span", { class: "name", text: d.name }),
        h("span", { class: "muted small",
          text: messages.has("devices.kind." + d.kind) ? t("devices.kind." + d.kind) : d.kind }),
        h("span", { class: "chips" }, deviceChips(d))));
  }

  const RENDER = {
    totals: renderTotals, registers: renderRegisters, hours: renderHours, products: renderProducts,
    categories: renderCategories, stock: renderStock, fiscal: renderFiscal, cash: renderCash, devices: renderDevices,
    kitchen: () => kitchen.render(view),
  };

  function renderAll() {
    $("day").textContent = t("today", { date: dayText(view.day, { weekday: "long", day: "numeric", month: "long" }) });
    for (const render of Object.values(RENDER)) render();
  }

  // -- live ---------------------------------------------------------------------------------------------

  function newer(frame) {
    return frame.epoch !== view.epoch || frame.seq > view.seq;
  }

  function applyChange(change, frame) {
    if (change.reset || change.day !== view.day) {
      reload();
      return;
    }
    view.seq = frame.seq;
    view.epoch = frame.epoch;
    const parts = new Set();
    for (const [field, part] of Object.entries(SECTIONS)) {
      if (field in change) {
        view[field] = change[field];
        parts.add(part);
      }
    }
    for (const part of parts) RENDER[part]();
  }

  async function reload() {
    const ticket = ++loading;
    buffered = buffered || [];
    clearTimeout(retryTimer);
    try {
      const snapshot = await live.request("dashboard.get", {}, { timeout: 15000 });
      if (ticket !== loading) return;
      view = snapshot;
      const waiting = buffered;
      buffered = null;
      $("error").textContent = "";
      renderAll();
      for (const { payload, frame } of waiting) if (view && newer(frame)) applyChange(payload, frame);
    } catch (err) {
      if (ticket !== loading) return;
      if (err.code === "forbidden") {
        $("live").hidden = true;
        $("refused").hidden = false;
        live.stop();
        return;
      }
      $("error").textContent = t("load_failed");
      retryTimer = setTimeout(reload, 3000);
    }
  }

  function onEvent(name, payload, frame) {
    if (name !== "DashboardChanged") return;
    if (buffered) buffered.push({ payload, frame });
    else if (view && newer(frame)) applyChange(payload, frame);
  }

  let drawn = 0;
  new ResizeObserver(() => {
    const width = Math.round($("hours-chart").getBoundingClientRect().width);
    if (view && width !== drawn) renderHours();
    drawn = width;
  }).observe($("hours-chart"));
  live.subscribe("tenant", { onEvent, onReset: reload });
  live.start();
  createReports(messages, money);
}

function createReports(messages, money) {
  const t = messages.t.bind(messages);
  const { api } = window.storehub;
  const today = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  const iso = (d) => d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  $("report-to").value = iso(today);
  $("report-from").value = iso(new Date(today.getFullYear(), today.getMonth(), today.getDate() - 6));

  function query(extra) {
    return REPORTS + "?" + new URLSearchParams({ from: $("report-from").value, to: $("report-to").value, ...extra });
  }

  function links() {
    $("report-csv").href = query({ format: "csv" });
    $("report-csv-registers").href = query({ format: "csv", by: "register" });
  }

  function figures(label, f, attrs) {
    return h("tr", attrs || {},
      h("td", { text: label }), h("td", { class: "num", text: String(f.count) }),
      h("td", { class: "num", text: money.format(f.total) }), h("td", { class: "num", text: money.format(f.net) }),
      h("td", { class: "num", text: money.format(f.cost) }),
      h("td", { class: "num" + (f.margin < 0 ? " negative" : ""), text: money.format(f.margin) }));
  }

  $("report-from").addEventListener("change", links);
  $("report-to").addEventListener("change", links);
  $("report-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const from = new Date($("report-from").value), to = new Date($("report-to").value);
    const days = (to - from) / 86400000;
    if (Number.isNaN(days) || days < 0 || days >= MAX_REPORT_DAYS) {
      $("report-error").textContent = t("report.bad_range");
      return;
    }
    $("report-show").disabled = true;
    try {
      const report = await api(query({}));
      $("report-error").textContent = "";
      $("report-rows").replaceChildren(...report.days.map((d) => figures(d.date, d, { "data-date": d.date })));
      $("report-totals").replaceChildren(figures(t("report.totals"), report.totals));
      $("report-table").hidden = false;
    } catch (err) {
      if (err.status === 401) return toLogin();
      $("report-error").textContent = t("report.failed", { detail: err.message });
    } finally {
      $("report-show").disabled = false;
    }
  });
  links();
}

boot();

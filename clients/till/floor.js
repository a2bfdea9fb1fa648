// The floor plan: one tab per area, each table a button placed by its x/y (percent of the area's plan),
// square or round, free or open (with its tab's total, guests and age). A free table opens a tab (how many
// guests); an open one shows its tab. While a tab is being moved or merged the plan picks a table instead.
import { $, h } from "/till/ui.js";

const AGE_TICK_MS = 30_000;
const MAX_GUESTS = 99;
const QUICK_GUESTS = [1, 2, 3, 4, 5, 6, 8, 10];

export function createFloor(app, r) {
  const { t, money, overlays } = app;
  const areasNav = $("areas");
  const planArea = $("plan-area");
  const openSheet = $("tab-open");
  let areaId = null;
  let picking = null; // {kind: "free"|"open", exclude, title, onPick, onCancel}
  let opening = null; // {table, guests}
  let busy = false;

  function minutes(iso) {
    const opened = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : iso + "Z");
    if (Number.isNaN(opened)) return 0;
    return Math.max(0, Math.floor((r.now() - opened) / 60000));
  }

  function age(iso) {
    const total = minutes(iso);
    if (total < 60) return t("floor.age_min", { n: total });
    return t("floor.age_hours", { h: Math.floor(total / 60), m: String(total % 60).padStart(2, "0") });
  }

  function eligible(table) {
    if (!picking) return true;
    if (picking.kind === "free") return !table.tab;
    return Boolean(table.tab) && table.tab.tab_id !== picking.exclude;
  }

  function tableNode(table) {
    const tab = table.tab;
    const children = [h("strong", { class: "table-name", text: table.name })];
    if (tab) {
      children.push(h("span", { class: "table-total", text: money.format(tab.total) }));
      children.push(
        h("span", {
          class: "table-meta",
          text: t("floor.guests_age", { guests: tab.guests, age: age(tab.opened_at) }),
        }),
      );
      if (tab.held) children.push(h("span", { class: "table-flag held", text: t("floor.held", { n: tab.held }) }));
      else if (tab.unsent) children.push(h("span", { class: "table-flag unsent", text: t("floor.unsent", { n: tab.unsent }) }));
    } else {
      children.push(h("span", { class: "table-meta", text: t("floor.seats", { n: table.seats }) }));
      children.push(h("span", { class: "table-flag", text: t("floor.free") }));
    }
    const label = tab
      ? t("floor.table_open_label", { name: table.name, total: money.format(tab.total), guests: tab.guests })
      : t("floor.table_free_label", { name: table.name, seats: table.seats });
    const node = h(
      "button",
      {
        type: "button",
        class: "table " + (table.shape === "round" ? "round" : "square") + (tab ? " open" : " free"),
        "data-table": table.id,
        "data-name": table.name,
        "data-state": tab ? "open" : "free",
        "data-tab": tab ? tab.tab_id : null,
        "aria-label": label,
        disabled: !eligible(table),
        onclick: () => tapped(table),
      },
      children,
    );
    // Where the table stands: CSSOM, not a style attribute (the CSP forbids those).
    node.style.left = Math.min(100, Math.max(0, table.x)) + "%";
    node.style.top = Math.min(100, Math.max(0, table.y)) + "%";
    return node;
  }

  function render() {
    const floor = r.floor;
    if (!floor) return;
    const areas = floor.areas;
    if (!areas.some((area) => area.id === areaId)) areaId = areas.length ? areas[0].id : null;
    areasNav.replaceChildren(
      ...areas.map((area) => {
        const open = area.tables.filter((table) => table.tab).length;
        const on = area.id === areaId;
        return h(
          "button",
          {
            type: "button",
            class: "tab" + (on ? " active" : ""),
            "data-area": area.id,
            "aria-pressed": on ? "true" : "false",
            onclick: () => {
              areaId = area.id;
              render();
            },
          },
          area.name,
          open ? h("span", { class: "area-count", text: String(open) }) : null,
        );
      }),
    );
    const area = areas.find((a) => a.id === areaId);
    planArea.replaceChildren(...(area ? area.tables.map(tableNode) : []));
    $("floor-empty").hidden = Boolean(area && area.tables.length);
    const tables = r.tables();
    const open = tables.filter((table) => table.tab);
    const total = open.reduce((sum, table) => sum + table.tab.total, 0);
    $("floor-summary").textContent = t("floor.summary", {
      open: open.length,
      tables: tables.length,
      total: money.format(total),
    });
    $("floor-view").dataset.rev = String(floor.rev);
  }

  function tapped(table) {
    if (picking) {
      const chosen = picking;
      if (!eligible(table)) return;
      picking = null;
      $("floor-pick").hidden = true;
      chosen.onPick(table);
      return;
    }
    if (table.tab) r.showTab(table.tab.tab_id);
    else askGuests(table);
  }

  // -- opening a tab -----------------------------------------------------------------------------------------

  function askGuests(table) {
    opening = { table, guests: Math.min(2, table.seats) };
    $("tab-open-title").textContent = t("floor.open_title", { name: table.name });
    $("tab-open-seats").textContent = t("floor.seats", { n: table.seats });
    $("tab-open-error").textContent = "";
    renderGuests();
    overlays.open(openSheet, {
      onKey(key) {
        if (key === "Enter") confirmOpen();
        else if (key === "Escape") overlays.close(openSheet);
        else if (/^[1-9]$/.test(key)) setGuests(Number(key));
        else return false;
        return true;
      },
    });
  }

  function setGuests(n) {
    if (!opening) return;
    opening.guests = Math.min(MAX_GUESTS, Math.max(1, n));
    renderGuests();
  }

  function renderGuests() {
    $("tab-open-guests").textContent = String(opening.guests);
    $("tab-open-guests").dataset.guests = String(opening.guests);
    $("tab-open-minus").disabled = opening.guests <= 1;
    const quick = $("tab-open-quick");
    quick.replaceChildren(
      ...QUICK_GUESTS.map((n) =>
        h("button", {
          type: "button",
          class: "method" + (n === opening.guests ? " active" : ""),
          "data-guests": n,
          "aria-pressed": n === opening.guests ? "true" : "false",
          text: String(n),
          onclick: () => setGuests(n),
        }),
      ),
    );
    $("tab-open-confirm").disabled = busy;
  }

  async function confirmOpen() {
    if (!opening || busy) return;
    busy = true;
    renderGuests();
    const { table, guests } = opening;
    try {
      const tab = await r.command("tab.open", { table_id: table.id, guests }, { quiet: true });
      overlays.close(openSheet);
      r.tabReply(tab);
      r.showTab(tab);
    } catch (err) {
      if (err.code === "table_busy" && err.details && err.details.tab_id) {
        overlays.close(openSheet); // someone opened it meanwhile: show theirs
        app.toast(t("errors.table_busy"));
        r.showTab(err.details.tab_id);
      } else {
        $("tab-open-error").textContent = app.errorText(err);
      }
    } finally {
      busy = false;
      if (opening) renderGuests();
    }
  }

  $("tab-open-minus").addEventListener("click", () => setGuests(opening.guests - 1));
  $("tab-open-plus").addEventListener("click", () => setGuests(opening.guests + 1));
  $("tab-open-confirm").addEventListener("click", confirmOpen);
  $("tab-open-cancel").addEventListener("click", () => {
    if (!busy) overlays.close(openSheet);
  });

  // -- picking a table (move, merge) ----------------------------------------------------------------------

  $("floor-pick-cancel").addEventListener("click", () => {
    const cancelled = picking;
    picking = null;
    $("floor-pick").hidden = true;
    if (cancelled && cancelled.onCancel) cancelled.onCancel();
    else render();
  });

  setInterval(() => {
    if (r.view === "floor") render(); // the ages move on
  }, AGE_TICK_MS);

  return {
    render,
    age,
    startPicking(options) {
      picking = options;
      $("floor-pick-text").textContent = options.title;
      $("floor-pick").hidden = false;
      $("floor-pick").dataset.kind = options.kind;
      render();
    },
    stopPicking() {
      picking = null;
      $("floor-pick").hidden = true;
    },
  };
}

// Restaurant mode of the till: the floor plan instead of the retail cart, an open tab ("cuenta") per
// table, and paying it. The protocol is the hub's (schema/messages/restaurant.py); this module keeps the
// store's floor as the hub says it is and switches between the floor and a tab's screen.
//
// The floor follows the `floor:<store_id>` stream. floor.get answers the floor at `rev` and the stream
// position; each event carries the store's next `rev`: one at or below ours is already shown, the next one
// is applied, a jump means one was missed and the floor is read again. Events that arrive while floor.get
// is on its way (or before the first floor came) wait for its answer, then apply by the same rule.
//
// One floor.get at a time. A read that fails (the hub refused it, or it found no connection in time) is
// tried again by itself, 0.5 s doubling to 10 s, and the floor says it cannot load until one succeeds: a
// waiter never has to reload the page to get the floor back.
import { createFloor } from "/till/floor.js";
import { createItemSheet } from "/till/modifiers.js";
import { createTab } from "/till/tab.js";
import { createTabPay } from "/till/tabpay.js";
import { createVoid } from "/till/tabvoid.js";
import { $, h } from "/till/ui.js";

const COURSES = [1, 2, 3, 4, 5];
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 10_000;

/** What the floor shows of an open tab on its table (the hub's TabSummary), from a full TabView. */
export function summaryOf(tab) {
  const live = tab.items.filter((item) => !item.voided);
  return {
    tab_id: tab.tab_id,
    number: tab.number,
    guests: tab.guests,
    server: tab.server,
    opened_at: tab.opened_at,
    total: tab.total,
    paid_total: tab.paid_total,
    items: live.length,
    unsent: live.filter((item) => !item.sent).length,
    held: live.filter((item) => item.held && !item.sent).length,
    rev: tab.rev,
  };
}

export function createRestaurant(app, store) {
  const { t } = app;
  const state = {
    floor: null,
    rev: 0,
    loading: false, // a floor.get on its way
    again: false, // asked to read while one was on its way: read once more when it settles
    retry: null, // the timer of the next attempt after a failed read
    delay: RETRY_FIRST_MS,
    buffered: [],
    skew: 0,
  };
  const courseNames = app.messages.list("item.course_names");

  const r = {
    courses: COURSES,
    view: "floor",

    get floor() {
      return state.floor;
    },

    /** The hub's clock now (ms), from the offset measured at the last floor.get: ages agree with it. */
    now() {
      return Date.now() + state.skew;
    },

    courseName(course) {
      return courseNames[course - 1] || t("item.course_n", { n: course });
    },

    modifiersOf(productId) {
      return ((state.floor && state.floor.modifiers) || []).filter((m) => m.product_id === productId);
    },

    tables() {
      return state.floor ? state.floor.areas.flatMap((area) => area.tables) : [];
    },

    table(id) {
      return r.tables().find((table) => table.id === id) || null;
    },

    tableOfTab(tabId) {
      return r.tables().find((table) => table.tab && table.tab.tab_id === tabId) || null;
    },

    /** A restaurant command; a refusal becomes a toast (unless quiet) and is rethrown. */
    async command(type, payload, options) {
      const o = options || {};
      try {
        return await app.live.request(type, payload, { id: o.id });
      } catch (err) {
        if (!o.quiet) app.toast(app.errorText(err));
        throw err;
      }
    },

    /** A reply that changed a tab: the floor shows it now (the event confirms it by rev later). */
    tabReply(tab) {
      if (!tab || tab.rev <= state.rev) return; // the floor shows this change already, or a later one
      place(tab);
      r.floorView.render();
    },

    showFloor() {
      r.view = "floor";
      r.floorView.stopPicking();
      document.body.dataset.view = "floor";
      $("floor-view").hidden = false;
      $("sale").hidden = true;
      r.floorView.render();
    },

    showTab(tabOrId) {
      r.view = "tab";
      r.floorView.stopPicking();
      document.body.dataset.view = "tab";
      $("floor-view").hidden = true;
      $("sale").hidden = false;
      r.tab.show(tabOrId);
      app.keepFocus();
    },

    /** Pick a table on the floor (moving or merging a tab); back to the tab when cancelled. */
    pickTable(options) {
      r.view = "floor";
      document.body.dataset.view = "floor";
      $("floor-view").hidden = false;
      $("sale").hidden = true;
      r.floorView.startPicking(options);
    },

    reload: () => load(),
  };

  /** Put a tab where it now is; a summary newer than `tab` (placed from a reply) stays. */
  function place(tab) {
    const shown = r.tableOfTab(tab.tab_id);
    if (shown && shown.tab.rev > tab.rev) return;
    if (shown) shown.tab = null;
    if (tab.status !== "open") return;
    const table = r.table(tab.table_id);
    if (table) table.tab = summaryOf(tab);
  }

  function accept(floor) {
    state.floor = floor;
    state.rev = floor.rev;
    if (floor.server_time) {
      const server = Date.parse(floor.server_time);
      if (!Number.isNaN(server)) state.skew = server - Date.now();
    }
  }

  function apply(name, payload) {
    if (!payload || typeof payload.rev !== "number" || payload.rev <= state.rev) return;
    if (payload.rev !== state.rev + 1) {
      load(); // a change went missing: read the floor as it is
      return;
    }
    if (name === "FloorChanged") {
      accept(Object.assign({}, payload, { server_time: null }));
    } else if (name === "TabChanged") {
      state.rev = payload.rev;
      place(payload);
      r.tab.onTabChanged(payload);
    } else {
      state.rev = payload.rev;
    }
    r.floorView.render();
    document.body.dataset.floorRev = String(state.rev);
  }

  /** Read the floor from the hub: now, or once the read on its way settles (see the header). */
  async function load() {
    clearTimeout(state.retry);
    state.retry = null;
    if (state.loading) {
      state.again = true;
      return;
    }
    state.loading = true;
    state.again = false;
    let floor;
    try {
      floor = await app.live.request("floor.get", { store_id: store.id });
    } catch (err) {
      state.loading = false;
      if (state.again) load();
      else failed(err);
      return;
    }
    state.loading = false;
    if (state.again) {
      load(); // this answer may predate why we were asked again: the next read's answer counts
      return;
    }
    state.delay = RETRY_FIRST_MS;
    showStatus(null);
    accept(floor);
    const waiting = state.buffered.sort((a, b) => a[1].rev - b[1].rev);
    state.buffered = [];
    r.floorView.render();
    for (const [name, payload] of waiting) apply(name, payload);
    document.body.dataset.floorRev = String(state.rev);
    r.tab.refresh();
  }

  /** A read failed: say so on the floor and try again later, each time a little later (up to 10 s). */
  function failed(err) {
    showStatus(err);
    state.retry = setTimeout(load, state.delay);
    state.delay = Math.min(state.delay * 2, RETRY_MAX_MS);
  }

  /** What the floor says while it cannot be read (the floor on screen, if any, may be out of date). */
  function showStatus(err) {
    const box = $("floor-status");
    box.hidden = !err;
    if (!err) return;
    box.replaceChildren(
      h("strong", { text: t(state.floor ? "floor.stale" : "floor.unavailable") }),
      h("span", { text: app.errorText(err) }),
    );
  }

  r.floorView = createFloor(app, r);
  r.items = createItemSheet(app, r);
  r.voids = createVoid(app, r);
  r.pay = createTabPay(app, r);
  r.tab = createTab(app, r);

  app.live.subscribe("floor:" + store.id, {
    onEvent(name, payload) {
      if (state.loading || !state.floor) state.buffered.push([name, payload]);
      else apply(name, payload);
    },
    onReset: () => load(),
  });

  document.body.classList.add("restaurant");
  $("cart-title").closest(".cart").hidden = true;
  $("tab-panel").hidden = false;
  $("course-bar").hidden = false;
  r.showFloor();

  return {
    /** A product tapped on the grid, or a code scanned, while a tab is on screen. */
    pick: (product) => r.tab.pick(product),
    scan: (code) => r.tab.scan(code),
  };
}

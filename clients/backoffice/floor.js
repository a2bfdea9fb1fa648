// Back office: a restaurant store's floor ("Salón y mesas"), for owners and managers.
//
// * Areas (rooms) as tabs: add, rename, delete (the hub refuses an area that still has tables).
// * The chosen area's plan: each table where it stands (x/y in percent of the plan, as the till draws it),
//   square or round; drag it to move it (PATCH x/y when it is dropped) or tap it to edit its name, seats,
//   shape, position and area in the form beside the plan; add and delete tables. A table with an open tab
//   is marked on the plan, and deleting it shows the hub's refusal (409 table_busy).
// * The suggested tip percent (propina) and each product's modifiers (floor_modifiers.js).
// The plan comes from GET /api/v1/stores/{id}/floor; the floor stream (floor:<store_id>) says when it
// changed elsewhere and which tables have open tabs (floor.get). Text comes from i18n/es.json.
import { $, h } from "/static/dom.js";
import { LiveSocket, bindConnectionBadge, connectionLabels } from "/static/live.js";
import { showUser, startPage } from "/static/page.js";
import { createModifiers } from "/backoffice/floor_modifiers.js";

const MANAGERS = new Set(["owner", "manager"]);
const DRAG_THRESHOLD_PX = 4;
const RELOAD_DELAY_MS = 250;

async function boot() {
  const page = await startPage({ i18n: "/backoffice/i18n/", title: "floor.title", sessionFailed: "floor.session_failed", retry: boot });
  if (!page) return;
  const { messages, me } = page;
  showUser(messages, me);
  if (!MANAGERS.has(me.role)) {
    $("refused").hidden = false;
    return;
  }
  $("nav-fiscal").hidden = me.tenant.country !== "CL";
  let stores;
  try {
    stores = (await window.storehub.api("/api/v1/stores")).filter((s) => s.mode === "restaurant");
  } catch (err) {
    $("error").textContent = messages.t("floor.load_failed");
    return;
  }
  if (!stores.length) {
    $("no-restaurant").hidden = false;
    return;
  }
  $("floor-page").hidden = false;
  createFloorPage(messages, me, stores);
}

function createFloorPage(messages, me, stores) {
  const t = messages.t.bind(messages);
  const { api } = window.storehub;
  const state = { storeId: stores[0].id, plan: null, areaId: null, tableId: null, busy: new Map(), drag: null };
  const live = new LiveSocket();
  let unsubscribe = null;
  let reloadTimer = null;

  const base = () => "/api/v1/stores/" + state.storeId + "/floor";
  const area = () => (state.plan ? state.plan.areas.find((a) => a.id === state.areaId) : null) || null;
  const activeTables = (a) => (a ? a.tables.filter((tb) => tb.active) : []);
  const table = () => {
    for (const a of (state.plan && state.plan.areas) || []) for (const tb of a.tables) if (tb.id === state.tableId) return tb;
    return null;
  };

  // -- messages -----------------------------------------------------------------------------------------

  function problemText(err, action, params) {
    const code = err && err.code;
    for (const key of ["floor.errors." + action + "_" + code, "floor.errors." + code]) {
      if (code && messages.has(key)) return t(key, params || {});
    }
    if (err && err.problem && err.problem.detail) return err.problem.detail;
    return t("floor.errors.generic", { status: (err && err.status) || "?" });
  }

  function failed(lead, err, action, params) {
    const box = $("action-error");
    box.querySelector(".lead").textContent = lead;
    box.querySelector(".detail").textContent = problemText(err, action, params);
    box.dataset.code = (err && err.code) || "";
    box.hidden = false;
    $("action-done").textContent = "";
  }

  function done(text) {
    $("action-error").hidden = true;
    $("action-done").textContent = text;
  }

  /** One change through the API; its refusal shown above the plan. Resolves to the answer or null. */
  async function change(path, method, body, action, params) {
    try {
      const answer = await api(path, { method, body });
      return answer === null ? true : answer;
    } catch (err) {
      failed(t("floor.errors.lead_" + action, params || {}), err, action, params);
      return null;
    }
  }

  // -- loading --------------------------------------------------------------------------------------------

  async function load() {
    const storeId = state.storeId;
    try {
      const plan = await api(base());
      if (storeId !== state.storeId) return;
      state.plan = plan;
    } catch (err) {
      failed(t("floor.load_failed"), err, "load");
      return;
    }
    if (!area()) state.areaId = state.plan.areas.length ? state.plan.areas[0].id : null;
    if (!table() || !table().active) state.tableId = null;
    render();
    modifiers.setTip(state.plan.tip_percent);
  }

  /** Which tables have an open tab, from floor.get (what the tills see). */
  async function loadBusy() {
    try {
      const floor = await live.request("floor.get", { store_id: state.storeId });
      state.busy = new Map();
      for (const a of floor.areas) for (const tb of a.tables) if (tb.tab) state.busy.set(tb.id, tb.tab);
      modifiers.setFloor(floor);
      render();
    } catch (err) {
      // the plan works without it
    }
  }

  function follow() {
    if (unsubscribe) unsubscribe();
    unsubscribe = live.subscribe("floor:" + state.storeId, {
      onReset: () => loadBusy(),
      onEvent(name, payload) {
        if (name === "TabChanged") {
          for (const [id, tab] of state.busy) if (tab.tab_id === payload.tab_id) state.busy.delete(id);
          if (payload.status === "open") state.busy.set(payload.table_id, { tab_id: payload.tab_id, number: payload.number });
          render();
        } else if (name === "FloorChanged") {
          clearTimeout(reloadTimer);
          reloadTimer = setTimeout(() => {
            if (!state.drag) load();
            loadBusy();
          }, RELOAD_DELAY_MS);
        }
      },
    });
  }

  // -- drawing ---------------------------------------------------------------------------------------------

  function renderAreas() {
    const areas = state.plan.areas;
    $("areas").replaceChildren(
      ...areas.map((a) =>
        h("button", {
          type: "button",
          class: "area-tab" + (a.id === state.areaId ? " active" : ""),
          "data-area": a.id,
          "aria-pressed": a.id === state.areaId ? "true" : "false",
          text: t("floor.areas.tab", { name: a.name, n: activeTables(a).length }),
          onclick: () => {
            state.areaId = a.id;
            state.tableId = null;
            render();
          },
        }),
      ),
    );
    $("no-areas").hidden = areas.length > 0;
    $("area-edit").hidden = !area();
    $("plan-layout").hidden = !area();
    if (area() && document.activeElement !== $("area-rename")) $("area-rename").value = area().name;
  }

  function tableNode(tb) {
    const busy = state.busy.get(tb.id);
    const node = h(
      "button",
      {
        type: "button",
        class: "bo-table " + (tb.shape === "round" ? "round" : "square") + (tb.id === state.tableId ? " selected" : "") + (busy ? " busy" : ""),
        "data-table": tb.id,
        "data-name": tb.name,
        "aria-pressed": tb.id === state.tableId ? "true" : "false",
        "aria-label": t(busy ? "floor.table.label_busy" : "floor.table.label", { name: tb.name, seats: tb.seats, x: tb.x, y: tb.y }),
      },
      h("strong", { text: tb.name }),
      h("span", { class: "small", text: busy ? t("floor.table.busy") : t("floor.table.seats_n", { n: tb.seats }) }),
    );
    place(node, tb.x, tb.y); // CSSOM, not a style attribute: the CSP forbids those
    node.addEventListener("pointerdown", (event) => grab(event, tb, node));
    node.addEventListener("keydown", (event) => nudge(event, tb));
    return node;
  }

  function place(node, x, y) {
    node.style.left = x + "%";
    node.style.top = y + "%";
  }

  function renderPlan() {
    const a = area();
    $("plan-area").replaceChildren(...activeTables(a).map(tableNode));
  }

  function renderEditor() {
    const tb = table();
    $("table-edit").hidden = !tb;
    $("table-none").hidden = Boolean(tb);
    if (!tb) return;
    $("table-edit-title").textContent = t("floor.table.edit_title", { name: tb.name });
    $("table-edit").dataset.table = tb.id;
    if (!$("table-edit").contains(document.activeElement)) {
      $("edit-name").value = tb.name;
      $("edit-seats").value = String(tb.seats);
      $("edit-shape").value = tb.shape;
      $("edit-x").value = String(tb.x);
      $("edit-y").value = String(tb.y);
      $("edit-area").replaceChildren(...state.plan.areas.map((a) => h("option", { value: a.id, text: a.name })));
      $("edit-area").value = tb.area_id;
    }
  }

  function render() {
    if (!state.plan) return;
    renderAreas();
    renderPlan();
    renderEditor();
    $("plan-card").dataset.rev = String(state.plan.rev);
  }

  // -- dragging a table -----------------------------------------------------------------------------------

  const clamp = (v) => Math.min(100, Math.max(0, Math.round(v)));

  function grab(event, tb, node) {
    if (event.button !== 0) return;
    const rect = $("plan-area").getBoundingClientRect();
    const centerX = rect.left + (tb.x / 100) * rect.width;
    const centerY = rect.top + (tb.y / 100) * rect.height;
    state.drag = { tb, node, rect, startX: event.clientX, startY: event.clientY, dx: event.clientX - centerX, dy: event.clientY - centerY, x: tb.x, y: tb.y, moved: false };
    node.setPointerCapture(event.pointerId);
    event.preventDefault();
  }

  function moveDrag(event) {
    const drag = state.drag;
    if (!drag) return;
    if (!drag.moved && Math.hypot(event.clientX - drag.startX, event.clientY - drag.startY) < DRAG_THRESHOLD_PX) return;
    drag.moved = true;
    drag.node.classList.add("dragging");
    drag.x = clamp(((event.clientX - drag.dx - drag.rect.left) / drag.rect.width) * 100);
    drag.y = clamp(((event.clientY - drag.dy - drag.rect.top) / drag.rect.height) * 100);
    place(drag.node, drag.x, drag.y);
  }

  async function drop() {
    const drag = state.drag;
    if (!drag) return;
    state.drag = null;
    state.tableId = drag.tb.id;
    if (!drag.moved || (drag.x === drag.tb.x && drag.y === drag.tb.y)) {
      render();
      return;
    }
    const params = { name: drag.tb.name, x: drag.x, y: drag.y };
    const saved = await change(base() + "/tables/" + drag.tb.id, "PATCH", { x: drag.x, y: drag.y }, "move_table", params);
    if (saved) done(t("floor.done.moved", params));
    await load();
  }

  /** Arrow keys move the focused table by 1% (Shift: 5%), saved at once. */
  async function nudge(event, tb) {
    const steps = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[event.key];
    if (!steps) return;
    event.preventDefault();
    const size = event.shiftKey ? 5 : 1;
    const params = { name: tb.name, x: clamp(tb.x + steps[0] * size), y: clamp(tb.y + steps[1] * size) };
    state.tableId = tb.id;
    if (await change(base() + "/tables/" + tb.id, "PATCH", { x: params.x, y: params.y }, "move_table", params)) done(t("floor.done.moved", params));
    await load();
    const again = $("plan-area").querySelector('[data-table="' + CSS.escape(tb.id) + '"]');
    if (again) again.focus();
  }

  document.addEventListener("pointermove", moveDrag);
  document.addEventListener("pointerup", drop);
  document.addEventListener("pointercancel", drop);

  // -- areas ------------------------------------------------------------------------------------------------

  $("area-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("area-name").value.trim();
    if (!name) {
      failed(t("floor.errors.lead_add_area", { name }), { code: "need_name" }, "add_area");
      return;
    }
    const position = state.plan ? state.plan.areas.length : 0;
    const made = await change(base() + "/areas", "POST", { name, position }, "add_area", { name });
    if (!made) return;
    $("area-name").value = "";
    state.areaId = made.id;
    done(t("floor.done.area_added", { name }));
    await load();
  });

  $("area-edit").addEventListener("submit", async (event) => {
    event.preventDefault();
    const a = area();
    const name = $("area-rename").value.trim();
    if (!a || !name || name === a.name) return;
    if (await change(base() + "/areas/" + a.id, "PATCH", { name }, "rename_area", { name })) done(t("floor.done.area_renamed", { name }));
    await load();
  });

  $("area-delete").addEventListener("click", async () => {
    const a = area();
    if (!a || !window.confirm(t("floor.areas.delete_confirm", { name: a.name }))) return;
    if (await change(base() + "/areas/" + a.id, "DELETE", undefined, "delete_area", { name: a.name })) {
      state.areaId = null;
      done(t("floor.done.area_deleted", { name: a.name }));
    }
    await load();
  });

  // -- tables -----------------------------------------------------------------------------------------------

  /** The next free spot on the plan for a new table: a grid of 5 × 3, left to right, top to bottom. */
  function freeSpot() {
    const taken = activeTables(area()).map((tb) => [tb.x, tb.y]);
    for (const y of [25, 50, 75]) {
      for (const x of [15, 32, 50, 68, 85]) {
        if (!taken.some(([tx, ty]) => Math.abs(tx - x) < 9 && Math.abs(ty - y) < 12)) return { x, y };
      }
    }
    return { x: 50, y: 50 };
  }

  $("table-new").addEventListener("submit", async (event) => {
    event.preventDefault();
    const a = area();
    if (!a) return;
    const name = $("new-name").value.trim();
    const body = Object.assign({ area_id: a.id, name, seats: Number($("new-seats").value) || 4, shape: $("new-shape").value }, freeSpot());
    const made = await change(base() + "/tables", "POST", body, "add_table", { name });
    if (!made) return;
    $("new-name").value = "";
    state.tableId = made.id;
    done(t("floor.done.table_added", { name }));
    await load();
  });

  $("table-edit").addEventListener("submit", async (event) => {
    event.preventDefault();
    const tb = table();
    if (!tb) return;
    const body = {
      name: $("edit-name").value.trim(),
      seats: Number($("edit-seats").value),
      shape: $("edit-shape").value,
      x: Number($("edit-x").value),
      y: Number($("edit-y").value),
      area_id: $("edit-area").value,
    };
    if (await change(base() + "/tables/" + tb.id, "PATCH", body, "save_table", { name: body.name || tb.name })) {
      if (body.area_id !== tb.area_id) state.areaId = body.area_id;
      done(t("floor.done.table_saved", { name: body.name }));
    }
    document.activeElement.blur();
    await load();
  });

  $("table-delete").addEventListener("click", async () => {
    const tb = table();
    if (!tb || !window.confirm(t("floor.table.delete_confirm", { name: tb.name }))) return;
    if (await change(base() + "/tables/" + tb.id, "DELETE", undefined, "delete_table", { name: tb.name })) {
      state.tableId = null;
      done(t("floor.done.table_deleted", { name: tb.name }));
    }
    await load();
  });

  // -- the store ---------------------------------------------------------------------------------------------

  const picker = $("store");
  picker.replaceChildren(...stores.map((s) => h("option", { value: s.id, text: s.name })));
  $("store-picker").hidden = stores.length < 2;
  picker.addEventListener("change", () => {
    state.storeId = picker.value;
    state.plan = null;
    state.areaId = null;
    state.tableId = null;
    state.busy = new Map();
    $("action-error").hidden = true;
    follow();
    load();
  });

  const modifiers = createModifiers({ messages, me, change, done, failed, tipPath: () => base(), reload: load });
  bindConnectionBadge(live, $("conn"), connectionLabels(t));
  follow();
  live.start();
  load();
}

boot();

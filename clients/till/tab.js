// A table's open tab: its items grouped by course with their state (to send, held, sent, voided, paid),
// +/- and remove while the kitchen does not have them, void (a manager approves) once it does; and the
// tab's actions: send to the kitchen, fire a held course, move to a free table, merge another table's tab
// into this one, print the precuenta, pay. The hub answers every command with the tab; the floor stream's
// TabChanged brings changes made elsewhere. A view older (by rev) than the one on screen is ignored.
import { formatQuantity } from "/static/money.js";
import { $, h } from "/till/ui.js";

export function createTab(app, r) {
  const { t, money, overlays } = app;
  const list = $("tab-items");
  let tabId = null;
  let view = null; // the TabView on screen
  let loading = 0;

  const sendable = (item) => !item.sent && !item.voided && !item.held && !item.paid;
  const heldCourses = () =>
    [...new Set(view.items.filter((i) => i.held && !i.sent && !i.voided).map((i) => i.course))].sort((a, b) => a - b);

  function stateOf(item) {
    if (item.voided) return "voided";
    if (item.paid) return "paid";
    if (item.sent) return "sent";
    if (item.held) return "held";
    return "new";
  }

  function detailText(item) {
    const parts = item.modifiers.map((m) => m.name);
    if (item.note) parts.push(t("tab.note", { note: item.note }));
    if (item.voided && item.void_reason) parts.push(t("tab.void_reason", { reason: item.void_reason }));
    return parts.join(" · ");
  }

  function itemNode(item) {
    const state = stateOf(item);
    const qty = formatQuantity(item.quantity, "unit", money.point);
    const controls = [];
    if (state === "new" || state === "held") {
      controls.push(
        h("button", { type: "button", class: "step secondary", "data-action": "minus", "aria-label": t("cart.minus_label", { name: item.name }), text: t("cart.minus") }),
        h("span", { class: "qty", "data-qty": item.quantity, text: qty }),
        h("button", { type: "button", class: "step secondary", "data-action": "plus", "aria-label": t("cart.plus_label", { name: item.name }), text: t("cart.plus") }),
        h("button", { type: "button", class: "remove secondary", "data-action": "remove", "aria-label": t("cart.remove_label", { name: item.name }), text: t("cart.remove") }),
      );
    } else {
      controls.push(h("span", { class: "qty", "data-qty": item.quantity, text: t("tab.times", { qty }) }));
      if (state === "sent") {
        controls.push(h("button", { type: "button", class: "remove secondary", "data-action": "void", "aria-label": t("tab.void_label", { name: item.name }), text: t("tab.void") }));
      }
    }
    const detail = detailText(item);
    return h(
      "li",
      { class: "line tab-item " + state, "data-n": item.n, "data-state": state, "data-product": item.product_id, "data-course": item.course },
      h("div", { class: "line-top" }, h("span", { class: "name", text: item.name }), h("strong", { class: "line-total", text: money.format(item.total) })),
      detail ? h("div", { class: "item-detail muted small", text: detail }) : null,
      h(
        "div",
        { class: "line-bottom" },
        h("span", { class: "chip state-" + state, text: t("tab.state." + state) }),
        h("div", { class: "qty-controls" }, controls),
      ),
    );
  }

  function render() {
    if (!view) return;
    const panel = $("tab-panel");
    panel.dataset.tab = view.tab_id;
    panel.dataset.rev = String(view.rev);
    panel.dataset.status = view.status;
    $("tab-title").textContent = t("tab.title", { table: view.table_name, number: view.number });
    $("tab-info").textContent = t("tab.info", { guests: view.guests, server: view.server || "—", age: r.floorView.age(view.opened_at) });
    const courses = [...new Set(view.items.map((i) => i.course))].sort((a, b) => a - b);
    const nodes = [];
    for (const course of courses) {
      const items = view.items.filter((i) => i.course === course).sort((a, b) => a.n - b.n);
      const held = items.some((i) => i.held && !i.sent && !i.voided);
      nodes.push(
        h("li", { class: "course-head", "data-course": course }, h("span", { text: r.courseName(course) }), held ? h("span", { class: "chip state-held", text: t("tab.course_held") }) : null),
        ...items.map(itemNode),
      );
    }
    list.replaceChildren(...nodes);
    $("tab-empty").hidden = view.items.length > 0;
    $("tab-total").textContent = money.format(view.total);
    $("tab-tip").textContent = view.total
      ? t("tab.tip", { percent: view.tip_percent, amount: money.format(view.suggested_tip) })
      : "";
    const toSend = view.items.filter(sendable).length;
    const send = $("tab-send");
    send.textContent = toSend ? t("tab.send_n", { n: toSend }) : t("tab.send");
    send.disabled = !toSend;
    send.classList.toggle("go", toSend > 0);
    $("tab-fire").replaceChildren(
      ...heldCourses().map((course) =>
        h("button", {
          type: "button",
          class: "fire",
          "data-course": course,
          text: t("tab.fire", { course: r.courseName(course) }),
          onclick: () => run("tab.fire", { course }),
        }),
      ),
    );
    // Nothing to pay (empty, all voided or paid): the button frees the table instead (tab.close).
    const pay = $("tab-pay");
    pay.textContent = t(view.total > 0 ? "tab.pay" : "tab.close_tab");
    pay.dataset.action = view.total > 0 ? "pay" : "close";
    pay.classList.toggle("go", view.total > 0);
    $("tab-prebill").disabled = view.items.length === 0;
  }

  /** A TabView from a reply or an event: shown if it is this tab's and not older than what is shown. */
  function accept(next) {
    if (!next || next.tab_id !== tabId) return false;
    if (view && next.rev < view.rev) return false;
    view = next;
    render();
    r.pay.onTab(view);
    return true;
  }

  async function load(id) {
    const token = ++loading;
    try {
      const tab = await r.command("tab.get", { tab_id: id });
      if (token === loading) {
        accept(tab);
        if (tab.status !== "open") gone(tab);
      }
    } catch (err) {
      if (token === loading && r.view === "tab") r.showFloor();
    }
  }

  /** The tab closed or merged under us (another till, or it was paid): say so, then the floor or its new tab. */
  function gone(tab) {
    if (r.view !== "tab" || overlays.isOpen($("tabpay-screen"))) return; // the pay screen says it itself
    if (tab.status === "merged" && tab.merged_into) {
      app.toast(t("tab.merged_away"), "ok");
      r.showTab(tab.merged_into);
    } else {
      app.toast(t("tab.closed"), "ok");
      r.showFloor();
    }
  }

  async function run(type, payload) {
    if (!view) return null;
    try {
      const next = await r.command(type, Object.assign({ tab_id: view.tab_id }, payload));
      r.tabReply(next);
      accept(next);
      return next;
    } catch (err) {
      if (err.code === "tab_closed" || err.code === "not_found") load(tabId);
      return null;
    }
  }

  /** tab.add with this tab's id; the new view is shown. Rejects with the hub's error. */
  async function add(payload, options) {
    if (!view) throw new Error("no tab");
    const next = await r.command("tab.add", Object.assign({ tab_id: view.tab_id }, payload), options);
    r.tabReply(next);
    accept(next);
    return next;
  }

  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || !view) return;
    const n = Number(button.closest("li").dataset.n);
    const item = view.items.find((i) => i.n === n);
    if (!item) return;
    const action = button.dataset.action;
    if (action === "void") r.voids.open(view, item);
    else if (action === "remove" || (action === "minus" && item.quantity <= 1000)) run("tab.remove", { n });
    else run("tab.set_qty", { n, quantity: item.quantity + (action === "plus" ? 1000 : -1000) });
  });

  $("tab-back").addEventListener("click", () => r.showFloor());
  $("tab-send").addEventListener("click", async () => {
    const next = await run("tab.send", {});
    if (next) app.toast(t("tab.sent"), "ok");
  });
  $("tab-move").addEventListener("click", () => {
    if (!view) return;
    const moving = view;
    r.pickTable({
      kind: "free",
      exclude: moving.tab_id,
      title: t("tab.pick_move", { table: moving.table_name }),
      onCancel: () => r.showTab(moving.tab_id),
      onPick: async (table) => {
        r.showTab(moving.tab_id);
        if (await run("tab.move", { table_id: table.id })) app.toast(t("tab.moved", { table: table.name }), "ok");
      },
    });
  });
  $("tab-merge").addEventListener("click", () => {
    if (!view) return;
    const into = view;
    r.pickTable({
      kind: "open",
      exclude: into.tab_id,
      title: t("tab.pick_merge", { table: into.table_name }),
      onCancel: () => r.showTab(into.tab_id),
      onPick: async (table) => {
        r.showTab(into.tab_id);
        try {
          const next = await r.command("tab.merge", { tab_id: table.tab.tab_id, into_tab_id: into.tab_id });
          r.tabReply(next);
          accept(next);
          app.toast(t("tab.merged", { table: table.name }), "ok");
        } catch (err) {
          // the toast said why
        }
      },
    });
  });
  $("tab-prebill").addEventListener("click", async () => {
    if (!view) return;
    try {
      const answer = await r.command("tab.prebill", { tab_id: view.tab_id, register_id: app.register.id });
      const queued = answer && answer.queued !== false; // the hub says whether the register has a printer
      app.toast(t(queued ? "tab.prebill_sent" : "tab.prebill_no_printer"), queued ? "ok" : "error");
    } catch (err) {
      // the toast said why
    }
  });
  $("tab-pay").addEventListener("click", async () => {
    if (!view) return;
    if (view.total > 0) {
      r.pay.open(view);
      return;
    }
    const closed = await run("tab.close", {});
    if (closed && closed.status !== "open") gone(closed);
  });

  return {
    show(tabOrId) {
      const id = typeof tabOrId === "string" ? tabOrId : tabOrId.tab_id;
      if (id !== tabId) {
        tabId = id;
        view = null;
        list.replaceChildren();
        $("tab-title").textContent = "";
        $("tab-info").textContent = "";
        r.items.reset();
      }
      if (typeof tabOrId === "string") load(id);
      else accept(tabOrId);
    },
    /** After the floor was read again (reconnect): the tab on screen too. */
    refresh() {
      if (r.view === "tab" && tabId) load(tabId);
    },
    onTabChanged(payload) {
      if (payload.tab_id !== tabId) return;
      if (accept(payload) && payload.status !== "open") gone(payload);
    },
    pick(product) {
      if (!view || view.status !== "open") return;
      if (product.unit === "kg") {
        app.toast(t("tab.no_weighed"));
        return;
      }
      r.items.choose(product);
    },
    /** A scanned code onto the tab (the bar's course and hold); rejects quietly with the hub's error. */
    scan(code) {
      if (!view || view.status !== "open") return Promise.resolve(null);
      const { course, hold } = r.items.defaults;
      return add({ code, quantity: 1000, course, hold }, { quiet: true });
    },
    add,
    accept,
    get view() {
      return view;
    },
  };
}

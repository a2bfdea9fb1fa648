// Paying a tab (tab.pay): all of it, the items one guest takes (lines and quantities), or in N equal parts.
// The tip (propina) is shown apart from the consumption, prefilled with the suggested one (the store's
// percent), editable, 0 allowed. Each part is paid by card (exactly its share) or in cash (at least its
// share: the amount handed, and the change). The hub splits the shares as the screen does (the total and the
// tip each divided, the remainder one unit to the first parts) and its receipt is the truth.
//
// As a checkout, the payment keeps its command id until the hub answers it: a lost answer is resent with
// the SAME id and the hub returns the sale it made, never a second one.
import { formatQuantity } from "/static/money.js";
import { $, AmountEntry, buildKeypad, h, keyFromKeyboard } from "/till/ui.js";

const MAX_PARTS = 20;

function shares(amount, parts) {
  const base = Math.floor(amount / parts);
  const rest = amount - base * parts;
  return Array.from({ length: parts }, (_, i) => base + (i < rest ? 1 : 0));
}

const percentOf = (amount, percent) => Math.floor((amount * percent + 50) / 100); // half up, as the hub

export function createTabPay(app, r) {
  const { t, money, overlays } = app;
  const screen = $("tabpay-screen");
  const form = $("tabpay-form");
  const done = $("tabpay-done");
  const itemList = $("tabpay-items");
  const partList = $("tabpay-parts-list");
  const error = $("tabpay-error");
  const confirm = $("tabpay-confirm");
  const tipEntry = new AmountEntry(money, $("tabpay-tip"));

  let tab = null;
  let mode = "all";
  let parts = 2;
  let chosen = new Map(); // n -> quantity to pay (items mode)
  let tipTouched = false;
  let payments = []; // per part: {kind, entry}
  let active = "tip"; // "tip" or a part's index
  let payId = null;
  let payIdTab = null;
  let busy = false;
  let last = null; // {receipt, closes}

  buildKeypad($("tabpay-keypad"), app.messages, money, press);

  const payable = () => (tab ? tab.items.filter((i) => !i.voided && !i.paid) : []);
  const lineShare = (item, quantity) => Math.floor((item.unit_price * quantity + 500) / 1000);
  const partCount = () => (mode === "equal" ? parts : 1);

  function amount() {
    if (!tab) return 0;
    if (mode !== "items") return tab.total;
    return payable().reduce((sum, item) => sum + lineShare(item, chosen.get(item.n) || 0), 0);
  }

  function suggested() {
    if (!tab) return 0;
    return mode === "items" ? percentOf(amount(), tab.tip_percent) : tab.suggested_tip;
  }

  const tip = () => (tipTouched ? tipEntry.value || 0 : suggested());

  /** What each part owes: its share of the consumption and of the tip. */
  function dues() {
    const n = partCount();
    const totals = shares(amount(), n);
    const tips = shares(tip(), n);
    return totals.map((total, i) => ({ total, tip: tips[i], due: total + tips[i] }));
  }

  /** Cash handed for each part when the field is left blank: its due, with the cash rounding (CLP) on top. */
  function cashDefaults(owed) {
    const cash = owed.map((part, i) => (payments[i].kind === "cash" ? part.due : 0));
    const sum = cash.reduce((a, b) => a + b, 0);
    const extra = Math.max(0, money.cashDue(sum) - sum);
    const lastCash = cash.map((c, i) => (payments[i].kind === "cash" ? i : -1)).filter((i) => i >= 0).pop();
    if (lastCash !== undefined) cash[lastCash] += extra;
    return cash;
  }

  function fitPayments() {
    const n = partCount();
    while (payments.length < n) payments.push({ kind: payments.length % 2 ? "card" : "cash", entry: new AmountEntry(money, null) });
    payments.length = n;
    if (active !== "tip" && active >= n) active = "tip";
  }

  function tenders() {
    const owed = dues();
    const defaults = cashDefaults(owed);
    return owed.map((part, i) => {
      const payment = payments[i];
      if (payment.kind === "card") return { kind: "card", amount: part.due };
      return { kind: "cash", amount: payment.entry.empty ? defaults[i] : payment.entry.value };
    });
  }

  // -- drawing ----------------------------------------------------------------------------------------------

  function renderItems() {
    itemList.hidden = mode !== "items";
    if (mode !== "items") return;
    itemList.replaceChildren(
      ...payable().map((item) => {
        const q = chosen.get(item.n) || 0;
        const detail = item.modifiers.map((m) => m.name).join(", ");
        return h(
          "li",
          { class: "line pay-item" + (q ? " chosen" : ""), "data-n": item.n },
          h(
            "div",
            { class: "line-top" },
            h("span", { class: "name", text: item.name + (detail ? " (" + detail + ")" : "") }),
            h("strong", { class: "line-total", text: q ? money.format(lineShare(item, q)) : "" }),
          ),
          h(
            "div",
            { class: "line-bottom" },
            h("span", { class: "muted small", text: t("tabpay.line", { qty: formatQuantity(item.quantity, "unit", money.point), total: money.format(item.total) }) }),
            h(
              "div",
              { class: "qty-controls" },
              h("button", { type: "button", class: "step secondary", "data-action": "minus", "aria-label": t("tabpay.minus_label", { name: item.name }), disabled: q <= 0, text: t("cart.minus") }),
              h("span", { class: "qty", "data-qty": q, text: formatQuantity(q, "unit", money.point) }),
              h("button", { type: "button", class: "step secondary", "data-action": "plus", "aria-label": t("tabpay.plus_label", { name: item.name }), disabled: q >= item.quantity, text: t("cart.plus") }),
            ),
          ),
        );
      }),
    );
  }

  function partNode(part, i, defaults) {
    const payment = payments[i];
    const cash = payment.kind === "cash";
    const handed = payment.entry.empty ? defaults[i] : payment.entry.value || 0;
    const title = partCount() > 1 ? t("tabpay.part", { n: i + 1 }) : t("tabpay.payment");
    const owes = part.tip ? t("tabpay.owes_tip", { amount: money.format(part.due), tip: money.format(part.tip) }) : money.format(part.due);
    let status = "";
    if (cash) {
      status = handed >= part.due
        ? t("pay.change_estimate", { amount: money.format(handed - part.due) })
        : t("pay.missing", { amount: money.format(part.due - handed) });
    } else {
      status = t("tabpay.card_note", { amount: money.format(part.due) });
    }
    const field = h(
      "button",
      { type: "button", class: "field cash-field" + (active === i ? " active" : "") + (payment.entry.empty ? " blank" : ""), "data-field": "part", "data-part": i, hidden: !cash, onclick: () => setActive(i) },
      h("span", { text: t("pay.cash_handed") }),
      h("strong", { text: money.format(handed) }),
    );
    const method = (kind) =>
      h("button", {
        type: "button",
        class: "method" + (payment.kind === kind ? " active" : ""),
        "data-kind": kind,
        "aria-pressed": payment.kind === kind ? "true" : "false",
        text: t("pay." + kind),
        onclick: () => {
          payment.kind = kind;
          payment.entry.set(null);
          setActive(kind === "cash" ? i : "tip");
        },
      });
    return h(
      "li",
      { class: "tabpay-part", "data-part": i, "data-due": part.due, "data-kind": payment.kind },
      h("div", { class: "part-head" }, h("strong", { text: title }), h("span", { class: "part-due", text: owes })),
      h("div", { class: "part-body" }, h("div", { class: "methods part-methods" }, method("cash"), method("card")), field),
      h("p", { class: "part-status small", text: status }),
    );
  }

  function render() {
    if (!tab) return;
    fitPayments();
    $("tabpay-title").textContent = t("tabpay.title", { table: tab.table_name });
    for (const button of screen.querySelectorAll("[data-mode]")) {
      const on = button.dataset.mode === mode;
      button.classList.toggle("active", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
    }
    renderItems();
    $("tabpay-split").hidden = mode !== "equal";
    $("tabpay-parts").textContent = String(parts);
    $("tabpay-parts-minus").disabled = parts <= 2;
    $("tabpay-parts-plus").disabled = parts >= MAX_PARTS;
    $("tabpay-amount").textContent = money.format(amount());
    $("tabpay-tip-label").textContent = t("tabpay.tip_label", { percent: tab.tip_percent, amount: money.format(suggested()) });
    if (!tipTouched) tipEntry.set(suggested());
    $("tabpay-tip").classList.toggle("active", active === "tip");
    $("tabpay-due").textContent = money.format(amount() + tip());
    const owed = dues();
    const defaults = cashDefaults(owed);
    partList.replaceChildren(...owed.map((part, i) => partNode(part, i, defaults)));
    let keypadFor = t("tabpay.keypad_tip");
    if (active !== "tip") keypadFor = partCount() > 1 ? t("tabpay.keypad_cash", { n: active + 1 }) : t("tabpay.keypad_cash_one");
    $("tabpay-keypad-for").textContent = keypadFor;
    confirm.disabled = busy || amount() <= 0;
    confirm.textContent = busy ? t("pay.busy") : t("pay.confirm");
  }

  function setActive(next) {
    active = next;
    error.textContent = "";
    render();
  }

  function press(key) {
    if (busy) return;
    if (active === "tip") {
      if (!tipTouched) {
        tipTouched = true;
        tipEntry.set(null); // typing starts a new amount
      }
      tipEntry.press(key);
    } else {
      payments[active].entry.press(key);
    }
    error.textContent = "";
    render();
  }

  function setMode(next) {
    mode = next;
    if (mode === "items" && ![...chosen.values()].some(Boolean)) chosen = new Map();
    tipTouched = false;
    error.textContent = "";
    setActive("tip");
  }

  // -- paying -------------------------------------------------------------------------------------------------

  async function submit() {
    if (busy || !tab) return;
    if (amount() <= 0) {
      error.textContent = t(mode === "items" ? "tabpay.need_items" : "pay.empty_cart");
      return;
    }
    const payload = { tab_id: tab.tab_id, register_id: app.register.id, tenders: tenders(), tip: tip() };
    if (mode === "equal") payload.parts = parts;
    if (mode === "items") {
      payload.items = payable()
        .filter((item) => chosen.get(item.n))
        .map((item) => ({ n: item.n, quantity: chosen.get(item.n) }));
    }
    const closes = mode !== "items" || payable().every((item) => (chosen.get(item.n) || 0) === item.quantity);
    if (!payId || payIdTab !== tab.tab_id) {
      payId = app.live.newId();
      payIdTab = tab.tab_id;
    }
    busy = true;
    error.textContent = "";
    render();
    try {
      const receipt = await r.command("tab.pay", payload, { id: payId, quiet: true });
      payId = null;
      showDone(receipt, closes);
    } catch (err) {
      // Only an answer from the hub settles the id; a timeout or a lost connection keeps it for the retry.
      if (err.code !== "timeout" && err.code !== "offline") payId = null;
      if (err.code === "no_cash_session") app.cash.askOpen(() => submit());
      else if (err.code === "tab_changed" || err.code === "already_paid" || err.code === "tab_closed") reload();
      error.textContent = app.errorText(err);
    } finally {
      busy = false;
      render();
    }
  }

  async function reload() {
    try {
      const fresh = await r.command("tab.get", { tab_id: tab.tab_id }, { quiet: true });
      r.tab.accept(fresh);
      take(fresh);
    } catch (err) {
      // the error on screen says what happened
    }
  }

  /** A newer view of the tab while the form is up: keep what still exists of the choice. */
  function take(next) {
    tab = next;
    const left = new Map(payable().map((item) => [item.n, item.quantity]));
    for (const [n, q] of chosen) {
      if (!left.has(n)) chosen.delete(n);
      else chosen.set(n, Math.min(q, left.get(n)));
    }
    render();
  }

  function row(label, value, className) {
    return h("div", { class: "row" + (className ? " " + className : "") }, h("span", { text: label }), h("span", { text: value }));
  }

  function showDone(receipt, closes) {
    last = { receipt, closes, tabId: tab.tab_id };
    form.hidden = true;
    done.hidden = false;
    $("tabpay-change").textContent = receipt.change ? money.format(receipt.change) : t("receipt.no_change");
    $("tabpay-change").dataset.change = String(receipt.change);
    $("tabpay-sale").textContent = t("receipt.sale", { number: receipt.number });
    $("tabpay-sale").dataset.number = String(receipt.number);
    const folio = receipt.folio === null || receipt.folio === undefined
      ? t("receipt.folio_pending")
      : t(app.messages.has("receipt.folio_" + receipt.doc_type) ? "receipt.folio_" + receipt.doc_type : "receipt.folio_39", { folio: receipt.folio });
    $("tabpay-folio").textContent = folio;
    const lines = [row(t("tabpay.consumption"), money.format(receipt.total))];
    if (receipt.rounding) lines.push(row(t("receipt.rounding"), money.format(receipt.rounding)));
    lines.push(row(t("tabpay.tip"), money.format(receipt.tip), "tip"));
    lines.push(row(t("tabpay.paid_with_tip"), money.format(receipt.to_pay + receipt.tip), "strong"));
    for (const tender of receipt.tenders) {
      lines.push(row(t("receipt.tendered", { kind: t("receipt.tender_" + tender.kind) }), money.format(tender.tendered), "small"));
    }
    $("tabpay-summary").replaceChildren(...lines);
    $("tabpay-close").textContent = t(closes ? "tabpay.to_floor" : "tabpay.to_tab");
    app.toast(t("tabpay.paid", { number: receipt.number }), "ok");
  }

  function close() {
    if (busy) return;
    overlays.close(screen);
    if (!last) return;
    const { tabId } = last;
    last = null;
    const current = r.tab.view;
    if (current && current.tab_id === tabId && current.status === "open" && current.total > 0) r.showTab(tabId);
    else r.showFloor();
  }

  itemList.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || busy) return;
    const n = Number(button.closest("li").dataset.n);
    const item = payable().find((i) => i.n === n);
    if (!item) return;
    const q = chosen.get(n) || 0;
    chosen.set(n, button.dataset.action === "plus" ? Math.min(item.quantity, q + 1000) : Math.max(0, q - 1000));
    error.textContent = "";
    render();
  });
  for (const button of screen.querySelectorAll("[data-mode]")) {
    button.addEventListener("click", () => setMode(button.dataset.mode));
  }
  $("tabpay-parts-minus").addEventListener("click", () => {
    parts = Math.max(2, parts - 1);
    render();
  });
  $("tabpay-parts-plus").addEventListener("click", () => {
    parts = Math.min(MAX_PARTS, parts + 1);
    render();
  });
  $("tabpay-tip").addEventListener("click", () => setActive("tip"));
  $("tabpay-tip-suggested").addEventListener("click", () => {
    tipTouched = false;
    setActive("tip");
  });
  $("tabpay-tip-none").addEventListener("click", () => {
    tipTouched = true;
    tipEntry.set(0);
    setActive("tip");
  });
  confirm.addEventListener("click", submit);
  $("tabpay-back").addEventListener("click", () => {
    if (!busy) overlays.close(screen);
  });
  $("tabpay-close").addEventListener("click", close);
  $("tabpay-reprint").addEventListener("click", async () => {
    const sale = last && last.receipt.sale_id;
    if (sale && !(await app.printer.reprint(sale))) app.toast(t("tabpay.no_printer"));
  });

  return {
    open(view) {
      tab = view;
      mode = "all";
      parts = 2;
      chosen = new Map();
      tipTouched = false;
      payments = [];
      active = "tip";
      last = null;
      error.textContent = "";
      form.hidden = false;
      done.hidden = true;
      render();
      overlays.open(screen, {
        onKey(key) {
          if (!done.hidden) {
            if (key === "Enter" || key === "Escape") close();
            return key === "Enter" || key === "Escape";
          }
          const mapped = keyFromKeyboard(key);
          if (key === "Enter") submit();
          else if (mapped) press(mapped);
          else return false;
          return true;
        },
      });
    },
    /** The tab changed while the form is up (another till, the kitchen): take the new view. */
    onTab(view) {
      if (tab && view.tab_id === tab.tab_id && overlays.isOpen(screen) && done.hidden && !busy) take(view);
    },
  };
}

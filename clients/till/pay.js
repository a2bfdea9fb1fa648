// Paying: cash (keypad and quick amounts), card, or both; then the change due, the sale number and the
// receipt. The hub applies the cash rounding and computes the change: the screen shows its receipt.
//
// A checkout keeps its command id until the hub answers it. If the answer is lost (timeout, dropped
// connection), "Confirmar" resends the SAME id and the hub returns the first answer: never two sales.
import { formatQuantity } from "/static/money.js";
import { $, AmountEntry, buildKeypad, formatDate, h, keyFromKeyboard, printSection } from "/till/ui.js";

const BILLS = [1000, 5000, 10000, 20000]; // CLP; in dollars: 1, 5, 10, 20
const BILLS_DOLLARS = [1, 5, 10, 20];

export function createPay(app) {
  const { t, money, overlays } = app;
  const screen = $("pay-screen");
  const receiptScreen = $("receipt-screen");
  const fields = { card: $("pay-field-card"), cash: $("pay-field-cash") };
  const entries = { card: new AmountEntry(money, fields.card), cash: new AmountEntry(money, fields.cash) };
  const quick = $("pay-quick");
  const summary = $("pay-summary");
  const note = $("pay-card-note");
  const error = $("pay-error");
  const confirm = $("pay-confirm");
  const keypad = $("pay-keypad");
  let method = "cash";
  let active = "cash";
  let checkoutId = null; // kept until the hub answers, so a retry can never sell twice
  let busy = false;
  let lastReceipt = null;

  $("pay-rounding").hidden = money.currency !== "CLP";
  buildKeypad(keypad, app.messages, money, press);

  function total() {
    const view = app.cartView.view;
    return view ? view.total : 0;
  }

  /** What the cash part must cover: the total less the card part, rounded as cash is (estimate). */
  function cashDue() {
    const rest = method === "mixed" ? Math.max(total() - (entries.card.value || 0), 0) : total();
    return money.cashDue(rest);
  }

  function suggestions(due) {
    const bills = money.currency === "CLP" ? BILLS : BILLS_DOLLARS.map((b) => money.units(b));
    const values = [due];
    for (const bill of bills) {
      const up = Math.ceil(due / bill) * bill;
      if (up > 0 && !values.includes(up)) values.push(up);
    }
    return values;
  }

  function setActive(name) {
    active = name;
    for (const [key, field] of Object.entries(fields)) field.classList.toggle("active", key === active);
  }

  function render() {
    $("pay-total").textContent = money.format(total());
    for (const button of screen.querySelectorAll("[data-method]")) {
      const on = button.dataset.method === method;
      button.classList.toggle("active", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
    }
    fields.card.hidden = method !== "mixed";
    fields.cash.hidden = method === "card";
    keypad.hidden = method === "card";
    note.textContent = method === "card" ? t("pay.card_note", { amount: money.format(total()) }) : "";
    const parts = [];
    let due = 0;
    if (method !== "card") {
      due = cashDue();
      parts.push(t("pay.cash_due", { amount: money.format(due) }));
      const handed = entries.cash.value;
      if (handed !== null) {
        parts.push(
          handed >= due
            ? t("pay.change_estimate", { amount: money.format(handed - due) })
            : t("pay.missing", { amount: money.format(due - handed) }),
        );
      }
    }
    summary.textContent = parts.join(" · ");
    quick.replaceChildren();
    if (method !== "card") {
      suggestions(due).forEach((amount, index) => {
        quick.append(
          h("button", {
            type: "button",
            class: "quick-amount secondary",
            "data-amount": amount,
            text: index === 0 ? t("pay.exact") + " " + money.format(amount) : money.format(amount),
            onclick: () => {
              entries.cash.set(amount);
              setActive("cash");
              render();
            },
          }),
        );
      });
    }
    confirm.disabled = busy || total() <= 0;
    confirm.textContent = busy ? t("pay.busy") : t("pay.confirm");
  }

  function press(key) {
    if (method === "card" || busy) return;
    entries[active].press(key);
    error.textContent = "";
    render();
  }

  function setMethod(next) {
    method = next;
    error.textContent = "";
    setActive(method === "mixed" ? "card" : "cash");
    render();
  }

  function tenders() {
    const sum = total();
    if (method === "card") return [{ kind: "card", amount: sum }];
    const cash = entries.cash.empty ? cashDue() : entries.cash.value;
    if (method === "cash") return [{ kind: "cash", amount: cash }];
    const card = entries.card.value || 0;
    if (card > sum) throw new Error(t("pay.card_over"));
    const list = [];
    if (card > 0) list.push({ kind: "card", amount: card });
    if (cash > 0 || !list.length) list.push({ kind: "cash", amount: cash });
    return list;
  }

  async function submit() {
    if (busy) return;
    if (total() <= 0) {
      error.textContent = t("pay.empty_cart");
      return;
    }
    let payload;
    try {
      payload = { tenders: tenders() };
    } catch (err) {
      error.textContent = err.message;
      return;
    }
    if (!checkoutId) checkoutId = app.live.newId();
    busy = true;
    error.textContent = "";
    render();
    try {
      const receipt = await app.registerCommand("checkout", payload, { id: checkoutId, quiet: true });
      checkoutId = null;
      showReceipt(receipt);
    } catch (err) {
      // Only an answer from the hub settles the id; a timeout or a lost connection keeps it for the retry.
      if (err.code !== "timeout" && err.code !== "offline") checkoutId = null;
      if (err.code !== "no_cash_session") error.textContent = app.errorText(err);
      if (err.code === "empty_cart") app.cartView.reload();
    } finally {
      busy = false;
      render();
    }
  }

  // -- the receipt ------------------------------------------------------------------------------------------

  function row(label, value, className) {
    return h("div", { class: "row" + (className ? " " + className : "") }, h("span", { text: label }), h("span", { text: value }));
  }

  function renderReceipt(receipt) {
    const paper = $("receipt");
    const tenderName = (kind) => t("receipt.tender_" + kind);
    const lines = receipt.lines.map((line) => {
      const kg = line.unit === "kg";
      const qty = formatQuantity(line.quantity, line.unit, money.point, kg ? t("cart.kg") : null);
      const each = t(kg ? "cart.per_kg" : "cart.each", { price: money.format(line.unit_price) });
      return h(
        "div",
        { class: "item" },
        row(line.name, money.format(line.total)),
        h("div", { class: "muted small", text: qty + " " + each }),
      );
    });
    const parts = [
      h("h3", { text: app.me.tenant.name }),
      h("p", { class: "small", text: t("receipt.sale", { number: receipt.number }) }),
      h("p", { class: "small", text: folioText(receipt) }),
      h("p", { class: "small", text: t("receipt.date", { date: formatDate(receipt.created_at) }) }),
      h("p", { class: "small", text: t("receipt.register", { name: app.register.name }) }),
      h("hr"),
      ...lines,
      h("hr"),
      row(t("receipt.subtotal"), money.format(receipt.total)),
    ];
    if (receipt.rounding) parts.push(row(t("receipt.rounding"), money.format(receipt.rounding), "rounding"));
    parts.push(row(t("receipt.to_pay"), money.format(receipt.to_pay), "strong to-pay"));
    for (const tender of receipt.tenders) {
      parts.push(row(t("receipt.tendered", { kind: tenderName(tender.kind) }), money.format(tender.tendered)));
    }
    parts.push(row(t("receipt.change"), money.format(receipt.change), "strong"));
    parts.push(h("hr"));
    for (const tax of receipt.taxes || []) {
      parts.push(row(t("receipt.net"), money.format(tax.net), "small"));
      parts.push(row(t("receipt.tax", { rate: tax.rate_percent }), money.format(tax.tax), "small"));
    }
    parts.push(h("p", { class: "thanks", text: t("receipt.thanks") }));
    paper.replaceChildren(...parts);
  }

  function folioText(receipt) {
    if (receipt.folio === null || receipt.folio === undefined) return t("receipt.folio_pending");
    const key = "receipt.folio_" + receipt.doc_type;
    return t(app.messages.has(key) ? key : "receipt.folio_39", { folio: receipt.folio });
  }

  function showReceipt(receipt) {
    lastReceipt = receipt;
    overlays.close(screen);
    $("receipt-change").textContent = receipt.change ? money.format(receipt.change) : t("receipt.no_change");
    $("receipt-change").dataset.change = String(receipt.change);
    $("receipt-sale").textContent = t("receipt.sale", { number: receipt.number });
    $("receipt-sale").dataset.number = String(receipt.number);
    $("receipt-folio").textContent = folioText(receipt);
    const amounts = { to_pay: money.format(receipt.to_pay), rounding: money.format(receipt.rounding) };
    $("receipt-summary").textContent = t(receipt.rounding ? "receipt.summary_rounding" : "receipt.summary", amounts);
    renderReceipt(receipt);
    overlays.open(receiptScreen, { scanner: true });
  }

  function closeReceipt() {
    overlays.close(receiptScreen);
  }

  for (const button of screen.querySelectorAll("[data-method]")) {
    button.addEventListener("click", () => setMethod(button.dataset.method));
  }
  for (const [name, field] of Object.entries(fields)) {
    field.addEventListener("click", () => {
      setActive(name);
      render();
    });
  }
  confirm.addEventListener("click", submit);
  $("pay-back").addEventListener("click", () => {
    if (!busy) overlays.close(screen);
  });
  $("receipt-new").addEventListener("click", closeReceipt);
  $("receipt-reprint").addEventListener("click", async () => {
    // The register's receipt printer reprints it (marked as a copy); without one, the browser prints it.
    if (lastReceipt && app.printer && (await app.printer.reprint(lastReceipt.sale_id))) return;
    if (lastReceipt) renderReceipt(lastReceipt);
    printSection("print-receipt");
  });
  app.cartView.onChange(() => {
    if (overlays.isOpen(screen)) render();
  });

  return {
    open() {
      if (total() <= 0) {
        app.toast(t("pay.empty_cart"));
        return;
      }
      entries.card.set(null);
      entries.cash.set(null);
      // checkoutId survives: a checkout that never got its answer is resent with its id, so if it did
      // go through the hub answers with that sale instead of making a second one.
      error.textContent = "";
      setMethod("cash");
      overlays.open(screen, {
        onKey(key) {
          const mapped = keyFromKeyboard(key);
          if (key === "Enter") submit();
          else if (mapped) press(mapped);
          else return false;
          return true;
        },
      });
    },
    closeReceipt,
  };
}

// Returns and voids ("Devoluciones" in the menu): find a sale by the number on its receipt, choose what
// comes back (+/- per line, up to what is left of it, or "Todo": a void of everything left), why, and how
// the money goes back; a cashier has a manager type their username and PIN. The hub makes the credit note
// (doc type 61) and the screen shows it like a receipt.
//
// The return keeps its command id until the hub answers it, like a checkout: if the answer is lost
// (timeout, dropped connection) "Confirmar" resends the SAME id and the hub answers with the credit note
// it already made, never a second one. Any answer from the hub, a refusal too, settles the id.
import { formatQuantity } from "/static/money.js";
import { $, buildKeypad, formatDate, h, keyFromKeyboard, printSection } from "/till/ui.js";

const APPROVER_KEY = "storehub.till.approver";
const MAX_NUMBER_DIGITS = 12;
const MAX_PIN_DIGITS = 12;
const MANAGER_ROLES = ["manager", "owner"];
const NO_DECIMALS = { decimals: 0, point: "," }; // the keypads here type whole numbers: "00", never a point

/** Digits typed on a keypad (or a keyboard), shown in a field's <strong> or kept in an input's value. */
export class Digits {
  constructor(max, show) {
    this.max = max;
    this.show = show;
    this.text = "";
  }

  press(key) {
    if (key === "clear") this.text = "";
    else if (key === "back") this.text = this.text.slice(0, -1);
    else if (/^[0-9]+$/.test(key)) this.text = (this.text + key).slice(0, this.max);
    this.show(this.text);
  }

  set(text) {
    this.text = String(text || "").replace(/\D/g, "").slice(0, this.max);
    this.show(this.text);
  }
}

export function createReturns(app) {
  const { t, money, overlays } = app;
  const screen = $("returns-screen");
  const steps = { find: $("returns-find"), choose: $("returns-choose"), done: $("returns-done") };
  const numberField = $("returns-number-field");
  const findError = $("returns-find-error");
  const findButton = $("returns-find-go");
  const lineList = $("returns-lines");
  const allButton = $("returns-all");
  const reasonInput = $("returns-reason");
  const approver = $("returns-approver");
  const pinInput = $("returns-pin");
  const error = $("returns-error");
  const confirm = $("returns-confirm");

  let step = "find";
  let sale = null; // the ReturnableSale on screen
  let chosen = new Map(); // line_no -> quantity to return (thousandths)
  let all = false; // "Todo": send no lines, the hub returns everything still left
  let refund = "cash";
  let reasonChip = null; // the common reason tapped, else the free text counts
  let returnId = null; // kept until the hub answers, so a resend can never make two credit notes
  let returnIdSale = null;
  let busy = false;
  let lastNote = null;

  const needsApproval = () => !MANAGER_ROLES.includes(app.me.role);

  const number = new Digits(MAX_NUMBER_DIGITS, (text) => {
    numberField.querySelector("strong").textContent = text;
    numberField.classList.toggle("blank", text === "");
    findError.textContent = "";
  });
  const pin = new Digits(MAX_PIN_DIGITS, (text) => {
    pinInput.value = text;
    error.textContent = "";
  });
  buildKeypad($("returns-number-keypad"), app.messages, NO_DECIMALS, (key) => number.press(key));
  buildKeypad($("returns-pin-keypad"), app.messages, NO_DECIMALS, (key) => pin.press(key));
  pinInput.addEventListener("input", () => pin.set(pinInput.value));

  for (const text of app.messages.list("returns.reasons")) {
    $("returns-reasons").append(
      h("button", {
        type: "button",
        class: "method reason",
        "data-reason": text,
        "aria-pressed": "false",
        text,
        onclick: () => {
          reasonChip = text; // a chip or the free text, never both
          reasonInput.value = "";
          renderReasons();
        },
      }),
    );
  }
  reasonInput.addEventListener("input", () => {
    if (reasonInput.value.trim()) reasonChip = null;
    renderReasons();
  });

  // -- the hub's refusals, in Spanish, in the overlay ------------------------------------------------------

  function refusal(err, phase, params) {
    const code = err && err.code;
    const details = (err && err.details) || {};
    const pick = (...keys) => keys.find((key) => app.messages.has(key));
    if (phase === "lookup") {
      const key = pick("returns.errors.lookup_" + code + (code === "not_found" && !params.number ? "_id" : ""));
      if (key) return t(key, params);
    }
    if (code === "over_return" && sale && details.line_no !== undefined && details.left !== undefined) {
      const line = sale.lines.find((l) => l.line_no === details.line_no);
      if (line) return t("returns.errors.over_return_line", { name: line.name, left: quantityText(line, details.left) });
    }
    if (code === "rate_limited" && details.retry_after) {
      return t("returns.errors.rate_limited_wait", { seconds: details.retry_after });
    }
    const key = pick("returns.errors." + code);
    return key ? t(key) : app.errorText(err);
  }

  function quantityText(line, quantity) {
    const kg = line.unit === "kg";
    return formatQuantity(quantity, line.unit, money.point, kg ? t("cart.kg") : null);
  }

  // -- step 1: find the sale -------------------------------------------------------------------------------

  function show(name) {
    step = name;
    screen.querySelector(".returns-sheet").dataset.step = name;
    for (const [key, node] of Object.entries(steps)) node.hidden = key !== name;
  }

  function open() {
    number.set("");
    findError.textContent = "";
    show("find");
    overlays.open(screen, { onKey });
  }

  function onKey(key) {
    if (step === "find") {
      if (key === "Enter") find();
      else if (key === "Escape") close();
      else {
        const mapped = keyFromKeyboard(key);
        if (!mapped || mapped === "point") return false;
        number.press(mapped);
      }
      return true;
    }
    if (step === "choose") {
      if (key === "Enter") submit();
      else {
        const mapped = keyFromKeyboard(key);
        if (!mapped || mapped === "point" || !needsApproval() || busy) return false;
        pin.press(mapped);
      }
      return true;
    }
    if (key === "Enter" || key === "Escape") {
      close();
      return true;
    }
    return false;
  }

  async function find() {
    if (busy) return;
    if (!number.text) {
      findError.textContent = t("returns.need_number");
      return;
    }
    const wanted = Number(number.text);
    busy = true;
    findButton.disabled = true;
    findButton.textContent = t("returns.finding");
    try {
      const found = await app.registerCommand("sale.lookup", { number: wanted }, { quiet: true });
      choose(found);
    } catch (err) {
      findError.textContent = refusal(err, "lookup", { number: wanted });
    } finally {
      busy = false;
      findButton.disabled = false;
      findButton.textContent = t("returns.find");
    }
  }

  // -- step 2: what comes back, why, how, and who approves --------------------------------------------------

  function choose(found) {
    if (returnIdSale !== found.sale_id) {
      returnId = null; // an unanswered return of another sale is not resent for this one
      returnIdSale = found.sale_id;
    }
    sale = found;
    chosen = new Map(found.lines.map((line) => [line.line_no, 0]));
    all = false;
    reasonInput.value = "";
    reasonChip = null;
    pin.set("");
    approver.value = localStorage.getItem(APPROVER_KEY) || "";
    error.textContent = "";
    $("returns-approval").hidden = !needsApproval();
    $("returns-choose").classList.toggle("no-approval", !needsApproval());
    setRefund("cash");
    renderReasons();
    renderSale();
    show("choose");
  }

  function documentText(doc) {
    if (doc.folio === null || doc.folio === undefined) return t("receipt.folio_pending");
    const key = "receipt.folio_" + doc.doc_type;
    return t(app.messages.has(key) ? key : "receipt.folio_39", { folio: doc.folio });
  }

  function renderSale() {
    $("returns-sale-title").textContent = t("returns.sale_title", { number: sale.number });
    const info = {
      document: documentText(sale),
      date: formatDate(sale.created_at),
      total: money.format(sale.to_pay),
      returned: money.format(sale.returned_total),
    };
    $("returns-sale-info").textContent = t(sale.returned_total ? "returns.sale_info_returned" : "returns.sale_info", info);
    $("returns-nothing-left").hidden = sale.returnable;
    allButton.textContent = t(sale.credit_notes ? "returns.all_left" : "returns.all");
    renderLines();
  }

  function lineNode(line) {
    const qty = chosen.get(line.line_no) || 0;
    const kg = line.unit === "kg";
    const sold = { quantity: quantityText(line, line.quantity), total: money.format(line.total) };
    const facts = line.returned
      ? t("returns.sold_returned", Object.assign(sold, { returned: quantityText(line, line.returned) }))
      : t("returns.sold", sold);
    let controls;
    if (kg) {
      // A weighed line comes back whole (what is left of it) or not at all: no scale at the returns desk.
      controls = h("button", {
        type: "button",
        class: "weighed-toggle " + (qty ? "go" : "secondary"),
        "data-action": "toggle",
        "aria-pressed": qty ? "true" : "false",
        disabled: line.returnable <= 0,
        text: qty ? quantityText(line, qty) : t("returns.weighed_take"),
      });
    } else {
      controls = h(
        "div",
        { class: "qty-controls" },
        h("button", {
          type: "button",
          class: "step secondary",
          "data-action": "minus",
          "aria-label": t("returns.minus_label", { name: line.name }),
          disabled: qty <= 0,
          text: t("cart.minus"),
        }),
        h("span", { class: "qty", "data-qty": qty, text: quantityText(line, qty) }),
        h("button", {
          type: "button",
          class: "step secondary",
          "data-action": "plus",
          "aria-label": t("returns.plus_label", { name: line.name }),
          disabled: qty >= line.returnable,
          text: t("cart.plus"),
        }),
        h("span", { class: "of muted", text: t("returns.of", { max: quantityText(line, line.returnable) }) }),
      );
    }
    return h(
      "li",
      {
        class: "line return-line" + (qty ? " chosen" : "") + (line.returnable <= 0 ? " spent" : ""),
        "data-line": line.line_no,
        "data-returnable": line.returnable,
      },
      h(
        "div",
        { class: "line-top" },
        h("span", { class: "name", text: line.name }),
        h("strong", { class: "line-total", text: qty ? money.format(lineRefund(line, qty)) : "" }),
      ),
      h("div", { class: "line-bottom" }, h("span", { class: "muted small", text: facts }), controls),
    );
  }

  /** The share of the line's total that `quantity` takes back (the hub's rule; its credit note is the truth). */
  function lineRefund(line, quantity) {
    return line.quantity ? Math.round((line.total * quantity) / line.quantity) : 0;
  }

  function estimate() {
    let sum = 0;
    for (const line of sale.lines) sum += lineRefund(line, chosen.get(line.line_no) || 0);
    return refund === "cash" ? money.cashDue(sum) : sum;
  }

  function renderLines() {
    lineList.replaceChildren(...sale.lines.map(lineNode));
    allButton.classList.toggle("active", all);
    allButton.setAttribute("aria-pressed", all ? "true" : "false");
    allButton.disabled = !sale.returnable;
    $("returns-estimate").textContent = money.format(estimate());
    renderConfirm();
  }

  function renderConfirm() {
    confirm.disabled = busy || !sale || !sale.returnable;
    confirm.textContent = t(busy ? "returns.busy" : "returns.confirm");
  }

  function renderReasons() {
    const current = reasonChip;
    for (const button of $("returns-reasons").querySelectorAll("[data-reason]")) {
      const on = button.dataset.reason === current;
      button.classList.toggle("active", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
    }
    error.textContent = "";
  }

  function setRefund(kind) {
    refund = kind;
    for (const button of steps.choose.querySelectorAll("[data-refund]")) {
      const on = button.dataset.refund === refund;
      button.classList.toggle("active", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
    }
    if (sale) $("returns-estimate").textContent = money.format(estimate());
  }

  lineList.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || !sale || busy) return;
    const lineNo = Number(button.closest("li").dataset.line);
    const line = sale.lines.find((l) => l.line_no === lineNo);
    if (!line) return;
    const qty = chosen.get(lineNo) || 0;
    const action = button.dataset.action;
    let next = qty;
    if (action === "plus") next = Math.min(qty + 1000, line.returnable);
    else if (action === "minus") next = Math.max(qty - 1000, 0);
    else if (action === "toggle") next = qty ? 0 : line.returnable;
    chosen.set(lineNo, next);
    all = sale.lines.every((l) => (chosen.get(l.line_no) || 0) === l.returnable);
    error.textContent = "";
    renderLines();
  });

  allButton.addEventListener("click", () => {
    if (!sale || busy) return;
    all = !all;
    for (const line of sale.lines) chosen.set(line.line_no, all ? line.returnable : 0);
    error.textContent = "";
    renderLines();
  });

  for (const button of steps.choose.querySelectorAll("[data-refund]")) {
    button.addEventListener("click", () => setRefund(button.dataset.refund));
  }

  /** The sale.return payload, or a Spanish reason why it cannot be sent yet. */
  function request() {
    const lines = [];
    for (const line of sale.lines) {
      const quantity = chosen.get(line.line_no) || 0;
      if (quantity > 0) lines.push({ line_no: line.line_no, quantity });
    }
    if (!all && !lines.length) return { problem: t("returns.need_lines") };
    const reason = reasonChip || reasonInput.value.trim();
    if (reason.length < 3) return { problem: t("returns.need_reason") };
    const payload = { sale_id: sale.sale_id, reason: reason.slice(0, 200), refund };
    if (!all) payload.lines = lines;
    if (needsApproval()) {
      const who = approver.value.trim().toLowerCase();
      if (who.length < 2) return { problem: t("returns.need_approver") };
      if (!/^[0-9]{4,12}$/.test(pin.text)) return { problem: t("returns.need_pin") };
      payload.approver = who;
      payload.pin = pin.text;
    }
    return { payload };
  }

  async function submit() {
    if (busy || !sale) return;
    const { payload, problem } = request();
    if (problem) {
      error.textContent = problem;
      return;
    }
    if (!returnId) returnId = app.live.newId();
    busy = true;
    error.textContent = "";
    renderConfirm();
    try {
      const note = await app.registerCommand("sale.return", payload, {
        id: returnId,
        quiet: true,
        retry: () => (error.textContent = ""),
      });
      returnId = null;
      if (payload.approver) localStorage.setItem(APPROVER_KEY, payload.approver);
      done(note);
    } catch (err) {
      // Only an answer from the hub settles the id; a timeout or a lost connection keeps it for the retry.
      if (err.code !== "timeout" && err.code !== "offline") returnId = null;
      if (err.code === "forbidden" || err.code === "rate_limited") pin.set("");
      error.textContent = refusal(err, "return", {});
    } finally {
      busy = false;
      renderConfirm();
    }
  }

  confirm.addEventListener("click", submit);
  $("returns-back").addEventListener("click", () => {
    if (busy) return;
    sale = null;
    number.set("");
    show("find");
  });
  $("returns-find-go").addEventListener("click", find);
  $("returns-find-cancel").addEventListener("click", close);
  $("cash-menu").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action='returns']");
    if (button) open(); // the cash menu closes itself; this sheet takes its place
  });

  // -- step 3: the credit note ---------------------------------------------------------------------------------

  function row(label, value, className) {
    return h("div", { class: "row" + (className ? " " + className : "") }, h("span", { text: label }), h("span", { text: value }));
  }

  function noteFolio(note) {
    if (note.folio === null || note.folio === undefined) return t("returns.folio_pending");
    return t("returns.folio_61", { folio: note.folio });
  }

  function renderNote(note, original) {
    const lines = note.lines.map((line) => {
      const kg = line.unit === "kg";
      const qty = formatQuantity(Math.abs(line.quantity), line.unit, money.point, kg ? t("cart.kg") : null);
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
      h("p", { class: "small", text: t("returns.credit_note", { number: note.number }) }),
      h("p", { class: "small", text: noteFolio(note) }),
      h("p", { class: "small", text: t("returns.of_sale", { number: original }) }),
      h("p", { class: "small", text: t("receipt.date", { date: formatDate(note.created_at) }) }),
      h("p", { class: "small", text: t("receipt.register", { name: app.register.name }) }),
      h("p", { class: "small", text: t("returns.reason_line", { reason: note.reason }) }),
      h("hr"),
      ...lines,
      h("hr"),
      row(t("receipt.subtotal"), money.format(note.total)),
    ];
    if (note.rounding) parts.push(row(t("receipt.rounding"), money.format(note.rounding), "rounding"));
    parts.push(row(t("returns.refunded"), money.format(note.to_pay), "strong to-pay"));
    for (const tender of note.tenders) {
      parts.push(row(t("returns.refund_tender", { kind: t("receipt.tender_" + tender.kind) }), money.format(tender.amount)));
    }
    parts.push(h("hr"));
    for (const tax of note.taxes || []) {
      parts.push(row(t("receipt.net"), money.format(tax.net), "small"));
      parts.push(row(t("receipt.tax", { rate: tax.rate_percent }), money.format(tax.tax), "small"));
    }
    $("returns-note").replaceChildren(...parts);
  }

  function done(note) {
    lastNote = { note, original: sale.number };
    const kind = (note.tenders[0] && note.tenders[0].kind) || refund;
    $("returns-refund-label").textContent = t(kind === "card" ? "returns.refund_label_card" : "returns.refund_label_cash");
    $("returns-refund").textContent = money.format(Math.abs(note.to_pay));
    $("returns-refund").dataset.amount = String(-note.to_pay);
    $("returns-credit").textContent = t("returns.credit_note", { number: note.number });
    $("returns-credit").dataset.number = String(note.number);
    $("returns-folio").textContent = noteFolio(note);
    renderNote(note, sale.number);
    sale = null;
    show("done");
    app.toast(t("returns.done", { number: note.number }), "ok");
  }

  $("returns-reprint").addEventListener("click", () => {
    if (lastNote) renderNote(lastNote.note, lastNote.original);
    printSection("print-returns");
  });
  $("returns-close").addEventListener("click", close);

  function close() {
    if (busy) return;
    sale = null;
    pin.set("");
    overlays.close(screen);
  }

  return { open, close };
}

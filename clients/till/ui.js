// Small building blocks of the till: elements, toasts, overlays, a numeric keypad and amount entries.
"use strict";

import { $, h } from "/static/dom.js";

export { $, h };

/** Non-blocking messages: taps go through them (pointer-events: none) and they go away by themselves. */
export class Toasts {
  constructor(container) {
    this.container = container;
  }

  show(text, kind) {
    const node = h("div", { class: "toast " + (kind || "error"), role: kind === "ok" ? "status" : "alert", text });
    this.container.append(node);
    while (this.container.children.length > 2) this.container.firstElementChild.remove();
    setTimeout(() => node.remove(), kind === "ok" ? 2000 : 4500);
    return node;
  }
}

/**
 * Full-screen sheets over the sale. The topmost one gets the physical keyboard (digits for its keypad);
 * `scanner: true` sheets (the receipt) leave the search box in charge so the next scan starts a new sale.
 */
export class Overlays {
  constructor() {
    this.stack = [];
    document.addEventListener("keydown", (event) => {
      const top = this.top();
      if (!top || !top.onKey || top.scanner) return;
      if (event.target instanceof HTMLInputElement && top.element.contains(event.target)) return; // typing
      if (top.onKey(event.key)) event.preventDefault();
    });
  }

  top() {
    return this.stack.length ? this.stack[this.stack.length - 1] : null;
  }

  isOpen(element) {
    return this.stack.some((entry) => entry.element === element);
  }

  /** Whether the sale screen's search box should hold the focus. */
  scannerActive() {
    const top = this.top();
    return !top || Boolean(top.scanner);
  }

  open(element, options) {
    this.close(element);
    const entry = Object.assign({ element }, options || {});
    this.stack.push(entry);
    element.hidden = false;
    // The sale's search box must not swallow keys meant for this sheet (and then "scan" them on Enter).
    const focused = document.activeElement;
    if (!entry.scanner && focused instanceof HTMLElement && !element.contains(focused)) focused.blur();
    document.body.classList.add("has-overlay");
    if (this.onChange) this.onChange();
    return entry;
  }

  close(element) {
    const index = this.stack.findIndex((entry) => entry.element === element);
    if (index >= 0) this.stack.splice(index, 1);
    element.hidden = true;
    if (!this.stack.length) document.body.classList.remove("has-overlay");
    if (this.onChange) this.onChange();
  }
}

/** A 4×3 keypad. onKey receives "0"-"9", "00", the decimal point, "back" or "clear". */
export function buildKeypad(container, messages, money, onKey) {
  const keys = ["7", "8", "9", "4", "5", "6", "1", "2", "3", money.decimals ? "point" : "00", "0", "back"];
  container.replaceChildren();
  for (const key of keys) {
    let label = key;
    let aria = null;
    if (key === "back") {
      label = messages.t("keypad.back");
      aria = messages.t("keypad.back_label");
    } else if (key === "point") {
      label = money.point;
    } else if (key === "00") {
      label = messages.t("keypad.double_zero");
    }
    container.append(
      h("button", { type: "button", class: "key", "data-key": key, "aria-label": aria, text: label }),
    );
  }
  container.append(
    h("button", {
      type: "button",
      class: "key wide secondary",
      "data-key": "clear",
      "aria-label": messages.t("keypad.clear_label"),
      text: messages.t("keypad.clear"),
    }),
  );
  container.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-key]");
    if (button) onKey(button.dataset.key);
  });
}

/** Physical keys -> keypad keys (a USB keypad or keyboard works on every amount screen). */
export function keyFromKeyboard(key) {
  if (/^[0-9]$/.test(key)) return key;
  if (key === "Backspace") return "back";
  if (key === "Delete" || key === "Escape") return "clear";
  if (key === "," || key === ".") return "point";
  return null;
}

/** The digits typed for one amount, shown formatted in its field's <strong>. */
export class AmountEntry {
  constructor(money, field) {
    this.money = money;
    this.field = field;
    this.text = "";
    this.render();
  }

  press(key) {
    if (key === "clear") this.text = "";
    else if (key === "back") this.text = this.text.slice(0, -1);
    else if (key === "point") {
      if (this.money.decimals && !this.text.includes(".")) this.text = (this.text || "0") + ".";
    } else {
      const next = (this.text === "0" ? "" : this.text) + key;
      if (this.money.parse(next) !== null && next.replace(".", "").length <= 10) this.text = next;
    }
    this.render();
  }

  set(minor) {
    if (minor === null || minor === undefined) this.text = "";
    else if (!this.money.decimals) this.text = String(minor);
    else this.text = (minor / this.money.factor).toFixed(this.money.decimals);
    this.render();
  }

  get value() {
    return this.money.parse(this.text);
  }

  get empty() {
    return this.text === "";
  }

  render() {
    if (!this.field) return;
    const target = this.field.querySelector("strong");
    target.textContent = this.money.format(this.value || 0);
    this.field.classList.toggle("blank", this.empty);
  }
}

/** Spanish date and time of an ISO timestamp from the hub (UTC; some arrive without their offset). */
export function formatDate(iso) {
  const text = String(iso || "");
  const date = new Date(/T.*([zZ]|[+-]\d\d:?\d\d)$/.test(text) ? text : text + "Z");
  if (Number.isNaN(date.getTime())) return String(iso || "");
  return date.toLocaleString("es-CL", { dateStyle: "short", timeStyle: "short" });
}

/** Print one printable section: body gets a class that print CSS uses to hide everything else. */
export function printSection(bodyClass) {
  document.body.classList.add(bodyClass);
  const done = () => {
    document.body.classList.remove(bodyClass);
    window.removeEventListener("afterprint", done);
  };
  window.addEventListener("afterprint", done);
  window.print();
  setTimeout(done, 1000); // browsers that never fire afterprint
}

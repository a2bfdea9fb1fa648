// The cart column: lines as the hub reports them, +/- and remove, the total and the Pay button.
import { formatQuantity } from "/static/money.js";
import { $, h } from "/till/ui.js";

export function createCartView(app) {
  const { t, money } = app;
  const list = $("cart-lines");
  const empty = $("cart-empty");
  const total = $("cart-total");
  const count = $("cart-count");
  const pay = $("pay");
  const listeners = [];
  let view = null;

  function lineNode(line, changed) {
    const kg = line.unit === "kg";
    const quantity = formatQuantity(line.quantity, line.unit, money.point, kg ? t("cart.kg") : null);
    const price = money.format(line.unit_price);
    const controls = [];
    if (!kg) {
      controls.push(
        h("button", {
          type: "button",
          class: "step secondary",
          "data-action": "minus",
          "aria-label": t("cart.minus_label", { name: line.name }),
          text: t("cart.minus"),
        }),
      );
    }
    controls.push(h("span", { class: "qty", "data-qty": line.quantity, text: quantity }));
    if (!kg) {
      controls.push(
        h("button", {
          type: "button",
          class: "step secondary",
          "data-action": "plus",
          "aria-label": t("cart.plus_label", { name: line.name }),
          text: t("cart.plus"),
        }),
      );
    }
    controls.push(h("span", { class: "each muted", text: t(kg ? "cart.per_kg" : "cart.each", { price }) }));
    if (line.discount_percent) {
      controls.push(h("span", { class: "chip", text: t("cart.discount", { percent: line.discount_percent }) }));
    }
    return h(
      "li",
      { class: "line" + (changed ? " flash" : ""), "data-line": line.line_id, "data-product": line.product_id },
      h(
        "div",
        { class: "line-top" },
        h("span", { class: "name", text: line.name }),
        h("strong", { class: "line-total", text: money.format(line.total) }),
      ),
      h(
        "div",
        { class: "line-bottom" },
        h("div", { class: "qty-controls" }, controls),
        h("button", {
          type: "button",
          class: "remove secondary",
          "data-action": "remove",
          "aria-label": t("cart.remove_label", { name: line.name }),
          text: t("cart.remove"),
        }),
      ),
    );
  }

  function render(previous) {
    const before = new Map(((previous && previous.lines) || []).map((l) => [l.line_id, l.quantity]));
    const lines = (view && view.lines) || [];
    let focus = null;
    list.replaceChildren(
      ...lines.map((line) => {
        const changed = previous !== undefined && before.get(line.line_id) !== line.quantity;
        const node = lineNode(line, changed);
        if (changed) focus = node;
        return node;
      }),
    );
    empty.hidden = lines.length > 0;
    total.textContent = money.format(view ? view.total : 0);
    const units = lines.length;
    count.textContent = units === 1 ? t("cart.items_one") : units ? t("cart.items", { n: units }) : "";
    pay.disabled = units === 0;
    if (focus) focus.scrollIntoView({ block: "nearest" });
  }

  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || !view) return;
    const lineId = Number(button.closest("li").dataset.line);
    const line = view.lines.find((l) => l.line_id === lineId);
    if (!line) return;
    const action = button.dataset.action;
    let sent;
    if (action === "remove" || (action === "minus" && line.quantity <= 1000)) {
      sent = app.registerCommand("cart.remove", { line_id: lineId });
    } else {
      const step = action === "plus" ? 1000 : -1000;
      sent = app.registerCommand("cart.set_qty", { line_id: lineId, quantity: line.quantity + step });
    }
    sent
      .then((next) => api.apply(next, false))
      .catch((err) => {
        if (err.code === "not_found") verify(); // the line is gone on the hub: show what it has
      });
  });

  pay.addEventListener("click", () => app.pay.open());

  let eventsSeen = 0;
  let verifying = false;

  function accept(next) {
    const previous = view;
    view = next;
    render(previous || undefined);
    for (const listener of listeners) listener(view);
  }

  /**
   * A reply older than the cart on screen: either an event overtook it (harmless) or the hub's register
   * started again with a new cart (its versions restart). Ask again: if no event came meanwhile, the
   * fresh answer is the hub's word and replaces what the screen shows.
   */
  async function verify() {
    if (verifying) return;
    verifying = true;
    const before = eventsSeen;
    try {
      const fresh = await app.registerCommand("cart.get", {}, { quiet: true });
      if (eventsSeen === before || !view || fresh.version >= view.version) accept(fresh);
    } catch (err) {
      // the next event or reconnect sets it right
    } finally {
      verifying = false;
    }
  }

  const api = {
    /**
     * Show a cart from the hub. Events are authoritative (they arrive in stream order); a command's reply
     * may be overtaken by a later event, so a reply older than the screen is checked before it is shown.
     */
    apply(next, authoritative) {
      if (!next || !Array.isArray(next.lines)) return;
      if (authoritative) {
        eventsSeen += 1;
        accept(next);
      } else if (view && next.version < view.version) {
        verify();
      } else {
        accept(next);
      }
    },
    /** Reload from the hub when it refused something the screen showed (a line or cart it no longer has). */
    reload: () => verify(),
    get view() {
      return view;
    },
    onChange(listener) {
      listeners.push(listener);
    },
  };
  render();
  return api;
}

// Back office, "Salón y mesas": the suggested tip percent and the products' modifiers.
//
// A product is found by name, SKU or barcode (GET /api/v1/products?q=), or picked among those that already
// have modifiers (the floor's list); its modifiers (GET /api/v1/products/{id}/modifiers) are edited in place:
// group ("Punto", "Agregado"), name and the price delta added to the product's price (negative allowed),
// in the tenant's currency. Every change goes through `change` (floor.js), which shows the hub's refusal.
import { $, h } from "/static/dom.js";
import { Money, currencyOf } from "/static/money.js";

const SEARCH_DELAY_MS = 250;
const RESULTS = 12;

export function createModifiers({ messages, me, change, done, failed, tipPath, reload }) {
  const t = messages.t.bind(messages);
  const { api } = window.storehub;
  const money = new Money(currencyOf(me.tenant));
  const names = new Map(); // product id -> product
  let product = null;
  let searchTimer = null;
  let searchToken = 0;

  const path = () => "/api/v1/products/" + product.id + "/modifiers";

  /** Minor units as the field shows them: "0.80" (USD), "500" (CLP), "-1.50". */
  function deltaText(minor) {
    const sign = minor < 0 ? "-" : "";
    const abs = Math.abs(minor);
    return sign + (money.decimals ? (abs / money.factor).toFixed(money.decimals) : String(abs));
  }

  /** The field's text as minor units, or null when it is not an amount. */
  function parseDelta(text) {
    const clean = String(text || "").trim();
    const negative = clean.startsWith("-");
    const value = money.parse(negative ? clean.slice(1) : clean);
    if (value === null) return null;
    return negative ? -value : value;
  }

  // -- the tip -----------------------------------------------------------------------------------------------

  $("tip-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const percent = Number($("tip-percent").value);
    if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
      failed(t("floor.errors.lead_tip"), { code: "bad_percent" }, "tip");
      return;
    }
    if (await change(tipPath(), "PATCH", { tip_percent: percent }, "tip")) done(t("floor.done.tip", { percent }));
    await reload();
  });

  // -- finding the product -----------------------------------------------------------------------------------

  function productButton(item) {
    return h(
      "button",
      {
        type: "button",
        class: "secondary product-choice" + (product && product.id === item.id ? " active" : ""),
        "data-product": item.id,
        onclick: () => choose(item),
      },
      h("span", { text: item.name }),
      h("span", { class: "muted small", text: money.format(item.price) }),
    );
  }

  async function search(q) {
    const token = ++searchToken;
    if (!q) {
      $("product-results").replaceChildren();
      return;
    }
    try {
      const page = await api("/api/v1/products?" + new URLSearchParams({ q, limit: String(RESULTS) }));
      if (token !== searchToken) return;
      for (const item of page.items) names.set(item.id, item);
      $("product-results").replaceChildren(
        ...(page.items.length ? page.items.map(productButton) : [h("p", { class: "muted small", text: t("floor.modifiers.no_results", { q }) })]),
      );
    } catch (err) {
      if (token === searchToken) failed(t("floor.errors.lead_search"), err, "search");
    }
  }

  $("product-q").addEventListener("input", () => {
    clearTimeout(searchTimer);
    const q = $("product-q").value.trim();
    searchTimer = setTimeout(() => search(q), SEARCH_DELAY_MS);
  });

  /** The products that have modifiers, from the floor (floor.get): a button each. */
  async function setFloor(floor) {
    const ids = [...new Set((floor.modifiers || []).map((m) => m.product_id))];
    const missing = ids.filter((id) => !names.has(id));
    await Promise.all(
      missing.map(async (id) => {
        try {
          names.set(id, await api("/api/v1/products/" + id));
        } catch (err) {
          // a product we may not read is left out
        }
      }),
    );
    const known = ids.filter((id) => names.has(id)).map((id) => names.get(id));
    known.sort((a, b) => a.name.localeCompare(b.name));
    $("with-modifiers").replaceChildren(...known.map(productButton));
    $("with-modifiers-label").hidden = known.length === 0;
  }

  // -- a product's modifiers ------------------------------------------------------------------------------------

  function cell(label, ...children) {
    return h("td", { "data-label": label }, h("div", { class: "value" }, ...children));
  }

  function row(modifier) {
    const group = h("input", { type: "text", class: "mod-group", maxlength: "40", value: modifier.group, "aria-label": t("floor.modifiers.group") });
    const name = h("input", { type: "text", class: "mod-name", maxlength: "60", value: modifier.name, "aria-label": t("floor.modifiers.name") });
    const delta = h("input", { type: "text", class: "mod-delta", maxlength: "14", inputmode: "decimal", value: deltaText(modifier.price_delta), "aria-label": t("floor.modifiers.delta") });
    const save = async () => {
      const priceDelta = parseDelta(delta.value);
      const params = { name: name.value.trim() || modifier.name };
      if (priceDelta === null) {
        failed(t("floor.errors.lead_save_modifier", params), { code: "bad_delta" }, "save_modifier");
        return;
      }
      const body = { group: group.value.trim(), name: name.value.trim(), price_delta: priceDelta };
      if (await change(path() + "/" + modifier.id, "PATCH", body, "save_modifier", params)) done(t("floor.done.modifier_saved", params));
      await show();
    };
    const remove = async () => {
      const params = { name: modifier.name };
      if (!window.confirm(t("floor.modifiers.delete_confirm", params))) return;
      if (await change(path() + "/" + modifier.id, "DELETE", undefined, "delete_modifier", params)) done(t("floor.done.modifier_deleted", params));
      await show();
    };
    return h(
      "tr",
      { "data-modifier": modifier.id },
      cell(t("floor.modifiers.group"), group),
      cell(t("floor.modifiers.name"), name),
      cell(t("floor.modifiers.delta"), delta),
      cell(
        t("floor.modifiers.actions"),
        h(
          "span",
          { class: "row-actions" },
          h("button", { type: "button", class: "secondary small-button", "data-action": "save", text: t("floor.modifiers.save"), onclick: save }),
          h("button", { type: "button", class: "danger small-button", "data-action": "delete", text: t("floor.modifiers.delete"), onclick: remove }),
        ),
      ),
    );
  }

  async function show() {
    if (!product) return;
    let list;
    try {
      list = await api(path());
    } catch (err) {
      failed(t("floor.errors.lead_modifiers", { product: product.name }), err, "modifiers");
      return;
    }
    $("modifiers-of").hidden = false;
    $("modifiers-of").dataset.product = product.id;
    $("modifiers-product").textContent = t("floor.modifiers.of", { product: product.name, price: money.format(product.price) });
    $("modifiers").replaceChildren(...list.map(row));
    $("modifiers-empty").hidden = list.length > 0;
  }

  async function choose(item) {
    product = item;
    for (const button of document.querySelectorAll(".product-choice")) {
      button.classList.toggle("active", button.dataset.product === item.id);
    }
    await show();
  }

  $("modifier-new").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!product) return;
    const params = { name: $("mod-name").value.trim() };
    const priceDelta = parseDelta($("mod-delta").value);
    if (priceDelta === null) {
      failed(t("floor.errors.lead_add_modifier", params), { code: "bad_delta" }, "add_modifier");
      return;
    }
    const body = { group: $("mod-group").value.trim(), name: params.name, price_delta: priceDelta };
    if (await change(path(), "POST", body, "add_modifier", params)) {
      $("mod-name").value = "";
      $("mod-delta").value = "0";
      done(t("floor.done.modifier_added", params));
    }
    await show();
  });

  return {
    setTip(percent) {
      if (document.activeElement !== $("tip-percent")) $("tip-percent").value = String(percent);
    },
    setFloor,
  };
}

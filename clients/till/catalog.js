// The product side: category tabs, the product grid, and the search box that is also the scanner input.
//
// A keyboard-wedge scanner "types" the code fast and presses Enter: Enter sends cart.add {code}. Text
// typed without Enter for 250 ms is a search (catalog.search); its results replace the grid until cleared.
import { $, h } from "/till/ui.js";

const SEARCH_DELAY_MS = 250;
const PAGE = 100;

export function createCatalog(app) {
  const { t, money } = app;
  const { api } = window.storehub;
  const tabs = $("tabs");
  const grid = $("grid");
  const search = $("search");
  const resultsHead = $("results-head");
  const resultsTitle = $("results-title");
  const keyboard = $("keyboard");
  let categories = [];
  let current = null;
  let timer = null;
  let searchToken = 0;
  let searching = false;
  const pages = new Map(); // category id -> {items, next}

  function productButton(product) {
    const kg = product.unit === "kg";
    const price = money.format(product.price);
    return h(
      "button",
      {
        type: "button",
        class: "product" + (kg ? " weighable" : ""),
        "data-product": product.id,
        "data-sku": product.sku,
        onclick: () => pick(product),
      },
      h("span", { class: "name", text: product.name }),
      h("span", { class: "price", text: kg ? t("catalog.per_kg", { price }) : price }),
    );
  }

  /** A tap on a product: weighables go to the scale panel, the rest straight into the cart. */
  function pick(product) {
    if (searching) clearSearch();
    if (app.restaurant) {
      app.restaurant.pick(product); // onto the table's tab
      return;
    }
    if (product.unit === "kg") {
      app.weigh.open(product);
      return;
    }
    app
      .registerCommand("cart.add", { product_id: product.id }, { retry: () => pick(product) })
      .then((view) => app.cartView.apply(view, false))
      .catch(() => {});
  }

  function renderTabs() {
    tabs.replaceChildren(
      ...categories.map((category) =>
        h("button", {
          type: "button",
          class: "tab" + (current && current.id === category.id ? " active" : ""),
          "data-category": category.id,
          "aria-pressed": current && current.id === category.id ? "true" : "false",
          text: category.name,
          onclick: () => select(category),
        }),
      ),
    );
  }

  function showPage(page) {
    const nodes = page.items.map(productButton);
    if (!page.items.length) nodes.push(h("p", { class: "grid-note muted", text: t("catalog.empty") }));
    if (page.next !== null) {
      nodes.push(h("button", { type: "button", class: "product more secondary", text: t("catalog.more"), onclick: more }));
    }
    grid.replaceChildren(...nodes);
  }

  async function fetchPage(category, offset) {
    const query = new URLSearchParams({ category_id: category.id, limit: String(PAGE), offset: String(offset) });
    return api("/api/v1/products?" + query);
  }

  async function select(category) {
    current = category;
    if (searching) clearSearch();
    renderTabs();
    let page = pages.get(category.id);
    if (!page) {
      grid.replaceChildren(h("p", { class: "grid-note muted", text: t("catalog.loading") }));
      try {
        const result = await fetchPage(category, 0);
        page = { items: result.items, next: result.next_offset };
        pages.set(category.id, page);
      } catch (err) {
        if (current === category) grid.replaceChildren(h("p", { class: "grid-note error", text: t("catalog.failed") }));
        return;
      }
    }
    if (current === category && !searching) showPage(page);
  }

  async function more() {
    const category = current;
    const page = pages.get(category.id);
    if (!page || page.next === null) return;
    try {
      const result = await fetchPage(category, page.next);
      page.items = page.items.concat(result.items);
      page.next = result.next_offset;
      if (current === category && !searching) showPage(page);
    } catch (err) {
      app.toast(t("catalog.failed"));
    }
  }

  // -- search and scanner ---------------------------------------------------------------------------------

  function clearSearch() {
    clearTimeout(timer);
    searchToken += 1;
    search.value = "";
    searching = false;
    resultsHead.hidden = true;
    tabs.hidden = false;
    if (current && pages.get(current.id)) showPage(pages.get(current.id));
  }

  async function runSearch(q) {
    const token = ++searchToken;
    searching = true;
    tabs.hidden = true;
    resultsHead.hidden = false;
    resultsTitle.textContent = t("search.searching");
    let items;
    try {
      items = await app.live.request("catalog.search", { q, limit: 40 });
    } catch (err) {
      if (token === searchToken) app.toast(app.errorText(err));
      return;
    }
    if (token !== searchToken) return; // the text changed meanwhile
    resultsTitle.textContent = t(items.length ? "search.results" : "search.no_results", { q });
    grid.replaceChildren(...items.map(productButton));
  }

  function scanned(code) {
    const adding = app.restaurant
      ? app.restaurant.scan(code)
      : app
          .registerCommand("cart.add", { code }, { quiet: true, retry: () => scanned(code) })
          .then((view) => app.cartView.apply(view, false));
    adding.catch((err) => {
      if (err.code === "no_cash_session") return; // the cash-open screen is up
      // Typed words and Enter: the cashier meant to search, not to scan.
      if (err.code === "not_found" && /[^0-9]/.test(code)) {
        search.value = code;
        runSearch(code);
        return;
      }
      app.toast(app.errorText(err));
    });
  }

  search.addEventListener("keydown", (event) => {
    if (!app.overlays.scannerActive()) {
      event.preventDefault(); // a sheet is in front: its keypad takes the keys
      return;
    }
    if (event.key === "Enter") {
      event.preventDefault();
      clearTimeout(timer);
      const code = search.value.trim();
      search.value = "";
      if (searching) clearSearch();
      if (!code) return;
      if (app.overlays.isOpen($("receipt-screen"))) app.pay.closeReceipt(); // next customer
      scanned(code);
    } else if (event.key === "Escape") {
      clearSearch();
    }
  });

  search.addEventListener("input", () => {
    clearTimeout(timer);
    const q = search.value.trim();
    if (!q) {
      if (searching) clearSearch();
      return;
    }
    timer = setTimeout(() => runSearch(q), SEARCH_DELAY_MS);
  });

  $("results-close").addEventListener("click", clearSearch);

  // The on-screen keyboard would cover the till on every refocus, so it is off unless asked for.
  keyboard.addEventListener("click", () => {
    const on = search.inputMode !== "search";
    search.inputMode = on ? "search" : "none";
    keyboard.setAttribute("aria-pressed", on ? "true" : "false");
    search.blur();
    search.focus();
  });

  return {
    async load() {
      try {
        categories = await api("/api/v1/categories");
      } catch (err) {
        grid.replaceChildren(h("p", { class: "grid-note error", text: t("catalog.failed") }));
        return;
      }
      renderTabs();
      if (categories.length) select(categories[0]);
    },
    pick,
    clearSearch,
  };
}

// The cashier's touch till: a view of the register's state on the hub.
//
// The hub is the source of truth: every cart command answers with the new cart, and every change (from
// this screen or any other) arrives as CartChanged on the register's stream; the till renders what it is
// told. Text comes from i18n/es.json.
import { loadMessages } from "/static/i18n.js";
import { LiveSocket, bindConnectionBadge, connectionLabels } from "/static/live.js";
import { Money, currencyOf } from "/static/money.js";
import { createCartView } from "/till/cart.js";
import { createCash } from "/till/cash.js";
import { createCatalog } from "/till/catalog.js";
import { createPay } from "/till/pay.js";
import { createPrinter } from "/till/printer.js";
import { createRestaurant } from "/till/restaurant.js";
import { createReturns } from "/till/returns.js";
import { $, Overlays, Toasts, h } from "/till/ui.js";
import { createWeigh } from "/till/weigh.js";

const REGISTER_KEY = "storehub.till.register";

async function boot() {
  let messages;
  try {
    messages = await loadMessages("/till/i18n/");
  } catch (err) {
    setTimeout(boot, 3000); // nothing to say it with yet: the loading text stays and we try again
    return;
  }
  messages.apply(document);
  document.title = messages.t("title");
  const { api, setCsrf } = window.storehub;
  let me;
  let registers;
  try {
    me = await api("/api/v1/auth/me");
    setCsrf(me.csrf_token);
    registers = await api("/api/v1/registers");
  } catch (err) {
    if (err.status === 401) {
      location.assign("/login/");
      return;
    }
    bootFailed(messages);
    return;
  }
  const params = new URLSearchParams(location.search);
  const wanted = params.get("register") || localStorage.getItem(REGISTER_KEY);
  const register = registers.find((r) => r.id === wanted);
  $("boot").hidden = true;
  if (register) start(messages, me, register);
  else pick(messages, me, registers);
}

function bootFailed(messages) {
  const box = $("boot");
  box.replaceChildren(
    h("span", { text: messages.t("boot.failed") }),
    h("button", { type: "button", text: messages.t("boot.retry"), onclick: () => location.reload() }),
  );
}

/** No register chosen yet on this screen: one big button per register of the user's store. */
function pick(messages, me, registers) {
  const list = $("picker-list");
  list.replaceChildren();
  if (!registers.length) $("picker-error").textContent = messages.t("picker.none");
  for (const register of registers) {
    list.append(
      h(
        "button",
        {
          type: "button",
          class: "register-choice",
          "data-register": register.id,
          onclick: () => {
            $("picker").hidden = true;
            start(messages, me, register);
          },
        },
        h("strong", { text: register.name }),
        h("span", { class: "muted", text: register.code }),
      ),
    );
  }
  $("picker").hidden = false;
}

/** The register's store: a restaurant's till shows the floor and its tabs instead of the retail cart. */
async function storeOf(register) {
  try {
    return await window.storehub.api("/api/v1/stores/" + encodeURIComponent(register.store_id));
  } catch (err) {
    if (err.status === 401) location.assign("/login/");
    return null;
  }
}

async function start(messages, me, register) {
  const store = await storeOf(register);
  if (!store) {
    bootFailed(messages);
    $("boot").hidden = false;
    return;
  }
  localStorage.setItem(REGISTER_KEY, register.id);
  const url = new URL(location.href);
  url.searchParams.set("register", register.id);
  history.replaceState(null, "", url);

  const t = messages.t.bind(messages);
  const toasts = new Toasts($("toasts"));
  const overlays = new Overlays();
  const live = new LiveSocket();
  const search = $("search");

  const app = {
    messages,
    t,
    me,
    register,
    money: new Money(currencyOf(me.tenant)),
    live,
    overlays,
    toast: (text, kind) => toasts.show(text, kind),

    errorText(err) {
      const key = "errors." + (err && err.code);
      if (err && messages.has(key)) return t(key);
      return (err && err.message) || t("errors.generic");
    },

    /**
     * A command about this register. A hub refusal with no_cash_session opens the cash-open screen
     * (then runs options.retry, if given); other failures become a toast unless options.quiet.
     */
    async registerCommand(type, payload, options) {
      const o = options || {};
      try {
        return await live.request(type, Object.assign({ register_id: register.id }, payload), { id: o.id });
      } catch (err) {
        if (err.code === "no_cash_session") app.cash.askOpen(o.retry);
        else if (!o.quiet) app.toast(app.errorText(err));
        throw err;
      }
    },

    async refreshCart() {
      try {
        app.cartView.apply(await app.registerCommand("cart.get", {}), false);
      } catch (err) {
        // shown already (toast or the cash-open screen)
      }
    },

    /** The search box holds the focus whenever the sale screen is in front: a scan never gets lost. */
    keepFocus() {
      if (overlays.scannerActive() && document.activeElement !== search) search.focus({ preventScroll: true });
    },
  };

  app.cartView = createCartView(app);
  app.weigh = createWeigh(app);
  app.catalog = createCatalog(app);
  app.pay = createPay(app);
  app.cash = createCash(app);
  app.returns = createReturns(app); // after the cash menu: its "Devoluciones" entry opens the returns sheet
  app.printer = createPrinter(app);
  if (store.mode === "restaurant") app.restaurant = createRestaurant(app, store);

  bindConnectionBadge(live, $("conn"), connectionLabels(t, { waiting: true }));
  live.addEventListener("unauthenticated", () => {
    app.toast(t("errors.session"));
    setTimeout(() => location.assign("/login/"), 1500);
  });
  live.addEventListener("huberror", (event) => app.toast(app.errorText(event.detail)));
  live.subscribe("register:" + register.id, {
    onEvent(name, payload) {
      if (name === "CartChanged") app.cartView.apply(payload, true);
      else if (name === "ScaleWeight") app.weigh.onReading(payload);
      else app.printer.onEvent(name, payload);
    },
    onReset: () => {
      if (!app.restaurant) app.refreshCart(); // a restaurant asks for the cash session when a tab is paid
      app.printer.load();
    },
  });
  live.start();

  $("register-name").textContent = register.name;
  $("cashier-name").textContent = me.user ? me.user.display_name : "";
  $("app").hidden = false;

  const later = () => setTimeout(() => app.keepFocus(), 0);
  document.addEventListener("click", later);
  document.addEventListener("pointerup", later);
  search.addEventListener("blur", later);
  overlays.onChange = later;
  app.catalog.load();
  app.keepFocus();
}

boot();

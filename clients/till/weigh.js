// The scale panel for products sold by the kg: the live weight from ScaleWeight events on the register's
// stream, whether it is stable, and "Agregar", which sends cart.add {product_id}: the hub takes the scale's
// latest stable reading itself (and refuses an unstable or stale one; that refusal is shown here).
import { formatQuantity } from "/static/money.js";
import { $ } from "/till/ui.js";

const STALE_MS = 2000; // the hub refuses readings older than this

export function createWeigh(app) {
  const { t, money } = app;
  const panel = $("weigh");
  const grams = $("weigh-grams");
  const status = $("weigh-status");
  const estimate = $("weigh-estimate");
  const error = $("weigh-error");
  const add = $("weigh-add");
  let product = null;
  let reading = null;
  let receivedAt = 0;
  let ticker = null;
  let busy = false;

  function state() {
    if (!reading) return "waiting";
    if (Date.now() - receivedAt > STALE_MS) return "stale";
    return reading.stable ? "stable" : "unstable";
  }

  function render() {
    if (!product) return;
    const current = state();
    const weight = reading ? reading.grams : 0;
    grams.textContent = formatQuantity(Math.max(weight, 0), "kg", money.point);
    grams.dataset.grams = String(weight);
    status.dataset.state = current;
    status.textContent = t("weigh." + current);
    estimate.textContent =
      reading && weight > 0 ? t("weigh.estimate", { amount: money.format(Math.round((product.price * weight) / 1000)) }) : "";
    add.disabled = busy;
  }

  function close() {
    product = null;
    clearInterval(ticker);
    ticker = null;
    panel.hidden = true;
  }

  add.addEventListener("click", async () => {
    if (!product || busy) return;
    const chosen = product;
    busy = true;
    error.textContent = "";
    render();
    try {
      const view = await app.registerCommand("cart.add", { product_id: chosen.id }, { quiet: true });
      app.cartView.apply(view, false);
      if (product === chosen) close();
      app.toast(t("weigh.added", { name: chosen.name }), "ok");
    } catch (err) {
      if (err.code !== "no_cash_session") error.textContent = app.errorText(err); // shown in the panel
    } finally {
      busy = false;
      render();
    }
  });
  $("weigh-cancel").addEventListener("click", close);
  // Tare (a container on the plate) and zero go to the register's scale through its device agent; a scale
  // whose protocol has no such command (CAS PD-II) answers with an error, shown in the panel.
  for (const action of ["tare", "zero"]) {
    $("weigh-" + action).addEventListener("click", async () => {
      error.textContent = "";
      try {
        await app.live.request("scale.action", { register_id: app.register.id, action });
        app.toast(t(`weigh.${action}_sent`), "ok");
      } catch (err) {
        error.textContent = app.errorText(err);
      }
    });
  }

  return {
    open(chosen) {
      product = chosen;
      $("weigh-name").textContent = chosen.name;
      $("weigh-price").textContent = t("weigh.price", { price: money.format(chosen.price) });
      error.textContent = "";
      panel.hidden = false;
      clearInterval(ticker);
      ticker = setInterval(render, 500); // a reading goes stale without any event saying so
      render();
    },
    close,
    onReading(payload) {
      reading = payload;
      receivedAt = Date.now();
      render();
    },
    get product() {
      return product;
    },
  };
}

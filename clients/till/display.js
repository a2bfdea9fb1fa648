// The customer-facing display: the register's stream, read-only. A big cart and total while selling,
// "¡Gracias!" after SaleCompleted until the next sale starts.
import { loadMessages } from "/static/i18n.js";
import { LiveSocket, bindConnectionBadge, connectionLabels } from "/static/live.js";
import { Money, currencyOf, formatQuantity } from "/static/money.js";
import { $, h } from "/till/ui.js";

async function boot() {
  let messages;
  try {
    messages = await loadMessages("/till/i18n/");
  } catch (err) {
    setTimeout(boot, 3000);
    return;
  }
  messages.apply(document);
  document.title = messages.t("display_title");
  const t = messages.t.bind(messages);
  const registerId = new URLSearchParams(location.search).get("register") || localStorage.getItem("storehub.till.register");
  if (!registerId) {
    $("boot").textContent = t("display.need_register");
    return;
  }
  let me;
  try {
    me = await window.storehub.api("/api/v1/auth/me");
  } catch (err) {
    if (err.status === 401) location.assign("/login/");
    else $("boot").textContent = t("boot.failed");
    return;
  }
  const money = new Money(currencyOf(me.tenant));
  const live = new LiveSocket();
  let view = null;
  let thanking = false;

  function show(section) {
    for (const id of ["welcome", "cart", "thanks"]) $(id).hidden = id !== section;
  }

  function render() {
    if (thanking) return;
    const lines = (view && view.lines) || [];
    if (!lines.length) {
      show("welcome");
      return;
    }
    $("lines").replaceChildren(
      ...lines.map((line) => {
        const kg = line.unit === "kg";
        const qty = formatQuantity(line.quantity, line.unit, money.point, kg ? t("cart.kg") : null);
        return h(
          "li",
          { "data-line": line.line_id },
          h("span", { class: "qty", text: qty }),
          h("span", { class: "name", text: line.name }),
          h("strong", { text: money.format(line.total) }),
        );
      }),
    );
    $("total").textContent = money.format(view.total);
    show("cart");
    const last = $("lines").lastElementChild;
    if (last) last.scrollIntoView({ block: "nearest" });
  }

  function apply(next, authoritative) {
    if (!next || !Array.isArray(next.lines)) return;
    if (!authoritative && view && next.version < view.version) return;
    view = next;
    if (thanking && view.lines.length) thanking = false; // the next customer's first item
    render();
  }

  function thank(receipt) {
    thanking = true;
    $("thanks-total").textContent = t("display.thanks_total", { amount: money.format(receipt.to_pay) });
    $("thanks-change").textContent = receipt.change ? t("display.thanks_change", { amount: money.format(receipt.change) }) : "";
    show("thanks");
  }

  bindConnectionBadge(live, $("conn"), connectionLabels(t, { waiting: true }));
  live.addEventListener("unauthenticated", () => location.assign("/login/"));
  live.subscribe("register:" + registerId, {
    onEvent(name, payload) {
      if (name === "CartChanged") apply(payload, true);
      else if (name === "SaleCompleted") thank(payload);
    },
    onReset() {
      live
        .request("cart.get", { register_id: registerId })
        .then((cart) => apply(cart, false))
        .catch(() => render()); // e.g. no open cash session yet: the welcome stays
    },
  });
  live.start();
  $("store-name").textContent = me.tenant.name;
  $("boot").hidden = true;
  $("screen").hidden = false;
  render();
}

boot();

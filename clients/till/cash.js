// Cash sessions: open with a float (asked for when the hub answers no_cash_session), cash in/out, and
// closing with a blind count (the cashier declares the drawer and the card vouchers without seeing what
// is expected), which answers with the Z-report.
import { $, AmountEntry, buildKeypad, formatDate, h, keyFromKeyboard, printSection } from "/till/ui.js";

export function createCash(app) {
  const { t, money, overlays } = app;
  const openScreen = $("cash-open");
  const menuScreen = $("cash-menu");
  const moveScreen = $("cash-move");
  const closeScreen = $("cash-close");
  const zScreen = $("zreport-screen");
  let retryAfterOpen = null;
  let busy = false;

  /** Keypad + physical keys for a screen whose entries are {name: AmountEntry}; `active()` names one. */
  function keyHandler(entries, active, onEnter) {
    return {
      onKey(key) {
        if (key === "Enter") {
          onEnter();
          return true;
        }
        const mapped = keyFromKeyboard(key);
        if (!mapped) return false;
        entries[active()].press(mapped);
        return true;
      },
    };
  }

  // -- open --------------------------------------------------------------------------------------------------

  const floatEntry = new AmountEntry(money, $("cash-open-field"));
  buildKeypad($("cash-open-keypad"), app.messages, money, (key) => floatEntry.press(key));

  async function open() {
    if (busy) return;
    const amount = floatEntry.value || 0;
    busy = true;
    $("cash-open-error").textContent = "";
    try {
      await app.live.request("cash.open", { register_id: app.register.id, float_amount: amount });
      overlays.close(openScreen);
      app.toast(t("cash.opened", { amount: money.format(amount) }), "ok");
      const retry = retryAfterOpen;
      retryAfterOpen = null;
      await app.refreshCart();
      if (retry) retry();
    } catch (err) {
      $("cash-open-error").textContent = app.errorText(err);
      if (err.code === "cash_session_open") overlays.close(openScreen); // someone opened it meanwhile
    } finally {
      busy = false;
    }
  }
  $("cash-open-confirm").addEventListener("click", open);
  $("cash-open-menu").addEventListener("click", () => showMenu(false));

  // -- menu --------------------------------------------------------------------------------------------------

  function showMenu(hasSession) {
    for (const button of menuScreen.querySelectorAll("[data-needs-session]")) button.hidden = !hasSession;
    overlays.open(menuScreen);
  }
  $("menu-button").addEventListener("click", () => showMenu(!overlays.isOpen(openScreen)));
  menuScreen.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    overlays.close(menuScreen);
    if (action === "move-in" || action === "move-out") showMove(action === "move-in" ? "in" : "out");
    else if (action === "close") showClose();
    else if (action === "display") window.open("/till/display.html?register=" + encodeURIComponent(app.register.id), "storehub-display");
    else if (action === "switch") {
      localStorage.removeItem("storehub.till.register");
      location.assign("/till/");
    } else if (action === "logout") {
      try {
        await window.storehub.api("/api/v1/auth/logout", { method: "POST" });
      } catch (err) {
        // signed out either way
      }
      window.storehub.setCsrf(null);
      location.assign("/login/");
    }
  });

  // -- cash in / out -----------------------------------------------------------------------------------------

  const moveEntry = new AmountEntry(money, $("cash-move-field"));
  const reason = $("cash-move-reason");
  let direction = "in";
  buildKeypad($("cash-move-keypad"), app.messages, money, (key) => moveEntry.press(key));
  for (const text of app.messages.list("cash.reasons")) {
    $("cash-move-reasons").append(
      h("button", { type: "button", class: "chip-button secondary", text, onclick: () => (reason.value = text) }),
    );
  }
  function setDirection(next) {
    direction = next;
    for (const button of moveScreen.querySelectorAll("[data-direction]")) {
      const on = button.dataset.direction === direction;
      button.classList.toggle("active", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
    }
  }
  for (const button of moveScreen.querySelectorAll("[data-direction]")) {
    button.addEventListener("click", () => setDirection(button.dataset.direction));
  }
  function showMove(initial) {
    moveEntry.set(null);
    reason.value = "";
    $("cash-move-error").textContent = "";
    setDirection(initial);
    overlays.open(moveScreen, keyHandler({ amount: moveEntry }, () => "amount", move));
  }
  async function move() {
    if (busy) return;
    const amount = moveEntry.value;
    const why = reason.value.trim();
    const errorBox = $("cash-move-error");
    if (!amount) {
      errorBox.textContent = t("cash.need_amount");
      return;
    }
    if (!why) {
      errorBox.textContent = t("cash.need_reason");
      return;
    }
    busy = true;
    try {
      await app.registerCommand("cash.move", { direction, amount, reason: why }, { quiet: true });
      overlays.close(moveScreen);
      app.toast(t(direction === "in" ? "cash.moved_in" : "cash.moved_out", { amount: money.format(amount) }), "ok");
    } catch (err) {
      errorBox.textContent = app.errorText(err);
      if (err.code === "no_cash_session") overlays.close(moveScreen);
    } finally {
      busy = false;
    }
  }
  $("cash-move-confirm").addEventListener("click", move);
  $("cash-move-cancel").addEventListener("click", () => overlays.close(moveScreen));

  // -- close: blind count, then the Z-report -------------------------------------------------------------------

  const countFields = { cash: $("cash-close-cash"), card: $("cash-close-card") };
  const counted = { cash: new AmountEntry(money, countFields.cash), card: new AmountEntry(money, countFields.card) };
  let counting = "cash";
  function setCounting(name) {
    counting = name;
    for (const [key, field] of Object.entries(countFields)) field.classList.toggle("active", key === counting);
  }
  for (const [name, field] of Object.entries(countFields)) field.addEventListener("click", () => setCounting(name));
  buildKeypad($("cash-close-keypad"), app.messages, money, (key) => counted[counting].press(key));

  function showClose() {
    counted.cash.set(null);
    counted.card.set(null);
    setCounting("cash");
    $("cash-close-error").textContent = "";
    overlays.open(closeScreen, keyHandler(counted, () => counting, close));
  }
  async function close() {
    if (busy) return;
    busy = true;
    const button = $("cash-close-confirm");
    button.disabled = true;
    button.textContent = t("cash.closing");
    try {
      const report = await app.registerCommand(
        "cash.close",
        { counted: { cash: counted.cash.value || 0, card: counted.card.value || 0 } },
        { quiet: true },
      );
      overlays.close(closeScreen);
      showZ(report);
    } catch (err) {
      $("cash-close-error").textContent = app.errorText(err);
      if (err.code === "no_cash_session") overlays.close(closeScreen);
    } finally {
      busy = false;
      button.disabled = false;
      button.textContent = t("cash.close");
    }
  }
  $("cash-close-confirm").addEventListener("click", close);
  $("cash-close-cancel").addEventListener("click", () => overlays.close(closeScreen));

  function showZ(report) {
    $("z-register").textContent = t("receipt.register", { name: app.register.name });
    $("z-opened").textContent = t("z.opened", { date: formatDate(report.opened_at) });
    $("z-closed").textContent = t("z.closed", { date: formatDate(report.closed_at) });
    $("z-sales").textContent = t("z.sales", { count: report.sales_count, amount: money.format(report.sales_total) });
    $("z-tips").hidden = !report.tips; // restaurant tips, inside the tenders' expected amounts
    $("z-tips").textContent = report.tips ? t("z.tips", { amount: money.format(report.tips) }) : "";
    $("z-lines").replaceChildren(
      ...report.lines.map((line) =>
        h(
          "tr",
          { "data-tender": line.tender, class: line.difference ? "off" : "" },
          h("td", { text: t("receipt.tender_" + line.tender) }),
          h("td", { text: money.format(line.expected) }),
          h("td", { text: money.format(line.counted) }),
          h("td", { class: "difference", "data-difference": line.difference, text: money.format(line.difference) }),
        ),
      ),
    );
    overlays.open(zScreen);
  }
  $("z-print").addEventListener("click", () => printSection("print-z"));
  $("z-done").addEventListener("click", () => {
    overlays.close(zScreen);
    api.askOpen(); // the session is closed: the next shift starts by counting its float
  });

  const api = {
    /** The hub refused for lack of an open session: ask for the float; `retry` runs after opening. */
    askOpen(retry) {
      if (retry) retryAfterOpen = retry;
      if (overlays.isOpen(openScreen)) return;
      floatEntry.set(null);
      $("cash-open-error").textContent = "";
      overlays.open(openScreen, keyHandler({ float: floatEntry }, () => "float", open));
    },
  };
  return api;
}

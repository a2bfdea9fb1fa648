// Voiding an item the kitchen already has (tab.void): why (a common reason or typed), and for a cashier a
// manager's username and PIN typed at the till, as the returns screen asks them. The item stays on the tab,
// voided, and is not charged.
import { Digits } from "/till/returns.js";
import { $, buildKeypad, h, keyFromKeyboard } from "/till/ui.js";

const APPROVER_KEY = "storehub.till.approver";
const MAX_PIN_DIGITS = 12;
const MANAGER_ROLES = ["manager", "owner"];
const NO_DECIMALS = { decimals: 0, point: "," };

export function createVoid(app, r) {
  const { t, overlays } = app;
  const sheet = $("void-sheet");
  const reasonInput = $("void-reason");
  const approver = $("void-approver");
  const pinInput = $("void-pin");
  const error = $("void-error");
  const confirm = $("void-confirm");
  let target = null; // {tab, item}
  let chip = null;
  let busy = false;

  const needsApproval = () => !MANAGER_ROLES.includes(app.me.role);
  const pin = new Digits(MAX_PIN_DIGITS, (text) => {
    pinInput.value = text;
    error.textContent = "";
  });
  buildKeypad($("void-pin-keypad"), app.messages, NO_DECIMALS, (key) => pin.press(key));
  pinInput.addEventListener("input", () => pin.set(pinInput.value));

  for (const text of app.messages.list("void.reasons")) {
    $("void-reasons").append(
      h("button", {
        type: "button",
        class: "method reason",
        "data-reason": text,
        "aria-pressed": "false",
        text,
        onclick: () => {
          chip = text;
          reasonInput.value = "";
          renderReasons();
        },
      }),
    );
  }
  reasonInput.addEventListener("input", () => {
    if (reasonInput.value.trim()) chip = null;
    renderReasons();
  });

  function renderReasons() {
    for (const button of $("void-reasons").querySelectorAll("[data-reason]")) {
      const on = button.dataset.reason === chip;
      button.classList.toggle("active", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
    }
    error.textContent = "";
  }

  function renderConfirm() {
    confirm.disabled = busy;
    confirm.textContent = t(busy ? "void.busy" : "void.confirm");
  }

  function open(tab, item) {
    target = { tab, item };
    chip = null;
    reasonInput.value = "";
    pin.set("");
    approver.value = localStorage.getItem(APPROVER_KEY) || "";
    $("void-title").textContent = t("void.title", { name: item.name });
    $("void-item").textContent = t("void.item", { table: tab.table_name, qty: item.quantity / 1000, amount: app.money.format(item.total) });
    $("void-approval").hidden = !needsApproval();
    sheet.querySelector(".void-sheet").classList.toggle("no-approval", !needsApproval());
    renderReasons();
    renderConfirm();
    overlays.open(sheet, {
      onKey(key) {
        if (key === "Enter") submit();
        else if (key === "Escape") close();
        else {
          const mapped = keyFromKeyboard(key);
          if (!mapped || mapped === "point" || !needsApproval() || busy) return false;
          pin.press(mapped);
        }
        return true;
      },
    });
  }

  function close() {
    if (busy) return;
    target = null;
    pin.set("");
    overlays.close(sheet);
  }

  /** The tab.void payload, or a Spanish reason why it cannot be sent yet. */
  function request() {
    const reason = chip || reasonInput.value.trim();
    if (reason.length < 3) return { problem: t("void.need_reason") };
    const payload = { tab_id: target.tab.tab_id, n: target.item.n, reason: reason.slice(0, 200) };
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
    if (busy || !target) return;
    const { payload, problem } = request();
    if (problem) {
      error.textContent = problem;
      return;
    }
    busy = true;
    renderConfirm();
    try {
      const next = await r.command("tab.void", payload, { quiet: true });
      if (payload.approver) localStorage.setItem(APPROVER_KEY, payload.approver);
      r.tabReply(next);
      r.tab.accept(next);
      busy = false;
      close();
      app.toast(t("void.done"), "ok");
    } catch (err) {
      if (err.code === "forbidden" || err.code === "rate_limited") pin.set("");
      const key = "void.errors." + err.code;
      error.textContent = app.messages.has(key) ? t(key) : app.errorText(err);
    } finally {
      busy = false;
      renderConfirm();
    }
  }

  confirm.addEventListener("click", submit);
  $("void-cancel").addEventListener("click", close);

  return { open };
}

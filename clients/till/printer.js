// The receipt printer of this register, as its device agent reports it: a badge in the header ("Impresora
// lista", "Sin papel: 1 boleta en espera", "Impresora desconectada") from DeviceStatusChanged and
// PrintJobChanged events on the register's stream, loaded with devices.status after every (re)subscription.
// A reprint goes to the printer when the register has one (print.reprint); otherwise to the browser.
import { $ } from "/till/ui.js";

export function createPrinter(app) {
  const { t } = app;
  const badge = $("printer");
  let printer = null; // DeviceStatusView of the register's printer, or null
  const waiting = new Map(); // job_id -> PrintJobView, for jobs queued, sent or held

  function render() {
    if (!printer) {
      badge.hidden = true;
      return;
    }
    badge.hidden = false;
    let state = "ready";
    if (!printer.connected || !printer.online) state = "offline";
    else if (printer.paper_out) state = "paper_out";
    else if (printer.cover_open) state = "cover_open";
    const held = [...waiting.values()].filter((job) => job.state === "held").length;
    badge.dataset.state = state;
    badge.textContent = t("printer." + state) + (held ? " · " + t("printer.held", { n: held }) : "");
    badge.title = printer.name;
  }

  async function load() {
    try {
      const devices = await app.live.request("devices.status", { register_id: app.register.id });
      printer = devices.find((d) => d.kind === "printer") || null;
    } catch (err) {
      printer = null;
    }
    render();
  }

  function onEvent(name, payload) {
    if (name === "DeviceStatusChanged" && payload.kind === "printer") {
      printer = payload;
      render();
    } else if (name === "PrintJobChanged") {
      if (payload.state === "printed" || payload.state === "failed") waiting.delete(payload.job_id);
      else waiting.set(payload.job_id, payload);
      if (payload.state === "failed" && payload.reason) app.toast(t("printer.failed", { reason: payload.reason }));
      render();
    }
  }

  /** Reprint a sale's receipt on the printer; false when the register has none (print in the browser). */
  async function reprint(saleId) {
    if (!printer) return false;
    try {
      await app.live.request("print.reprint", { register_id: app.register.id, sale_id: saleId });
      app.toast(t("printer.reprinting"), "ok");
    } catch (err) {
      app.toast(app.errorText(err));
    }
    return true;
  }

  return { load, onEvent, reprint, get present() { return printer !== null; } };
}

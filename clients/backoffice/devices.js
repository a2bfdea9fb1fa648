// Back office: the in-store devices of each store (agents, scales, printers, cash drawers).
//
// * The devices of the chosen store (GET /api/v1/devices?store_id=), each with its kind, the register it
//   serves (a select: PATCH register_id, null unbinds), its pairing status, a printer's paper width
//   (PATCH config.paper_mm, 80 or 58) and its id with a copy button (the agent's agent.toml lists ids).
// * A new device is created with a form (POST /api/v1/devices): the hub answers with a one-time pairing
//   code valid 15 minutes, shown once, large, with its expiry; for an agent, how to trade it for the
//   agent's token (POST /api/v1/devices/pair) and start it. While the code is on screen the device is
//   read again every few seconds, so the page says when the agent has paired.
// * "Revocar" asks first (a revoked agent is disconnected at once; the token never works again).
// * The last print jobs of each printer (GET /api/v1/print-jobs?device_id=) with "Reimprimir"; the page
//   follows the `tenant` stream and reloads a printer's jobs when PrintJobChanged names it.
// * How to start the store's agent: the command with this hub's address and an agent.toml filled with
//   the store's scale and printer ids.
// Text comes from i18n/es.json; the hub's own words (problem documents' `detail`) are shown as they come.
import { $, h } from "/static/dom.js";
import { showUser, startPage, toLogin } from "/static/page.js";
import { LiveSocket, bindConnectionBadge, connectionLabels } from "/static/live.js";

const MANAGERS = new Set(["owner", "manager"]);
const KINDS = new Set(["agent", "scale", "printer", "drawer"]);
const STATUSES = new Set(["pairing", "unpaired", "paired", "revoked"]);
const JOB_KINDS = new Set(["receipt", "kitchen", "zreport", "test"]);
const JOB_STATES = new Set(["queued", "sent", "held", "printed", "failed"]);
const PAPER_WIDTHS = [80, 58];
const JOBS_SHOWN = 10;
const PAIRING_POLL_MS = 4000;
const COPIED_MS = 1500;
const SCALE_PROTOCOLS = new Set(["toledo8217", "cas_pd2"]);
const DEVICES = "/api/v1/devices";
const JOBS = "/api/v1/print-jobs";

async function boot() {
  const page = await startPage({
    i18n: "/backoffice/i18n/",
    title: "devices.title",
    sessionFailed: "devices.session_failed",
    retry: boot,
  });
  if (!page) return;
  const { messages, t, me } = page;
  const { api } = window.storehub;
  showUser(messages, me);

  if (!MANAGERS.has(me.role)) {
    // Cashiers and kitchen staff: the hub would refuse every request here anyway.
    $("refused").hidden = false;
    if (me.role !== "cashier") $("refused").querySelector("a").parentElement.hidden = true;
    return;
  }
  $("nav-fiscal").hidden = me.tenant.country !== "CL"; // tax documents (SII): Chilean tenants only
  $("devices-page").hidden = false;
  createDevicesPage(messages, me);
}

function createDevicesPage(messages, me) {
  const t = messages.t.bind(messages);
  const { api } = window.storehub;
  const locale = messages.lookup("locale") || "es-CL";
  const dateTime = new Intl.DateTimeFormat(locale, {
    day: "2-digit",
    month: "2-digit",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
  const timeOnly = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

  const state = {
    stores: [],
    storeId: null,
    registers: [],
    devices: [],
    loading: 0, // answers for a store no longer chosen are dropped
  };
  const pairing = { device: null, code: "", expiresAt: 0, clock: null, poll: null };
  const jobReloads = new Map(); // device id -> timer

  // -- formatting ---------------------------------------------------------------------------------------

  function when(iso) {
    const moment = new Date(iso);
    return Number.isNaN(moment.getTime()) ? String(iso || "") : dateTime.format(moment);
  }

  function clock(iso) {
    const moment = new Date(iso);
    return Number.isNaN(moment.getTime()) ? String(iso || "") : timeOnly.format(moment);
  }

  function problemText(err) {
    if (err && err.problem && err.problem.detail) return err.problem.detail;
    if (err && err.status) return t("devices.generic", { status: err.status });
    return (err && err.message) || t("devices.generic", { status: "?" });
  }

  function kindName(kind) {
    return KINDS.has(kind) ? t("devices.kind." + kind) : kind;
  }

  function statusName(status) {
    return STATUSES.has(status) ? t("devices.status." + status) : status;
  }

  function jobKindName(kind) {
    return JOB_KINDS.has(kind) ? t("devices.jobs.kind." + kind) : kind;
  }

  function jobStateName(jobState) {
    return JOB_STATES.has(jobState) ? t("devices.jobs.state." + jobState) : jobState;
  }

  function registerName(id) {
    const register = state.registers.find((r) => r.id === id);
    return register ? register.name : t("devices.list.no_register");
  }

  /** Ids are UUIDv7: their first digits are a timestamp, alike for devices made together; the last differ. */
  function shortId(id) {
    return "\u2026" + String(id).slice(-8);
  }

  /** "ABCDEFGHJK" as "ABCDE-FGHJK": easier to read aloud and type (the hub ignores dashes and spaces). */
  function grouped(code) {
    return code.length > 5 ? code.slice(0, 5) + "-" + code.slice(5) : code;
  }

  function paperOf(device) {
    const mm = Number((device.config || {}).paper_mm);
    return PAPER_WIDTHS.includes(mm) ? mm : 80;
  }

  // -- copying ------------------------------------------------------------------------------------------

  /** The clipboard API needs a secure origin (https or localhost); a hub on a LAN address may be neither. */
  async function writeClipboard(text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    const buffer = h("textarea", { class: "copy-buffer", readonly: true, "aria-hidden": "true" });
    buffer.value = text;
    document.body.append(buffer);
    buffer.select();
    try {
      if (!document.execCommand("copy")) throw new Error("copy refused");
    } finally {
      buffer.remove();
    }
  }

  async function copy(text, button) {
    try {
      await writeClipboard(text);
    } catch (err) {
      showActionError(t("devices.copy_failed"), text);
      return;
    }
    button.textContent = t("devices.copied");
    button.classList.add("copied");
    setTimeout(() => {
      button.textContent = t("devices.copy");
      button.classList.remove("copied");
    }, COPIED_MS);
  }

  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", () => copy($(button.dataset.copy).textContent, button));
  }
  $("pairing-copy").addEventListener("click", () => copy(pairing.code, $("pairing-copy")));

  // -- messages above the list --------------------------------------------------------------------------

  function clearAction() {
    $("action-error").hidden = true;
    $("action-done").textContent = "";
  }

  function showActionError(lead, detail) {
    const box = $("action-error");
    box.querySelector(".lead").textContent = lead;
    box.querySelector(".detail").textContent = detail;
    box.hidden = false;
    $("action-done").textContent = "";
  }

  function showActionDone(text) {
    $("action-error").hidden = true;
    $("action-done").textContent = text;
  }

  // -- the list of devices ------------------------------------------------------------------------------

  /** A table cell; on phones its column's name shows beside the value (CSS, from data-label). */
  function cell(label, ...children) {
    return h("td", { "data-label": label }, h("div", { class: "value" }, ...children));
  }

  function registerSelect(device) {
    const select = h(
      "select",
      { class: "register", "aria-label": t("devices.list.register_label", { name: device.name }) },
      h("option", { value: "", text: t("devices.list.no_register") }),
      ...state.registers.map((r) => h("option", { value: r.id, text: r.name })),
    );
    select.value = device.register_id || "";
    select.addEventListener("change", () => {
      const registerId = select.value || null;
      const done = registerId
        ? t("devices.bound_done", { name: device.name, register: registerName(registerId) })
        : t("devices.unbound_done", { name: device.name });
      change(device, { register_id: registerId }, select, done, "devices.bind_failed");
    });
    return select;
  }

  function paperSelect(device) {
    const select = h(
      "select",
      { class: "paper", "aria-label": t("devices.list.paper_label", { name: device.name }) },
      ...PAPER_WIDTHS.map((mm) => h("option", { value: String(mm), text: t("devices.paper." + mm) })),
    );
    select.value = String(paperOf(device));
    select.addEventListener("change", () => {
      const mm = Number(select.value);
      const config = { ...(device.config || {}), paper_mm: mm }; // the hub replaces the whole config
      const done = t("devices.paper_done", { name: device.name, mm });
      change(device, { config }, select, done, "devices.paper_failed");
    });
    return select;
  }

  function statusCell(device) {
    const parts = [h("span", { class: "chip status-" + device.status, text: statusName(device.status) })];
    let note = "";
    if (device.status === "pairing" && device.pairing_expires_at) {
      note = t("devices.status_expires", { time: clock(device.pairing_expires_at) });
    } else if (device.status === "paired" && device.paired_at) {
      note = t("devices.status_paired_at", { date: when(device.paired_at) });
    } else if (device.status === "revoked" && device.revoked_at) {
      note = t("devices.status_revoked_at", { date: when(device.revoked_at) });
    } else if (device.kind !== "agent") {
      note = t("devices.via_agent");
    }
    if (note) parts.push(h("span", { class: "muted small", text: note }));
    return h("div", { class: "status" }, ...parts);
  }

  function deviceRow(device) {
    const revoked = device.status === "revoked";
    let register;
    if (device.kind === "agent") register = h("span", { class: "muted", text: t("devices.list.agent_register") });
    else if (revoked) register = h("span", { class: "muted", text: registerName(device.register_id) });
    else register = registerSelect(device);

    let paper;
    if (device.kind !== "printer") paper = h("span", { class: "muted", text: t("devices.list.not_applicable") });
    else if (revoked) paper = h("span", { class: "muted", text: t("devices.paper." + paperOf(device)) });
    else paper = paperSelect(device);

    const idButton = h("button", {
      class: "secondary copy small-button",
      type: "button",
      "aria-label": t("devices.copy_id_label", { name: device.name }),
      text: t("devices.copy"),
    });
    idButton.addEventListener("click", () => copy(device.id, idButton));

    const actions = revoked
      ? h("span", { class: "muted", text: t("devices.list.not_applicable") })
      : h("button", {
          class: "danger revoke",
          type: "button",
          "aria-label": t("devices.revoke_label", { name: device.name }),
          text: t("devices.revoke"),
          onclick: () => revoke(device),
        });

    const name = [h("strong", { class: "name", text: device.name })];
    if (device.kind === "agent" && !revoked) {
      name.push(h("a", { class: "small how-to", href: "#agent-help", text: t("devices.how_to") }));
    }
    return h(
      "tr",
      {
        "data-device-id": device.id,
        "data-kind": device.kind,
        "data-status": device.status,
        class: revoked ? "revoked" : null,
      },
      cell(t("devices.list.name"), h("div", { class: "device-name" }, ...name)),
      cell(t("devices.list.kind"), h("span", { class: "kind kind-" + device.kind, text: kindName(device.kind) })),
      cell(t("devices.list.register"), register),
      cell(t("devices.list.status"), statusCell(device)),
      cell(t("devices.list.paper"), paper),
      cell(
        t("devices.list.id"),
        h(
          "span",
          { class: "device-id-cell" },
          h("code", { class: "device-id", title: t("devices.id_title", { id: device.id }), text: shortId(device.id) }),
          idButton,
        ),
      ),
      cell(t("devices.list.actions"), actions),
    );
  }

  /** Revoked devices last: they stay listed (their history), but what works comes first. */
  function ordered(devices) {
    const rank = (d) => (d.status === "revoked" ? 1 : 0);
    return [...devices].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name, locale));
  }

  function renderDevices() {
    $("devices").replaceChildren(...ordered(state.devices).map(deviceRow));
    $("devices-empty").hidden = state.devices.length > 0;
    renderAgentHelp();
  }

  function replaceDevice(updated) {
    state.devices = state.devices.map((d) => (d.id === updated.id ? updated : d));
    const old = $("devices").querySelector('tr[data-device-id="' + CSS.escape(updated.id) + '"]');
    if (old) {
      const row = deviceRow(updated);
      row.classList.add("changed");
      old.replaceWith(row);
    }
    renderAgentHelp();
  }

  async function change(device, body, select, doneText, failKey) {
    clearAction();
    select.disabled = true;
    try {
      const updated = await api(DEVICES + "/" + device.id, { method: "PATCH", body });
      replaceDevice(updated);
      showActionDone(doneText);
      if (updated.kind === "printer") loadJobs();
    } catch (err) {
      if (err.status === 401) return toLogin();
      showActionError(t(failKey, { name: device.name }), problemText(err));
      await showAsTheHubHasIt(device);
    }
  }

  /** After a refusal the row shows what the hub has (revoked elsewhere, say), or at least what it had. */
  async function showAsTheHubHasIt(device) {
    let now = device;
    try {
      now = await api(DEVICES + "/" + device.id);
    } catch (err) {
      if (err.status === 401) return toLogin();
    }
    replaceDevice(now);
    if (now.kind === "printer" && now.status !== device.status) loadJobs();
  }

  async function revoke(device) {
    clearAction();
    const question = device.kind === "agent" ? "devices.revoke_confirm_agent" : "devices.revoke_confirm";
    if (!window.confirm(t(question, { name: device.name }))) return;
    try {
      const updated = await api(DEVICES + "/" + device.id + "/revoke", { method: "POST" });
      replaceDevice(updated);
      showActionDone(t("devices.revoked_done", { name: device.name }));
      if (pairing.device && pairing.device.id === device.id) closePairing();
      if (updated.kind === "printer") loadJobs();
    } catch (err) {
      if (err.status === 401) return toLogin();
      showActionError(t("devices.revoke_failed", { name: device.name }), problemText(err));
    }
  }

  // -- the store ----------------------------------------------------------------------------------------

  function renderCreateRegisters() {
    const select = $("create-register");
    const chosen = select.value;
    select.replaceChildren(
      h("option", { value: "", text: t("devices.list.no_register") }),
      ...state.registers.map((r) => h("option", { value: r.id, text: r.name })),
    );
    if (state.registers.some((r) => r.id === chosen)) select.value = chosen;
  }

  async function loadStore() {
    const ticket = ++state.loading;
    const storeId = state.storeId;
    const query = "?store_id=" + encodeURIComponent(storeId);
    $("refresh").disabled = true;
    try {
      const [registers, devices] = await Promise.all([
        api("/api/v1/registers" + query),
        api(DEVICES + query),
      ]);
      if (ticket !== state.loading) return;
      state.registers = registers;
      state.devices = devices;
      $("devices-error").textContent = "";
      renderCreateRegisters();
      renderDevices();
      loadJobs();
    } catch (err) {
      if (err.status === 401) return toLogin();
      if (ticket === state.loading) $("devices-error").textContent = t("devices.load_failed");
    } finally {
      if (ticket === state.loading) $("refresh").disabled = false;
    }
  }

  async function loadStores() {
    let stores;
    try {
      stores = await api("/api/v1/stores");
    } catch (err) {
      if (err.status === 401) return toLogin();
      $("devices-error").textContent = t("devices.load_failed");
      return;
    }
    state.stores = stores;
    if (stores.length === 0) {
      $("devices-error").textContent = t("devices.no_stores");
      return;
    }
    const wanted = new URLSearchParams(location.search).get("store");
    state.storeId = stores.some((s) => s.id === wanted) ? wanted : stores[0].id;
    const select = $("store");
    select.replaceChildren(...stores.map((s) => h("option", { value: s.id, text: s.name })));
    select.value = state.storeId;
    $("store-picker").hidden = stores.length < 2;
    await loadStore();
  }

  $("store").addEventListener("change", (event) => {
    state.storeId = event.target.value;
    const url = new URL(location.href);
    url.searchParams.set("store", state.storeId);
    history.replaceState(null, "", url); // a reload stays on this store
    clearAction();
    closePairing();
    loadStore();
  });
  $("refresh").addEventListener("click", () => {
    clearAction();
    loadStore();
  });

  // -- a new device and its pairing code ----------------------------------------------------------------

  function kindChanged() {
    const kind = $("create-kind").value;
    const agent = kind === "agent";
    $("create-register").disabled = agent; // an agent serves the whole store, never one register
    if (agent) $("create-register").value = "";
    $("create-agent-note").hidden = !agent;
    $("create-paper-field").hidden = kind !== "printer";
  }
  $("create-kind").addEventListener("change", kindChanged);
  kindChanged();

  $("create-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const errorBox = $("create-error");
    const submit = $("create-submit");
    errorBox.hidden = true;
    clearAction();
    const kind = $("create-kind").value;
    const body = { store_id: state.storeId, kind, name: $("create-name").value.trim() };
    if (kind !== "agent" && $("create-register").value) body.register_id = $("create-register").value;
    if (kind === "printer") body.config = { paper_mm: Number($("create-paper").value) };
    submit.disabled = true;
    submit.textContent = t("devices.create.sending");
    try {
      const created = await api(DEVICES, { method: "POST", body });
      $("create-name").value = "";
      state.devices = [...state.devices.filter((d) => d.id !== created.device.id), created.device];
      renderDevices();
      if (kind === "printer") loadJobs();
      showPairing(created);
    } catch (err) {
      if (err.status === 401) return toLogin();
      errorBox.querySelector(".detail").textContent = problemText(err);
      errorBox.hidden = false;
    } finally {
      submit.disabled = false;
      submit.textContent = t("devices.create.submit");
    }
  });

  function showPairing(created) {
    closePairing();
    const device = created.device;
    pairing.device = device;
    pairing.code = created.pairing_code;
    pairing.expiresAt = new Date(created.pairing_expires_at).getTime();
    $("pairing-title").textContent = t("devices.pairing.title", { kind: kindName(device.kind), name: device.name });
    const code = $("pairing-code");
    code.textContent = grouped(created.pairing_code);
    code.dataset.code = created.pairing_code;
    $("pairing-paired").textContent = "";
    const agent = device.kind === "agent";
    $("pairing-agent").hidden = !agent;
    $("pairing-other").hidden = agent;
    if (agent) {
      const body = JSON.stringify({ tenant: me.tenant.slug, code: created.pairing_code });
      $("pairing-curl").textContent =
        "curl -X POST " + location.origin + "/api/v1/devices/pair \\\n" +
        '  -H "Content-Type: application/json" \\\n' +
        "  -d '" + body + "'";
      $("pairing-run").textContent = agentCommand();
    }
    const panel = $("pairing");
    panel.classList.remove("expired");
    panel.hidden = false;
    tickPairing();
    pairing.clock = setInterval(tickPairing, 1000);
    pairing.poll = setInterval(pollPairing, PAIRING_POLL_MS);
    panel.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  function tickPairing() {
    const left = pairing.expiresAt - Date.now();
    const expires = $("pairing-expires");
    if (left <= 0) {
      expires.textContent = t("devices.pairing.expired");
      $("pairing").classList.add("expired");
      stopPairingTimers();
      return;
    }
    const seconds = Math.ceil(left / 1000);
    const remaining = Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
    expires.textContent = t("devices.pairing.expires", {
      time: clock(new Date(pairing.expiresAt).toISOString()),
      left: remaining,
    });
  }

  /** While the code is on screen: has the agent traded it yet? */
  async function pollPairing() {
    const device = pairing.device;
    if (!device) return;
    let now;
    try {
      now = await api(DEVICES + "/" + device.id);
    } catch (err) {
      if (err.status === 401) return toLogin();
      return; // a network blip: try again on the next tick
    }
    if (pairing.device !== device || now.status === "pairing") return;
    replaceDevice(now);
    stopPairingTimers();
    if (now.status === "paired") {
      $("pairing-paired").textContent = t("devices.pairing.paired", { name: now.name });
      $("pairing-expires").textContent = "";
    }
  }

  function stopPairingTimers() {
    clearInterval(pairing.clock);
    clearInterval(pairing.poll);
    pairing.clock = pairing.poll = null;
  }

  /** Hidden and forgotten: the code is shown once. */
  function closePairing() {
    stopPairingTimers();
    pairing.device = null;
    pairing.code = "";
    $("pairing").hidden = true;
    $("pairing-code").textContent = "";
    delete $("pairing-code").dataset.code;
    $("pairing-curl").textContent = "";
  }
  $("pairing-close").addEventListener("click", closePairing);

  // -- print jobs ---------------------------------------------------------------------------------------

  function printers() {
    return ordered(state.devices).filter((d) => d.kind === "printer" && d.status !== "revoked");
  }

  function jobRow(printer, job) {
    const stateParts = [h("span", { class: "chip job-" + job.state, text: jobStateName(job.state) })];
    if (job.reason && (job.state === "held" || job.state === "failed")) {
      stateParts.push(h("span", { class: "reason-text small", text: job.reason }));
    }
    const reprint = h("button", {
      class: "secondary reprint",
      type: "button",
      text: t("devices.jobs.reprint"),
    });
    reprint.addEventListener("click", () => reprintJob(printer, job, reprint));
    return h(
      "tr",
      { "data-job-id": job.job_id, "data-state": job.state },
      cell(t("devices.jobs.kind_column"), h("span", { class: "job-kind", text: jobKindName(job.kind) })),
      cell(t("devices.jobs.state_column"), h("div", { class: "reason" }, ...stateParts)),
      cell(t("devices.jobs.time"), h("time", { datetime: job.created_at, text: when(job.created_at) })),
      cell(t("devices.jobs.actions"), reprint),
    );
  }

  function printerBlock(printer) {
    const title = h(
      "h3",
      {},
      h("span", { text: printer.name }),
      " ",
      h("span", { class: "muted small", text: registerName(printer.register_id) }),
    );
    return h(
      "div",
      { class: "printer-jobs", "data-device-id": printer.id },
      title,
      h("p", { class: "error small jobs-failed", role: "alert" }),
      h(
        "table",
        { class: "stack jobs-table" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { text: t("devices.jobs.kind_column") }),
            h("th", { text: t("devices.jobs.state_column") }),
            h("th", { text: t("devices.jobs.time") }),
            h("th", { text: t("devices.jobs.actions") }),
          ),
        ),
        h("tbody", {}),
      ),
      h("p", { class: "muted small jobs-empty", text: t("devices.jobs.empty"), hidden: true }),
    );
  }

  async function loadPrinterJobs(printer, block) {
    const query = new URLSearchParams({ device_id: printer.id, limit: String(JOBS_SHOWN) });
    try {
      const jobs = await api(JOBS + "?" + query.toString());
      block.querySelector(".jobs-failed").textContent = "";
      block.querySelector("tbody").replaceChildren(...jobs.map((job) => jobRow(printer, job)));
      block.querySelector(".jobs-empty").hidden = jobs.length > 0;
      block.querySelector("table").hidden = jobs.length === 0;
    } catch (err) {
      if (err.status === 401) return toLogin();
      block.querySelector(".jobs-failed").textContent = t("devices.jobs.failed", { name: printer.name });
    }
  }

  function loadJobs() {
    const shown = printers();
    const blocks = shown.map(printerBlock);
    $("jobs").replaceChildren(...blocks);
    $("jobs-empty").hidden = shown.length > 0;
    shown.forEach((printer, n) => loadPrinterJobs(printer, blocks[n]));
  }

  function reloadJobsOf(deviceId) {
    if (jobReloads.has(deviceId)) return; // a burst of changes makes one reload
    jobReloads.set(
      deviceId,
      setTimeout(() => {
        jobReloads.delete(deviceId);
        const printer = printers().find((p) => p.id === deviceId);
        const block = $("jobs").querySelector('.printer-jobs[data-device-id="' + CSS.escape(deviceId) + '"]');
        if (printer && block) loadPrinterJobs(printer, block);
      }, 250),
    );
  }

  async function reprintJob(printer, job, button) {
    $("jobs-error").hidden = true;
    $("jobs-done").textContent = "";
    button.disabled = true;
    try {
      await api(JOBS + "/" + job.job_id + "/reprint", { method: "POST" });
      $("jobs-done").textContent = t("devices.jobs.reprinted", { name: printer.name });
      reloadJobsOf(printer.id);
    } catch (err) {
      if (err.status === 401) return toLogin();
      $("jobs-error").querySelector(".detail").textContent = problemText(err);
      $("jobs-error").hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  // -- how to start the agent ---------------------------------------------------------------------------

  function agentCommand() {
    return "storehub devices --hub " + location.origin + " --token shd_\u2026 --config agent.toml";
  }

  /** A TOML basic string: JSON's escapes (\" \\ \n \uXXXX) are TOML's too. */
  function tomlString(text) {
    return JSON.stringify(String(text));
  }

  function comment(text) {
    return "# " + String(text).replace(/\s+/g, " ");
  }

  function agentToml() {
    const live = ordered(state.devices).filter((d) => d.status !== "revoked");
    const agent = live.find((d) => d.kind === "agent");
    const scales = live.filter((d) => d.kind === "scale");
    const printerList = live.filter((d) => d.kind === "printer");
    const lines = [
      "[agent]",
      "name = " + tomlString(agent ? agent.name.slice(0, 60) : "storehub-agent"),
      'state_dir = "var/agent"',
    ];
    scales.forEach((scale, n) => {
      const protocol = SCALE_PROTOCOLS.has((scale.config || {}).protocol) ? scale.config.protocol : "toledo8217";
      lines.push(
        "",
        comment(scale.name + " \u00b7 " + registerName(scale.register_id)),
        "[[scale]]",
        "device_id = " + tomlString(scale.id),
        "port = " + tomlString("/dev/ttyUSB" + n) + "  " + comment(t("devices.agent.toml_port")),
        "protocol = " + tomlString(protocol) + "  " + comment(t("devices.agent.toml_protocol")),
      );
    });
    printerList.forEach((printer, n) => {
      const host = "192.168.1." + (50 + n);
      lines.push(
        "",
        comment(printer.name + " \u00b7 " + registerName(printer.register_id)),
        "[[printer]]",
        "device_id = " + tomlString(printer.id),
        comment(t("devices.agent.toml_host")),
        'transport = { type = "network", host = ' + tomlString(host) + ", port = 9100 }",
      );
    });
    return { text: lines.join("\n") + "\n", devices: scales.length + printerList.length };
  }

  function renderAgentHelp() {
    $("agent-command").textContent = agentCommand();
    const toml = agentToml();
    $("agent-toml").textContent = toml.text;
    $("agent-toml-empty").hidden = toml.devices > 0;
  }

  // -- live ---------------------------------------------------------------------------------------------

  const live = new LiveSocket();
  bindConnectionBadge(live, $("conn"), connectionLabels(t));
  live.addEventListener("unauthenticated", toLogin);
  live.subscribe("tenant", {
    onEvent(name, payload) {
      if (name === "PrintJobChanged" && payload && payload.device_id) reloadJobsOf(payload.device_id);
    },
    onReset() {
      if (state.storeId) loadJobs(); // first subscription, or events were missed: the jobs are read again
    },
  });

  renderAgentHelp();
  loadStores();
  live.start();
}

boot();

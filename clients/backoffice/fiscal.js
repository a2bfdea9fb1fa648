// Back office: the tenant's tax documents (Chile) and what issuing them needs.
//
// * Documents, newest first (GET /api/v1/fiscal/documents), filtered by state and paged, each with its
//   state as a chip, the reason it waits (or SII's words on a rejection) and, once signed, its PDF (80 mm
//   or letter) and XML as plain links: the session cookie authenticates GETs, no CSRF header needed.
// * Live: the page follows the `tenant` stream (managers and owners) and redraws a document's row when
//   FiscalDocumentChanged arrives; a document it does not show yet (a new sale) reloads the page of the
//   list and the folios. The "Actualizar" button reloads by hand.
// * Folios per document type (warnings when few are left), the signing certificate, and for owners the
//   certificate and CAF uploads (multipart). Managers see the same panel without the forms.
// Text comes from i18n/es.json; the hub's own messages (upload refusals, warnings) are shown as they come.
import { $, h } from "/static/dom.js";
import { showUser, startPage, toLogin } from "/static/page.js";
import { LiveSocket, bindConnectionBadge, connectionLabels } from "/static/live.js";

const PAGE_SIZE = 20;
const MAX_FILE_BYTES = 64 * 1024; // what the hub accepts per file
const SIGNED = new Set(["signed", "sent", "accepted", "accepted_with_objections", "rejected"]);
const DOC_TYPES = new Set([39, 33, 61]);
const MANAGERS = new Set(["owner", "manager"]);
const EXPIRING_DAYS = 30;
const DOCUMENTS = "/api/v1/fiscal/documents";

async function boot() {
  const page = await startPage({
    i18n: "/backoffice/i18n/",
    title: "fiscal.title",
    sessionFailed: "fiscal.session_failed",
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
  if (me.tenant.country !== "CL") {
    $("not-chilean").hidden = false;
    return;
  }
  $("fiscal").hidden = false;
  createFiscalPage(messages, me);
}

function createFiscalPage(messages, me) {
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
  const dateOnly = new Intl.DateTimeFormat(locale, { dateStyle: "medium" });
  const owner = me.role === "owner";

  const list = { status: "", offset: 0, rows: new Map(), hasNext: false, loading: 0 };
  let reloadTimer = null;
  let setupTimer = null;

  // -- formatting ---------------------------------------------------------------------------------------

  function docTypeName(code) {
    return DOC_TYPES.has(code) ? t("doc_type." + code) : t("doc_type.other", { code });
  }

  function when(iso) {
    const moment = new Date(iso);
    return Number.isNaN(moment.getTime()) ? String(iso || "") : dateTime.format(moment);
  }

  /** "2026-03-01" (a calendar date) in words, without moving it by the browser's time zone. */
  function day(text) {
    const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(text || ""));
    if (!match) return String(text || "");
    return dateOnly.format(new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  }

  function problemText(err) {
    if (err && err.problem && err.problem.detail) return err.problem.detail;
    if (err && err.status) return t("upload.generic", { status: err.status });
    return (err && err.message) || t("upload.generic", { status: "?" });
  }

  // -- documents ----------------------------------------------------------------------------------------

  /** A table cell; on phones its column's name shows beside the value (CSS, from data-label). */
  function cell(label, ...children) {
    return h("td", { "data-label": label }, h("div", { class: "value" }, ...children));
  }

  function fileLink(doc, path, text, kind) {
    return h("a", { href: DOCUMENTS + "/" + doc.id + path, download: "", class: "file", "data-file": kind, text });
  }

  function documentRow(doc) {
    const files = SIGNED.has(doc.status)
      ? h(
          "span",
          { class: "files" },
          fileLink(doc, "/pdf?layout=thermal80", t("documents.pdf_thermal"), "thermal80"),
          fileLink(doc, "/pdf?layout=letter", t("documents.pdf_letter"), "letter"),
          fileLink(doc, "/xml", t("documents.xml"), "xml"),
        )
      : h("span", { class: "muted", text: t("documents.not_signed") });
    const reason = h("div", { class: "reason" });
    if (doc.reason) reason.append(h("span", { class: "reason-text", text: doc.reason }));
    else if (!doc.authority_state) reason.append(h("span", { class: "muted", text: t("documents.no_reason") }));
    if (doc.authority_state) {
      const state = t("documents.authority_state", { state: doc.authority_state });
      reason.append(h("span", { class: "muted small", text: state }));
    }
    return h(
      "tr",
      { "data-document-id": doc.id, "data-status": doc.status, "data-doc-type": doc.doc_type },
      cell(
        t("documents.type"),
        h("span", { class: "doc-type", text: docTypeName(doc.doc_type) }),
        " ",
        h("span", { class: "muted small", text: String(doc.doc_type) }),
      ),
      cell(
        t("documents.folio"),
        doc.folio === null || doc.folio === undefined
          ? h("span", { class: "muted", text: t("documents.no_folio") })
          : h("strong", { class: "folio", text: String(doc.folio) }),
      ),
      cell(
        t("documents.sale"),
        h("code", { class: "sale", title: t("documents.sale_title", { id: doc.sale_id }), text: shortId(doc.sale_id) }),
      ),
      cell(t("documents.status"), h("span", { class: "chip status-" + doc.status, text: statusName(doc.status) })),
      cell(t("documents.reason"), reason),
      cell(t("documents.date"), h("time", { datetime: doc.created_at, text: when(doc.created_at) })),
      cell(t("documents.files"), files),
    );
  }

  /** Ids are UUIDv7: their first digits are a timestamp, alike for a day's sales; the last ones differ. */
  function shortId(id) {
    return String(id).slice(-8);
  }

  function statusName(status) {
    return messages.has("status." + status) ? t("status." + status) : status;
  }

  function renderDocuments(docs) {
    list.rows = new Map(docs.map((doc) => [doc.id, doc]));
    $("documents").replaceChildren(...docs.map(documentRow));
    const empty = $("documents-empty");
    empty.hidden = docs.length > 0;
    empty.textContent = list.status
      ? t("documents.empty_filtered", { status: statusName(list.status) })
      : t("documents.empty");
    $("previous").disabled = list.offset === 0;
    $("next").disabled = !list.hasNext;
    $("page").textContent = t("documents.page", { n: Math.floor(list.offset / PAGE_SIZE) + 1 });
  }

  async function loadDocuments() {
    const ticket = ++list.loading; // answers to older requests (a filter changed meanwhile) are dropped
    const query = new URLSearchParams({ limit: String(PAGE_SIZE + 1), offset: String(list.offset) });
    if (list.status) query.set("status", list.status);
    $("refresh").disabled = true;
    try {
      const docs = await api(DOCUMENTS + "?" + query.toString());
      if (ticket !== list.loading) return;
      list.hasNext = docs.length > PAGE_SIZE;
      $("documents-error").textContent = "";
      renderDocuments(docs.slice(0, PAGE_SIZE));
    } catch (err) {
      if (err.status === 401) return toLogin();
      if (ticket === list.loading) $("documents-error").textContent = t("documents.failed");
    } finally {
      if (ticket === list.loading) $("refresh").disabled = false;
    }
  }

  // A burst of events (a busy hour of sales) makes one reload: the first event schedules it, the others
  // find it scheduled.
  function reloadSoon() {
    if (reloadTimer === null) {
      reloadTimer = setTimeout(() => {
        reloadTimer = null;
        loadDocuments();
      }, 250);
    }
  }

  function setupSoon() {
    if (setupTimer === null) {
      setupTimer = setTimeout(() => {
        setupTimer = null;
        loadSetup();
      }, 1000);
    }
  }

  /** FiscalDocumentChanged: redraw its row in place, or reload when the page should now look different. */
  function documentChanged(change) {
    setupSoon(); // documents come from sales, and sales take folios: the counts moved
    const known = list.rows.get(change.document_id);
    if (!known) {
      if (list.offset === 0 && (!list.status || list.status === change.status)) reloadSoon();
      return;
    }
    if (list.status && list.status !== change.status) {
      reloadSoon(); // it left the state the list is filtered by
      return;
    }
    const doc = {
      ...known,
      doc_type: change.doc_type,
      folio: change.folio,
      status: change.status,
      reason: change.reason || "",
      authority_state: change.authority_state || "",
    };
    list.rows.set(doc.id, doc);
    const old = $("documents").querySelector('tr[data-document-id="' + CSS.escape(doc.id) + '"]');
    if (!old) return;
    const row = documentRow(doc);
    row.classList.add("changed");
    old.replaceWith(row);
  }

  $("status-filter").addEventListener("change", (event) => {
    list.status = event.target.value;
    list.offset = 0;
    loadDocuments();
  });
  $("refresh").addEventListener("click", () => {
    loadDocuments();
    loadSetup();
  });
  $("previous").addEventListener("click", () => {
    list.offset = Math.max(0, list.offset - PAGE_SIZE);
    loadDocuments();
  });
  $("next").addEventListener("click", () => {
    list.offset += PAGE_SIZE;
    loadDocuments();
  });

  // -- folios and certificate ---------------------------------------------------------------------------

  function rangeItem(range) {
    const parts = [
      h("span", { text: t("folios.range", { first: range.first_folio, last: range.last_folio }) }),
      " ",
      h("span", { class: "range-state state-" + range.state, text: t("folios.state." + range.state) }),
    ];
    if (range.state === "current" || range.state === "queued") {
      parts.push(" · ", h("span", { class: "muted", text: t("folios.range_left", { left: range.left }) }));
    }
    if (range.expires) {
      parts.push(" · ", h("span", { class: "muted", text: t("folios.range_expires", { date: day(range.expires) }) }));
    }
    return h("li", {}, ...parts);
  }

  function folioRow(status) {
    const ranges = status.ranges.length
      ? h("ul", { class: "ranges" }, ...status.ranges.map(rangeItem))
      : h("span", { class: "muted", text: t("folios.no_ranges") });
    return h(
      "tr",
      { "data-doc-type": status.doc_type, class: status.low ? "low" : null },
      cell(
        t("folios.type"),
        h("span", { class: "doc-type", text: docTypeName(status.doc_type) }),
        " ",
        h("span", { class: "muted small", text: String(status.doc_type) }),
      ),
      cell(t("folios.remaining"), h("strong", { class: "remaining", text: String(status.remaining) })),
      cell(
        t("folios.next_folio"),
        h("span", {
          class: "next-folio",
          text: status.next_folio === null ? t("folios.none") : String(status.next_folio),
        }),
      ),
      cell(t("folios.ranges"), ranges),
    );
  }

  function folioAlert(status) {
    const name = docTypeName(status.doc_type);
    const box = h("div", { class: "alert warn", role: "alert", "data-doc-type": status.doc_type });
    if (status.remaining === 0) box.append(h("p", { text: t("folios.empty", { name }) }));
    else if (status.low) {
      box.append(h("p", { text: t("folios.low", { name, n: status.remaining, threshold: status.threshold }) }));
    }
    if (status.warnings.length) {
      box.append(
        h("p", { class: "small", text: t("folios.warnings") }),
        h("ul", { class: "warnings small" }, ...status.warnings.map((text) => h("li", { text }))),
      );
    }
    return box;
  }

  function showCertificate(info) {
    const alert = $("certificate-alert");
    alert.hidden = true;
    alert.className = "alert";
    if (!info) {
      $("certificate-info").hidden = true;
      alert.textContent = t("certificate.none");
      alert.classList.add("warn");
      alert.hidden = false;
      return;
    }
    $("certificate-holder").textContent = info.holder;
    $("certificate-rut").textContent = info.rut;
    $("certificate-until").textContent = when(info.not_after);
    $("certificate-uploaded").textContent = when(info.uploaded_at);
    $("certificate-info").hidden = false;
    const daysLeft = Math.floor((new Date(info.not_after).getTime() - Date.now()) / 86400000);
    if (daysLeft < 0) {
      alert.textContent = t("certificate.expired");
      alert.classList.add("danger");
      alert.hidden = false;
    } else if (daysLeft < EXPIRING_DAYS) {
      alert.textContent = t("certificate.expiring", { days: daysLeft });
      alert.classList.add("warn");
      alert.hidden = false;
    }
  }

  function notChilean() {
    $("fiscal").hidden = true;
    $("not-chilean").hidden = false;
    live.stop();
  }

  async function loadSetup() {
    const [folios, certificate] = await Promise.allSettled([
      api("/api/v1/fiscal/folios"),
      api("/api/v1/fiscal/certificate"),
    ]);
    for (const result of [folios, certificate]) {
      if (result.status !== "rejected") continue;
      if (result.reason.status === 401) return toLogin();
      if (result.reason.code === "not_chilean_tenant") return notChilean();
    }
    if (folios.status === "fulfilled") {
      $("folios-error").textContent = "";
      $("folios").replaceChildren(...folios.value.map(folioRow));
      $("folio-alerts").replaceChildren(
        ...folios.value.filter((s) => s.low || s.warnings.length).map(folioAlert),
      );
    } else {
      $("folios-error").textContent = t("folios.failed");
    }
    if (certificate.status === "fulfilled") showCertificate(certificate.value);
    else if (certificate.reason.status === 404) showCertificate(null);
    else {
      $("certificate-info").hidden = true;
      $("certificate-alert").className = "alert danger";
      $("certificate-alert").textContent = t("certificate.failed");
      $("certificate-alert").hidden = false;
    }
  }

  // -- uploads (owners) ---------------------------------------------------------------------------------

  function uploadForm(prefix, path, build, done) {
    const form = $(prefix + "-form");
    const errorBox = $(prefix + "-error");
    const doneBox = $(prefix + "-done");
    const submit = $(prefix + "-submit");

    function fail(text) {
      errorBox.querySelector(".detail").textContent = text;
      errorBox.hidden = false;
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      errorBox.hidden = true;
      doneBox.textContent = "";
      const file = $(prefix + "-file").files[0];
      if (!file) return fail(t("upload.missing_file"));
      if (file.size > MAX_FILE_BYTES) return fail(t("upload.too_large", { kb: MAX_FILE_BYTES / 1024 }));
      const data = new FormData();
      data.append("file", file, file.name);
      const problem = build(data);
      if (problem) return fail(problem);
      submit.disabled = true;
      submit.textContent = t("upload.sending");
      try {
        const answer = await api(path, { method: "POST", form: data });
        form.reset();
        doneBox.textContent = done(answer);
        loadSetup();
      } catch (err) {
        if (err.status === 401) return toLogin();
        fail(problemText(err));
      } finally {
        submit.disabled = false;
        submit.textContent = t(prefix === "caf" ? "upload.caf_submit" : "upload.certificate_submit");
      }
    });
  }

  if (owner) {
    $("uploads").hidden = false;
    uploadForm(
      "caf",
      "/api/v1/fiscal/cafs",
      (data) => {
        const type = $("caf-type").value;
        if (type) data.append("doc_type", type);
        return null;
      },
      (caf) => t("upload.caf_done", { name: docTypeName(caf.doc_type), first: caf.first_folio, last: caf.last_folio }),
    );
    uploadForm(
      "certificate",
      "/api/v1/fiscal/certificate",
      (data) => {
        const password = $("certificate-password").value;
        if (!password) return t("upload.missing_password");
        data.append("password", password);
        return null;
      },
      (info) => t("upload.certificate_done", { holder: info.holder, date: when(info.not_after) }),
    );
  } else {
    $("owner-only").hidden = false;
  }

  // -- live ---------------------------------------------------------------------------------------------

  const live = new LiveSocket();
  bindConnectionBadge(live, $("conn"), connectionLabels(t));
  live.addEventListener("unauthenticated", toLogin);
  live.subscribe("tenant", {
    onEvent(name, payload) {
      if (name === "FiscalDocumentChanged") documentChanged(payload);
    },
    onReset: reloadSoon, // first subscription, or events were missed: the list is read again
  });

  loadDocuments();
  loadSetup();
  live.start();
}

boot();

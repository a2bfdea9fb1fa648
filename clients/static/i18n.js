// Page text comes from a JSON catalog (clients/<page>/i18n/<lang>.json), never from the code, so a page
// can be translated by adding a file. Keys are dotted paths; "{name}" placeholders are filled from params.
"use strict";

export class Messages {
  constructor(catalog, lang) {
    this.catalog = catalog || {};
    this.lang = lang;
  }

  has(key) {
    return this.lookup(key) !== undefined;
  }

  node(key) {
    let node = this.catalog;
    for (const part of key.split(".")) {
      if (node === null || typeof node !== "object" || !(part in node)) return undefined;
      node = node[part];
    }
    return node;
  }

  lookup(key) {
    const node = this.node(key);
    return typeof node === "string" ? node : undefined;
  }

  /** A list of texts (e.g. preset choices); empty when missing. */
  list(key) {
    const node = this.node(key);
    return Array.isArray(node) ? node.filter((item) => typeof item === "string") : [];
  }

  /** The text for key with {placeholders} filled; the key itself when missing (visible, never blank). */
  t(key, params) {
    const text = this.lookup(key);
    if (text === undefined) return key;
    if (!params) return text;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
  }

  /** Fill data-i18n (text), data-i18n-placeholder, data-i18n-label (aria-label) and data-i18n-title. */
  apply(root) {
    const scope = root || document;
    for (const node of scope.querySelectorAll("[data-i18n]")) node.textContent = this.t(node.dataset.i18n);
    for (const node of scope.querySelectorAll("[data-i18n-placeholder]")) {
      node.setAttribute("placeholder", this.t(node.dataset.i18nPlaceholder));
    }
    for (const node of scope.querySelectorAll("[data-i18n-label]")) {
      node.setAttribute("aria-label", this.t(node.dataset.i18nLabel));
    }
    for (const node of scope.querySelectorAll("[data-i18n-title]")) node.title = this.t(node.dataset.i18nTitle);
  }
}

/** Load the catalog of the document's language (falls back to Spanish) from `base` + "<lang>.json". */
export async function loadMessages(base) {
  const lang = (document.documentElement.lang || "es").split("-")[0];
  let response = await fetch(base + lang + ".json", { credentials: "same-origin" });
  if (!response.ok && lang !== "es") response = await fetch(base + "es.json", { credentials: "same-origin" });
  if (!response.ok) throw new Error("messages " + response.status);
  return new Messages(await response.json(), lang);
}

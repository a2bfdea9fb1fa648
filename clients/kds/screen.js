// What both kitchen screens (the station's, kds.js, and the expo, expo.js) do around their content: load
// their texts (i18n/es.json), say that they could not start, word the hub's errors, show the connection
// and the socket's alarms, and let Enter or Space press what a tap presses.
import { $, h } from "/static/dom.js";
import { loadMessages } from "/static/i18n.js";
import { bindConnectionBadge, connectionLabels } from "/static/live.js";

/**
 * The texts, applied to the page, and its title (a catalog key); null when they could not load: there is
 * nothing to say it with yet, so the loading text stays and `retry` runs again in three seconds.
 */
export async function loadTexts(title, retry) {
  let messages;
  try {
    messages = await loadMessages("/kds/i18n/");
  } catch (err) {
    setTimeout(retry, 3000);
    return null;
  }
  messages.apply(document);
  document.title = messages.t(title);
  return messages;
}

/** The screen could not start (the session or its stations could not be read): say so, and offer a reload. */
export function showBootFailed(messages) {
  $("boot").replaceChildren(h("span", { text: messages.t("boot.failed") }));
  const retry = h("button", { type: "button", text: messages.t("boot.retry") });
  retry.addEventListener("click", () => location.reload());
  $("boot").append(retry);
}

/** err -> what to tell the cook: the catalog's text for its code, else its message, else a generic one. */
export function errorTexts(messages) {
  return (err) => {
    const key = "errors." + (err && err.code);
    return messages.has(key) ? messages.t(key) : (err && err.message) || messages.t("errors.generic");
  };
}

/** The connection badge (#conn), and a toast for a signed-out session (then the login) or a stray error. */
export function watchSocket(live, t, toasts, errorText) {
  bindConnectionBadge(live, $("conn"), connectionLabels(t, { waiting: true }));
  live.addEventListener("unauthenticated", () => {
    toasts.show(t("errors.session"));
    setTimeout(() => location.assign("/login/"), 1500);
  });
  live.addEventListener("huberror", (event) => toasts.show(errorText(event.detail)));
}

/** Enter or Space on a node of `container` matching `selector` clicks it, as a tap would. */
export function pressOnEnter(container, selector) {
  container.addEventListener("keydown", (event) => {
    if ((event.key === "Enter" || event.key === " ") && event.target.closest(selector)) {
      event.preventDefault();
      event.target.click();
    }
  });
}

// What every signed-in page does first: its Spanish texts, the logout button, the session (with its CSRF
// token) and the tenant's name in the header. Used by the back office's module pages and the dashboard.
import { $ } from "/static/dom.js";
import { loadMessages } from "/static/i18n.js";

export function toLogin() {
  window.storehub.setCsrf(null);
  location.assign("/login/");
}

/**
 * Start a page: {messages, t, me} once signed in, or null when it cannot go on (sent to the login, or the
 * session could not be read: `sessionFailed` is shown). Until the texts load there is nothing to say an
 * error with: the loading text stays and `retry` runs again in three seconds.
 */
export async function startPage({ i18n, title, sessionFailed, retry }) {
  let messages;
  try {
    messages = await loadMessages(i18n);
  } catch (err) {
    setTimeout(retry, 3000);
    return null;
  }
  messages.apply(document);
  document.title = messages.t(title);
  const t = messages.t.bind(messages);
  const { api, setCsrf } = window.storehub;

  $("logout").addEventListener("click", async () => {
    try {
      await api("/api/v1/auth/logout", { method: "POST" });
    } catch (err) {
      // Signed out either way: the cookie is gone or was already invalid.
    }
    toLogin();
  });

  let me;
  try {
    me = await api("/api/v1/auth/me");
  } catch (err) {
    if (err.status === 401) {
      toLogin();
      return null;
    }
    $("boot").hidden = true;
    $("error").textContent = t(sessionFailed);
    return null;
  }
  setCsrf(me.csrf_token);
  $("boot").hidden = true;
  $("tenant-name").textContent = me.tenant.name;
  return { messages, t, me };
}

/** The back office's header: the tenant's country, who is signed in and their role. */
export function showUser(messages, me) {
  showFloorLink(me);
  const t = messages.t.bind(messages);
  $("tenant-country").textContent = messages.has("countries." + me.tenant.country)
    ? t("countries." + me.tenant.country)
    : me.tenant.country;
  $("user-name").textContent = me.user ? me.user.display_name : "";
  $("user-role").textContent = messages.has("roles." + me.role) ? t("roles." + me.role) : me.role;
}

/** "Salón y mesas" in the back office's nav: for owners and managers of a tenant with a restaurant store. */
async function showFloorLink(me) {
  const link = $("nav-floor");
  if (!link || !["owner", "manager"].includes(me.role)) return;
  try {
    const stores = await window.storehub.api("/api/v1/stores");
    link.hidden = !stores.some((store) => store.mode === "restaurant");
  } catch (err) {
    // the link stays hidden; the page itself says what it can
  }
}

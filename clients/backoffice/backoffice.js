// Back office landing page: who am I, the tenant, its stores and their registers.
"use strict";

(function () {
  const { api, el, setCsrf } = window.storehub;
  const ROLES = { owner: "Dueño", manager: "Administrador", cashier: "Cajero", kitchen: "Cocina" };
  const MODES = { retail: "Minimarket", restaurant: "Restaurante" };
  const COUNTRIES = { CL: "Chile", EC: "Ecuador" };
  const errorBox = document.getElementById("error");

  function toLogin() {
    setCsrf(null);
    location.assign("/login/");
  }

  async function load() {
    let me;
    try {
      me = await api("/api/v1/auth/me");
    } catch (err) {
      if (err.status === 401) return toLogin();
      errorBox.textContent = "No se pudo cargar la sesión.";
      return;
    }
    setCsrf(me.csrf_token);
    document.getElementById("tenant-name").textContent = me.tenant.name;
    document.getElementById("tenant-country").textContent = COUNTRIES[me.tenant.country] || me.tenant.country;
    document.getElementById("user-name").textContent = me.user ? me.user.display_name : "";
    document.getElementById("user-role").textContent = ROLES[me.role] || me.role;
    document.title = me.tenant.name + " · Storehub";
    // Tax documents (SII): Chilean tenants, for the owner and managers.
    const fiscal = me.tenant.country === "CL" && (me.role === "owner" || me.role === "manager");
    document.getElementById("nav-fiscal").hidden = !fiscal;

    const body = document.getElementById("stores");
    try {
      const [stores, registers] = await Promise.all([api("/api/v1/stores"), api("/api/v1/registers")]);
      body.replaceChildren();
      if (stores.length === 0) {
        const row = el("tr");
        const cell = el("td", "Sin locales", "muted");
        cell.colSpan = 5;
        row.append(cell);
        body.append(row);
      }
      for (const store of stores) {
        const row = el("tr");
        row.append(el("td", store.code), el("td", store.name), el("td", store.city), el("td", MODES[store.mode] || store.mode));
        const list = el("ul", null, "registers");
        for (const reg of registers.filter((r) => r.store_id === store.id)) {
          list.append(el("li", reg.code + " · " + reg.name));
        }
        const cell = el("td");
        cell.append(list.children.length ? list : el("span", "—", "muted"));
        row.append(cell);
        body.append(row);
      }
      // The floor plan and tables (restaurant mode): owners and managers of a tenant with a restaurant.
      const manager = me.role === "owner" || me.role === "manager";
      document.getElementById("nav-floor").hidden = !(manager && stores.some((s) => s.mode === "restaurant"));
    } catch (err) {
      if (err.status === 401) return toLogin();
      body.replaceChildren();
      errorBox.textContent = err.status === 403 ? "Su rol no permite ver los locales." : "No se pudieron cargar los locales.";
    }
  }

  document.getElementById("logout").addEventListener("click", async function () {
    try {
      await api("/api/v1/auth/logout", { method: "POST" });
    } catch (err) {
      // Signed out either way: the cookie is gone or was already invalid.
    }
    toLogin();
  });

  load();
})();

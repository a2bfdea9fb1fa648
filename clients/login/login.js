// Sign-in page: POST /api/v1/auth/login, then on to the screen of the user's role.
"use strict";

(function () {
  const form = document.getElementById("login-form");
  const tenant = document.getElementById("tenant");
  const username = document.getElementById("username");
  const password = document.getElementById("password");
  const error = document.getElementById("login-error");
  const submit = document.getElementById("login-submit");

  const params = new URLSearchParams(location.search);
  tenant.value = params.get("tenant") || localStorage.getItem("storehub.tenant") || "";
  (tenant.value ? username : tenant).focus();

  // Cashiers sell at the till, kitchen staff work from the kitchen display; everyone else starts in the back office.
  const HOME_BY_ROLE = { cashier: "/till/", kitchen: "/kds/" };

  function home(role) {
    return HOME_BY_ROLE[role] || "/backoffice/";
  }

  function message(err) {
    if (err.code === "rate_limited") {
      const wait = err.problem.retry_after;
      return "Demasiados intentos. Intente de nuevo" + (wait ? " en " + wait + " segundos." : " en un momento.");
    }
    if (err.code === "unauthenticated") return "Usuario o contraseña incorrectos.";
    if (err.code === "invalid") return "Complete todos los campos.";
    return "No se pudo iniciar sesión. Intente de nuevo.";
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    error.textContent = "";
    if (!tenant.value.trim() || !username.value.trim() || !password.value) {
      error.textContent = "Complete todos los campos.";
      return;
    }
    submit.disabled = true;
    try {
      const result = await window.storehub.api("/api/v1/auth/login", {
        method: "POST",
        body: { tenant: tenant.value.trim(), username: username.value.trim(), password: password.value },
      });
      window.storehub.setCsrf(result.csrf_token);
      localStorage.setItem("storehub.tenant", result.tenant.slug);
      location.assign(home(result.user.role));
    } catch (err) {
      password.value = "";
      error.textContent = message(err);
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });
})();

// Shared by every Storehub page: a fetch wrapper for the hub's JSON API.
// Cookie sessions need the CSRF token on unsafe methods; /api/v1/auth/me hands it out.
// api(path, {method, body}) sends JSON; api(path, {method: "POST", form: formData}) sends multipart.
"use strict";

(function () {
  const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
  let csrfToken = sessionStorage.getItem("storehub.csrf") || null;

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && problem.detail) || "error " + status);
      this.status = status;
      this.code = (problem && problem.code) || "error";
      this.problem = problem || {};
    }
  }

  function setCsrf(token) {
    csrfToken = token || null;
    if (csrfToken) sessionStorage.setItem("storehub.csrf", csrfToken);
    else sessionStorage.removeItem("storehub.csrf");
  }

  async function api(path, options) {
    const opts = options || {};
    const method = (opts.method || "GET").toUpperCase();
    const headers = { Accept: "application/json" };
    let body;
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.body);
    } else if (opts.form !== undefined) {
      body = opts.form; // FormData (file uploads): the browser sets the multipart Content-Type and boundary
    }
    if (UNSAFE.has(method) && csrfToken) headers["X-CSRF-Token"] = csrfToken;
    const response = await fetch(path, { method, headers, body, credentials: "same-origin" });
    if (response.status === 204) return null;
    const type = response.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await response.json() : await response.text();
    if (!response.ok) throw new ApiError(response.status, typeof data === "object" ? data : null);
    return data;
  }

  // Text into the page without ever interpreting it as HTML.
  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  window.storehub = { api, ApiError, setCsrf, el };
})();

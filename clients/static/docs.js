// A small OpenAPI viewer: no CDN and no inline script, so the hub's CSP stays strict on /docs too.
"use strict";

(async function () {
  const root = document.getElementById("docs");
  const specUrl = root.dataset.spec;
  const el = (tag, text, cls) => {
    const n = document.createElement(tag);
    if (text != null) n.textContent = String(text);
    if (cls) n.className = cls;
    return n;
  };
  let spec;
  try {
    spec = await (await fetch(specUrl)).json();
  } catch (err) {
    root.replaceChildren(el("p", "No se pudo cargar " + specUrl));
    return;
  }
  const schemas = (spec.components && spec.components.schemas) || {};
  const resolve = (s) => (s && s.$ref ? schemas[s.$ref.split("/").pop()] || s : s);
  const show = (s) => JSON.stringify(resolve(s), null, 2);

  root.replaceChildren(el("h1", spec.info.title + " " + spec.info.version));
  if (spec.info.description) root.append(el("p", spec.info.description));
  const link = el("a", "openapi.json");
  link.href = specUrl;
  root.append(link);

  const byTag = new Map();
  for (const [path, item] of Object.entries(spec.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      const tag = (op.tags && op.tags[0]) || "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push({ path, method, op });
    }
  }
  for (const [tag, ops] of byTag) {
    root.append(el("h2", tag));
    for (const { path, method, op } of ops) {
      const box = el("details", null, "op");
      const summary = el("summary");
      summary.append(el("span", method, "method " + method), el("span", path, "path"), el("span", op.summary || ""));
      box.append(summary);
      const body = el("div", null, "body");
      if (op.description) body.append(el("p", op.description));
      if (op.parameters && op.parameters.length) {
        body.append(el("h4", "Parámetros"));
        const list = el("ul");
        for (const p of op.parameters) list.append(el("li", p.name + " (" + p.in + (p.required ? ", requerido" : "") + ")"));
        body.append(list);
      }
      const req = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
      if (req) body.append(el("h4", "Cuerpo"), el("pre", show(req.schema)));
      for (const [status, res] of Object.entries(op.responses || {})) {
        const content = res.content && (res.content["application/json"] || Object.values(res.content)[0]);
        body.append(el("h4", status + " " + (res.description || "")));
        if (content && content.schema) body.append(el("pre", show(content.schema)));
      }
      box.append(body);
      root.append(box);
    }
  }
})();

"use strict";
// The API reference, rendered here from /openapi.json (FastAPI's own /docs loads Swagger UI from a CDN;
// this page works offline). Each operation: method, path, summary, description, parameters, request body,
// responses, and a curl command that calls it.
(function () {
  const main = document.getElementById("docs");
  const el = (tag, text, cls) => {
    const node = document.createElement(tag);
    if (text) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  };

  function schemaText(schema) {
    if (!schema) return "";
    if (schema.anyOf) return schema.anyOf.map(schemaText).join(" or ");
    let text = schema.type || (schema.$ref ? schema.$ref.split("/").pop() : "");
    if (schema.format) text += ` (${schema.format})`;
    if (schema.minimum !== undefined) text += `, at least ${schema.minimum}`;
    if (schema.default !== undefined) text += `, default ${JSON.stringify(schema.default)}`;
    return text;
  }

  function curl(method, path, op) {
    const query = (op.parameters || []).filter((p) => p.in === "query" && p.required).map((p) => `${p.name}=...`);
    const url = `http://127.0.0.1:8000${path.replace("{name}", "RUN")}${query.length ? "?" + query.join("&") : ""}`;
    const body = op.requestBody ? " -F image=@digit.png" : "";
    return `curl${method === "get" ? "" : " -X " + method.toUpperCase()}${body} '${url}'`;
  }

  function operation(method, path, op, spec) {
    const box = el("section", null, "panel");
    box.append(el("h2", `${method.toUpperCase()} ${path}`));
    if (op.summary) box.append(el("p", op.summary, "meta"));
    if (op.description) box.append(el("p", op.description));
    const params = op.parameters || [];
    if (params.length) {
      const table = el("table", null, "runs");
      const head = el("tr");
      ["parameter", "in", "required", "type", "meaning"].forEach((h) => head.append(el("th", h)));
      table.append(head);
      for (const p of params) {
        const row = el("tr");
        [p.name, p.in, p.required ? "yes" : "no", schemaText(p.schema), p.description || (p.schema && p.schema.description) || ""]
          .forEach((v) => row.append(el("td", v)));
        table.append(row);
      }
      box.append(table);
    }
    if (op.requestBody) {
      const content = op.requestBody.content || {};
      for (const [type, media] of Object.entries(content)) {
        let fields = media.schema || {};
        if (fields.$ref) fields = spec.components.schemas[fields.$ref.split("/").pop()];
        const names = Object.entries(fields.properties || {}).map(([n, s]) => `${n}: ${s.description || schemaText(s)}`);
        box.append(el("p", `request body (${type}): ${names.join("; ")}`));
      }
    }
    const codes = Object.entries(op.responses || {}).map(([code, r]) => `${code} ${r.description}`);
    box.append(el("p", `responses: ${codes.join("; ")}; errors are {"error": message} with status 404 (no such run), ` +
      "408/503 (time limit), 413 (upload or image too large), 415 (not an image), 422 (bad image or query)", "hint"));
    box.append(el("pre", curl(method, path, op), "arith"));
    return box;
  }

  fetch("/openapi.json")
    .then((response) => response.json())
    .then((spec) => {
      main.replaceChildren(el("p", `${spec.info.title} ${spec.info.version}: ${spec.info.description || ""}`));
      for (const [path, methods] of Object.entries(spec.paths)) {
        for (const [method, op] of Object.entries(methods)) main.append(operation(method, path, op, spec));
      }
    })
    .catch((error) => { main.replaceChildren(el("p", `could not read /openapi.json: ${error.message}`)); });
})();

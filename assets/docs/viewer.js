// A small, dependency-free reference of the OpenAPI document beside it (`openapi.json`,
// relative, so that it works behind a proxy that serves Latch under a path). It runs
// under a strict Content-Security-Policy (no inline code, nothing from other origins).
"use strict";

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) if (c != null) node.append(c);
  return node;
};

let spec;

const resolve = (schema) => {
  let s = schema || {};
  const seen = new Set();
  while (s.$ref && !seen.has(s.$ref)) {
    seen.add(s.$ref);
    s = s.$ref.split("/").slice(1).reduce((o, k) => (o || {})[k], spec) || {};
  }
  return s;
};

const refName = (schema) => (schema && schema.$ref ? schema.$ref.split("/").pop() : null);

const typeOf = (schema) => {
  const s = resolve(schema);
  const name = refName(schema);
  if (s.type === "array") return `array of ${typeOf(s.items)}`;
  const alts = s.oneOf || s.anyOf;
  if (alts) return alts.map(typeOf).join(" | ");
  let t = Array.isArray(s.type) ? s.type.join(" | ") : s.type || name || "object";
  if (s.format) t += ` (${s.format})`;
  if (s.enum) t += `: ${s.enum.join(", ")}`;
  return name && s.type === "object" ? name : t;
};

const renderSchema = (schema, depth = 0) => {
  const s = resolve(schema);
  const target = s.type === "array" ? resolve(s.items) : s;
  const props = target.properties || {};
  const required = new Set(target.required || []);
  const list = el("ul", { class: "schema" });
  for (const [name, prop] of Object.entries(props)) {
    const p = resolve(prop);
    const item = el("li", {}, el("code", {}, name), " ",
      el("span", { class: "type" }, typeOf(prop)),
      required.has(name) ? el("span", { class: "req" }, " required") : null);
    if (p.description || prop.description) item.append(el("p", { class: "desc" }, prop.description || p.description));
    const inner = p.type === "array" ? resolve(p.items) : p;
    if (inner.properties && depth < 4) item.append(renderSchema(prop, depth + 1));
    list.append(item);
  }
  return list;
};

const content = (body) => {
  const media = Object.entries((body && body.content) || {});
  if (!media.length) return null;
  const [type, { schema }] = media[0];
  return el("div", {}, el("code", {}, type), " ", el("span", { class: "type" }, typeOf(schema)),
    renderSchema(schema));
};

const renderOperation = (method, path, op) => {
  const id = op.operationId || `${method}-${path}`;
  const section = el("section", { class: "op", id },
    el("span", { class: "opid" }, op.operationId || ""),
    el("span", { class: `method ${method}` }, method), el("span", { class: "path" }, path));
  if (op.summary) section.append(el("p", { class: "desc" }, op.summary));
  // A doc comment's line breaks are not the text's: only blank lines divide it.
  if (op.description) section.append(el("p", { class: "desc" }, op.description.replace(/([^\n])\n(?=[^\n])/g, "$1 ")));
  if (op.security) {
    const names = op.security.flatMap((s) => Object.keys(s));
    section.append(el("p", {}, "Authentication: ", el("code", {}, names.join(" or "))));
  }
  if (op.parameters && op.parameters.length) {
    const table = el("table", {}, el("tr", {}, el("th", {}, "name"), el("th", {}, "in"),
      el("th", {}, "type"), el("th", {}, "description")));
    for (const raw of op.parameters) {
      const p = resolve(raw);
      table.append(el("tr", {}, el("td", {}, el("code", {}, p.name),
        p.required ? el("span", { class: "req" }, " required") : null),
        el("td", {}, p.in), el("td", { class: "type" }, typeOf(p.schema)),
        el("td", {}, p.description || "")));
    }
    section.append(el("h3", {}, "Parameters"), table);
  }
  if (op.requestBody) {
    const body = resolve(op.requestBody);
    section.append(el("h3", {}, "Request body"));
    if (body.description) section.append(el("p", { class: "desc" }, body.description));
    section.append(content(body));
  }
  section.append(el("h3", {}, "Responses"));
  const table = el("table");
  for (const [status, raw] of Object.entries(op.responses || {})) {
    const r = resolve(raw);
    table.append(el("tr", {}, el("td", { class: "status" }, status),
      el("td", {}, el("p", { class: "desc" }, r.description || ""), content(r))));
  }
  section.append(table);
  return section;
};

const render = () => {
  const nav = document.getElementById("nav");
  const main = document.getElementById("main");
  main.replaceChildren(el("h1", {}, spec.info.title),
    el("p", { class: "desc" }, spec.info.description || ""),
    el("p", {}, "The document itself: ", el("a", { href: "openapi.json" }, "openapi.json")));
  const search = el("input", { id: "search", type: "search", placeholder: "Search paths, names, text",
    "aria-label": "Search the operations" });
  search.addEventListener("input", () => filter(search.value));
  nav.replaceChildren(el("strong", {}, spec.info.title), search);
  const byTag = new Map((spec.tags || []).map((t) => [t.name, []]));
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      const tag = (op.tags && op.tags[0]) || "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([method, path, op]);
    }
  }
  for (const [tag, ops] of byTag) {
    if (!ops.length) continue;
    const about = (spec.tags || []).find((t) => t.name === tag);
    nav.append(el("h2", {}, tag));
    main.append(el("h2", { id: `tag-${tag}` }, tag));
    if (about && about.description) main.append(el("p", { class: "desc" }, about.description));
    for (const [method, path, op] of ops) {
      const section = renderOperation(method, path, op);
      nav.append(el("a", { href: `#${section.id}` }, `${method.toUpperCase()} ${path}`));
      main.append(section);
    }
  }
  if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
};

// Shows the operations whose method, path, name, summary or description hold every word
// of the query (any case), in the list and on the page.
const filter = (query) => {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  for (const section of document.querySelectorAll("section.op")) {
    const text = section.textContent.toLowerCase();
    const shown = words.every((w) => text.includes(w));
    section.hidden = !shown;
    const link = document.querySelector(`nav a[href="#${CSS.escape(section.id)}"]`);
    if (link) link.hidden = !shown;
  }
};

fetch("openapi.json")
  .then((r) => r.json())
  .then((doc) => { spec = doc; render(); })
  .catch((e) => {
    document.getElementById("main").replaceChildren(el("p", {}, `Could not load the document: ${e}`));
  });

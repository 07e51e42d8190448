"use strict";
// imgbench serve: the page's state, the API calls, colour maps and the Predict tab.
// pad.js feeds it images (drawn, uploaded, dropped, pasted); inside.js and results.js draw the other tabs.
// Nothing is loaded from anywhere but this server.

const IB = (window.IB = {
  runs: [], // rows of /api/runs
  details: {}, // run name -> /api/runs/{name}
  image: null, // the current image (a Blob), sent as it is to every endpoint
  version: 0, // bumped with every new image
  listeners: [], // called with a reason ("image" or "runs") when either changes
});

IB.$ = (selector) => document.querySelector(selector);

IB.el = function (tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
};

IB.status = (message) => { IB.$("#status").textContent = message || ""; };
IB.pct = (p) => `${(100 * p).toFixed(1)}%`;
IB.runPath = (name) => `/api/runs/${encodeURIComponent(name)}`;

IB.api = async function (path, options) {
  const response = await fetch(path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
};

IB.postImage = function (path) {
  const form = new FormData();
  form.append("image", IB.image, IB.image.name || "image.png");
  return IB.api(path, { method: "POST", body: form });
};

IB.runDetail = async function (name) {
  if (!IB.details[name]) IB.details[name] = await IB.api(IB.runPath(name));
  return IB.details[name];
};

IB.selectedRuns = function () {
  const names = [IB.$("#run-a").value];
  if (IB.$("#compare").checked && IB.$("#run-b").value) names.push(IB.$("#run-b").value);
  return names.filter(Boolean);
};

IB.onChange = (listener) => IB.listeners.push(listener);
IB.changed = (reason) => IB.listeners.forEach((listener) => listener(reason));

IB.setImage = function (blob) {
  IB.image = blob;
  IB.version += 1;
  IB.changed("image");
};

// --- colour maps: 256-entry lookup tables interpolated from a few stops ------------------------------
function lut(stops) {
  const table = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * (stops.length - 1);
    const j = Math.min(Math.floor(t), stops.length - 2);
    const f = t - j;
    for (let c = 0; c < 3; c++) table[3 * i + c] = stops[j][c] + f * (stops[j + 1][c] - stops[j][c]);
  }
  return table;
}
IB.VIRIDIS = lut([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]]);
IB.HOT = lut([[0, 0, 0], [180, 0, 0], [255, 120, 0], [255, 230, 60], [255, 255, 255]]);
IB.GREY = lut([[0, 0, 0], [255, 255, 255]]);
IB.DIVERGING = lut([[33, 102, 172], [247, 247, 247], [178, 24, 43]]);

// Paint a 2-D array of numbers (rows of columns) onto a canvas at one pixel per value, lo..hi mapped
// through the table; CSS scales the canvas up with crisp pixels.
IB.paint = function (canvas, rows, lo, hi, table) {
  const h = rows.length;
  const w = rows[0].length;
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(w, h);
  const span = hi - lo || 1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = Math.max(0, Math.min(255, Math.round((255 * (rows[y][x] - lo)) / span)));
      const o = 4 * (y * w + x);
      image.data[o] = table[3 * i];
      image.data[o + 1] = table[3 * i + 1];
      image.data[o + 2] = table[3 * i + 2];
      image.data[o + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
};

// The model's input, uint8 channels x height x width: grey for one channel, RGB for three.
IB.paintInput = function (canvas, chw) {
  if (chw.length !== 3) return IB.paint(canvas, chw[0], 0, 255, IB.GREY);
  const h = chw[0].length;
  const w = chw[0][0].length;
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = 4 * (y * w + x);
      for (let c = 0; c < 3; c++) image.data[o + c] = chw[c][y][x];
      image.data[o + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
};

IB.bar = function (label, value, fraction, top) {
  const fill = IB.el("div", { class: "fill" });
  fill.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
  return IB.el(
    "div", { class: top ? "bar top" : "bar" },
    IB.el("span", { class: "label", text: label, title: label }),
    IB.el("div", { class: "track" }, fill),
    IB.el("span", { class: "num", text: value }),
  );
};

IB.describe = (row) =>
  `${row.dataset} · ${row.model} · ${row.engine} · ` +
  (row.accuracy === null || row.accuracy === undefined ? row.status : `test accuracy ${IB.pct(row.accuracy)}`);

// --- the Predict tab ------------------------------------------------------------------------------
let busy = false;
let again = false;

function renderResult(row, detail, result) {
  const names = detail.class_names.length;
  const column = IB.el(
    "div", { class: "result", "data-run": row.name },
    IB.el("h2", { text: row.name }),
    IB.el("p", { class: "meta", text: IB.describe(row) }),
    IB.el("p", { class: "verdict", text: `${result.label} (${IB.pct(result.probability)})` }),
  );
  const view = IB.el("canvas", { class: "pixels model-view" });
  IB.paintInput(view, result.input);
  const figures = [IB.el("figure", {}, view, IB.el("figcaption", { text: "as the model sees it" }))];
  if (result.saliency) {
    const heat = IB.el("canvas", { class: "pixels saliency" });
    IB.paint(heat, result.saliency, 0, 1, IB.HOT);
    figures.push(IB.el("figure", {}, heat, IB.el("figcaption", { text: "saliency |d logit / d pixel|" })));
  }
  column.append(IB.el("div", { class: "views" }, ...figures));
  const bars = IB.el("div", { class: "bars" }, IB.el("p", { class: "meta", text: `top ${result.top_k.length} of ${names} classes` }));
  result.top_k.forEach((entry, i) => bars.append(IB.bar(entry.label, IB.pct(entry.probability), entry.probability, i === 0)));
  column.append(bars);
  return column;
}

async function predictAll() {
  if (!IB.image) return;
  if (busy) { again = true; return; }
  busy = true;
  try {
    const names = IB.selectedRuns();
    const columns = await Promise.all(names.map(async (name) => {
      const detail = await IB.runDetail(name);
      const k = Math.min(5, detail.class_names.length);
      const result = await IB.postImage(`${IB.runPath(name)}/predict?top_k=${k}&saliency=true&view=true`);
      return renderResult(IB.runs.find((r) => r.name === name), detail, result);
    }));
    IB.$("#results").replaceChildren(...columns);
    IB.status("");
  } catch (error) {
    IB.status(error.message);
  } finally {
    busy = false;
    if (again) { again = false; predictAll(); }
  }
}
IB.onChange((reason) => { if (reason === "image" || reason === "runs") predictAll(); });

// --- runs and tabs -------------------------------------------------------------------------------
function fillPickers() {
  for (const [id, pick] of [["#run-a", 0], ["#run-b", 1]]) {
    const select = IB.$(id);
    const kept = select.value;
    select.replaceChildren(...IB.runs.map((row) => IB.el("option", { value: row.name, text: `${row.name} (${IB.describe(row)})` })));
    if (IB.runs.some((r) => r.name === kept)) select.value = kept;
    else if (IB.runs.length > pick) select.value = IB.runs[pick].name;
  }
}

IB.loadRuns = async function () {
  IB.runs = await IB.api("/api/runs");
  fillPickers();
  if (!IB.runs.length) IB.status("no runs to serve: train one with 'imgbench train'");
  IB.changed("runs");
};

function showTab(name) {
  for (const button of document.querySelectorAll("nav button")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === name));
  }
  for (const section of document.querySelectorAll("main > section")) section.hidden = section.id !== `tab-${name}`;
  IB.changed("tab");
}
IB.visible = (name) => !IB.$(`#tab-${name}`).hidden;

for (const button of document.querySelectorAll("nav button")) button.addEventListener("click", () => showTab(button.dataset.tab));
IB.$("#run-a").addEventListener("change", () => IB.changed("runs"));
IB.$("#run-b").addEventListener("change", () => IB.changed("runs"));
IB.$("#compare").addEventListener("change", (event) => {
  IB.$("#run-b").disabled = !event.target.checked;
  IB.changed("runs");
});
window.addEventListener("load", () => IB.loadRuns().catch((error) => IB.status(error.message)));

"use strict";
// The Look inside tab: every shown layer's output for the current image (feature maps, dense outputs as
// bars); a layer large; and, for a value clicked in a conv or pool map, its input window, kernel and the
// arithmetic, computed by the server and checked against the engine's own value.
(function () {
  let layers = null; // the /activations answer
  let shownFor = null; // "version/run" it was computed for
  let selected = null; // the layer shown large
  let busy = false;

  const fmt = (v) => (v === null ? "pad" : Number(v).toFixed(3));

  // The values of a layer as sent with encoding=base64 (float32, C order), as nested rows of typed arrays.
  function decode(layer) {
    const bytes = Uint8Array.from(atob(layer.values), (c) => c.charCodeAt(0));
    const flat = new Float32Array(bytes.buffer);
    if (layer.kind !== "maps") return flat;
    const [c, h, w] = layer.shape;
    return Array.from({ length: c }, (_, i) => Array.from({ length: h }, (_, y) => flat.subarray((i * h + y) * w, (i * h + y + 1) * w)));
  }
  const shape = (s) => s.join("×");

  function thumb(layer) {
    const canvas = IB.el("canvas");
    if (layer.kind === "maps") IB.paint(canvas, layer.values[0], layer.min, layer.max, IB.VIRIDIS);
    else {
      const bound = Math.max(Math.abs(layer.min), Math.abs(layer.max));
      IB.paint(canvas, [layer.values], -bound, bound, IB.DIVERGING);
    }
    return canvas;
  }

  function renderLayers() {
    const cards = layers.map((layer) => {
      const thumbs = IB.el("div", { class: "thumbs" });
      if (layer.kind === "maps") {
        layer.values.slice(0, 8).forEach((map) => {
          const canvas = IB.el("canvas");
          IB.paint(canvas, map, layer.min, layer.max, IB.VIRIDIS);
          thumbs.append(canvas);
        });
      } else thumbs.append(thumb(layer));
      return IB.el(
        "div",
        { class: layer.name === selected ? "layer-card selected" : "layer-card", "data-layer": layer.name,
          onclick: () => { selected = layer.name; renderLayers(); renderLayer(layer); } },
        IB.el("h3", { text: `${layer.name} · ${layer.type} · ${shape(layer.shape)}` }),
        thumbs,
      );
    });
    IB.$("#layers").replaceChildren(...cards);
  }

  function renderLayer(layer) {
    IB.$("#explain").replaceChildren();
    const head = IB.el("h2", { text: `${layer.name} (${layer.type}), output ${shape(layer.shape)}` });
    if (layer.kind === "vector") {
      const bound = Math.max(Math.abs(layer.min), Math.abs(layer.max)) || 1;
      const bars = IB.el("div", { class: "vector" });
      layer.values.forEach((v, i) => {
        const bar = IB.bar(String(i), v.toFixed(3), Math.abs(v) / bound, false);
        if (v < 0) bar.querySelector(".fill").classList.add("negative");
        bars.append(bar);
      });
      IB.$("#layer-view").replaceChildren(head, IB.el("p", { class: "hint", text: "one bar per unit (red: negative)" }), bars);
      return;
    }
    const note = layer.explained ? "Click a value in a map to see how it is computed." : "";
    const maps = IB.el("div", { class: "maps" });
    layer.values.forEach((map, channel) => {
      const canvas = IB.el("canvas", { "data-channel": channel });
      IB.paint(canvas, map, layer.min, layer.max, IB.VIRIDIS);
      canvas.title = `channel ${channel}`;
      if (layer.explained) {
        canvas.addEventListener("click", (event) => {
          const col = Math.min(map[0].length - 1, Math.floor((event.offsetX / canvas.clientWidth) * map[0].length));
          const row = Math.min(map.length - 1, Math.floor((event.offsetY / canvas.clientHeight) * map.length));
          explain(layer, channel, row, col);
        });
      }
      maps.append(IB.el("figure", {}, canvas, IB.el("figcaption", { text: `ch ${channel}` })));
    });
    const range = `colours: ${layer.min.toFixed(3)} (dark) to ${layer.max.toFixed(3)} (yellow), the same for every map. ${note}`;
    IB.$("#layer-view").replaceChildren(head, IB.el("p", { class: "hint", text: range }), maps);
  }

  function grid(rows, caption, cellClass) {
    const table = IB.el("table", { class: "grid" }, IB.el("caption", { text: caption }));
    for (const row of rows) {
      table.append(IB.el("tr", {}, ...row.map((v) => IB.el("td", { class: v === null ? "pad" : cellClass || "", text: fmt(v) }))));
    }
    return table;
  }

  const signed = (v, d) => (v < 0 ? `(−${Math.abs(v).toFixed(d)})` : v.toFixed(d));
  const sum = (values, d) => values.map((v, i) => (i === 0 ? v.toFixed(d) : `${v < 0 ? "−" : "+"} ${Math.abs(v).toFixed(d)}`)).join(" ");

  function arithmetic(found, next) {
    const lines = [];
    if (found.kernel) {
      const k = found.kernel;
      if (k.length === 1 && found.kernel_size <= 5) {
        const terms = [];
        k[0].forEach((row, u) => row.forEach((w, v) => {
          const x = found.window[0][u][v];
          terms.push(`${signed(w, 3)}·${x === null ? "0 (pad)" : signed(x, 3)}`);
        }));
        lines.push(`Σ kernel × window = ${terms.join(" + ")}`);
      }
      const n = found.channel_sums.length;
      lines.push(`Σ over ${n} input channel${n > 1 ? "s" : ""} of kernel × window (padding counts as 0) = ${sum(found.channel_sums, 4)}`);
      lines.push(`${sum([found.channel_sums.reduce((a, b) => a + b, 0), found.bias], 4)} (bias) = ${found.value.toFixed(5)}`);
    } else if (found.type === "maxpool2d") lines.push(`max of the ${found.kernel_size}×${found.kernel_size} window = ${found.value.toFixed(5)}`);
    else lines.push(`mean of the ${found.kernel_size}×${found.kernel_size} window (padding counts as 0) = ${found.value.toFixed(5)}`);
    lines.push(`engine's value: ${found.engine_value.toFixed(5)}`);
    if (next && next.type === "relu") lines.push(`then ${next.name}: max(${found.value.toFixed(4)}, 0) = ${Math.max(found.value, 0).toFixed(4)}`);
    return lines.join("\n");
  }

  async function explain(layer, channel, row, col) {
    const name = IB.$("#run-a").value;
    try {
      const query = `layer=${encodeURIComponent(layer.name)}&channel=${channel}&row=${row}&col=${col}`;
      const found = await IB.postImage(`${IB.runPath(name)}/explain?${query}`);
      const detail = await IB.runDetail(name);
      const index = detail.layers.findIndex((l) => l.name === layer.name);
      const where = `window: rows ${found.origin[0]}..${found.origin[0] + found.kernel_size - 1}, ` +
        `columns ${found.origin[1]}..${found.origin[1] + found.kernel_size - 1} of ${found.input}` +
        ` (stride ${found.stride}, padding ${found.padding})`;
      const grids = IB.el("div", { class: "grids" });
      found.input_channels.forEach((c, i) => {
        const pair = IB.el("div", { class: "pair" }, grid(found.window[i], `${found.input} channel ${c}`, "win"));
        if (found.kernel) pair.append(grid(found.kernel[found.kernel.length === 1 ? 0 : i], `kernel [${channel}][${c}]`));
        grids.append(pair);
      });
      IB.$("#explain").replaceChildren(
        IB.el("h2", { text: `${layer.name}[${channel}][${row}][${col}] = ${found.engine_value.toFixed(4)}` }),
        IB.el("p", { class: "hint", text: where }),
        grids,
        IB.el("pre", { class: "arith", text: arithmetic(found, detail.layers[index + 1]) }),
      );
    } catch (error) {
      IB.status(error.message);
    }
  }

  async function load() {
    if (!IB.visible("inside")) return;
    const name = IB.$("#run-a").value;
    if (!IB.image || !name) {
      IB.$("#layers").replaceChildren(IB.el("p", { class: "hint", text: "Draw or upload an image on the Predict tab first." }));
      return;
    }
    const key = `${IB.version}/${name}`;
    if (key === shownFor || busy) return;
    busy = true;
    try {
      layers = await IB.postImage(`${IB.runPath(name)}/activations?encoding=base64`);
      for (const layer of layers) layer.values = decode(layer);
      if (shownFor && !shownFor.endsWith(`/${name}`)) selected = null; // another run: other layers
      shownFor = key;
      renderLayers();
      const chosen = layers.find((l) => l.name === selected);
      if (chosen) renderLayer(chosen);
      else { IB.$("#layer-view").replaceChildren(); IB.$("#explain").replaceChildren(); }
    } catch (error) {
      shownFor = key; // not again until the image or the run changes
      IB.status(error.message);
    } finally {
      busy = false;
      if (IB.visible("inside") && `${IB.version}/${IB.$("#run-a").value}` !== shownFor) load();
    }
  }
  IB.onChange(load);
})();

"use strict";
// The Results and Studies tabs: every run in a table; one run's learning curves (drawn from history.csv),
// test metrics and confusion matrix; links to the study reports.
(function () {
  let shownRun = null;

  const num = (v, digits) => (v === null || v === undefined ? "" : Number(v).toFixed(digits));

  // One chart: a few series over epochs, axes with their ranges, a legend.
  function chart(title, epochs, series) {
    const canvas = IB.el("canvas", { width: 380, height: 230 });
    const ctx = canvas.getContext("2d");
    const m = { left: 48, right: 10, top: 26, bottom: 30 };
    const values = series.flatMap((s) => s.values).filter((v) => v !== null && Number.isFinite(v));
    if (!values.length) return canvas;
    let lo = Math.min(...values);
    let hi = Math.max(...values);
    if (hi === lo) { hi += 0.5; lo -= 0.5; }
    const x0 = epochs[0];
    const x1 = epochs[epochs.length - 1];
    const px = (e) => m.left + ((e - x0) / (x1 - x0 || 1)) * (canvas.width - m.left - m.right);
    const py = (v) => canvas.height - m.bottom - ((v - lo) / (hi - lo)) * (canvas.height - m.top - m.bottom);
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillStyle = "#1d2330";
    ctx.fillText(title, m.left, 16);
    ctx.strokeStyle = "#999";
    ctx.strokeRect(m.left, m.top, canvas.width - m.left - m.right, canvas.height - m.top - m.bottom);
    ctx.fillStyle = "#5d6675";
    ctx.fillText(hi.toPrecision(3), 4, m.top + 10);
    ctx.fillText(lo.toPrecision(3), 4, canvas.height - m.bottom);
    ctx.fillText(`epoch ${x0}`, m.left, canvas.height - 10);
    ctx.fillText(String(x1), canvas.width - m.right - 20, canvas.height - 10);
    series.forEach((s, i) => {
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      let started = false;
      const points = s.values.map((v, j) => [epochs[j], v]).filter(([, v]) => v !== null && Number.isFinite(v));
      points.forEach(([e, v]) => {
        if (started) ctx.lineTo(px(e), py(v));
        else { ctx.moveTo(px(e), py(v)); started = true; }
      });
      ctx.stroke();
      ctx.fillStyle = s.color;
      for (const [e, v] of points) ctx.fillRect(px(e) - 2.5, py(v) - 2.5, 5, 5); // a single epoch shows too
      ctx.fillText(s.label, canvas.width - m.right - 150 + 75 * i, 16);
    });
    return canvas;
  }

  function confusion(matrix, names) {
    const peak = Math.max(...matrix.flat()) || 1;
    const table = IB.el("table", { class: "confusion" },
      IB.el("caption", { text: "confusion matrix (rows: true class, columns: predicted)" }),
      IB.el("tr", {}, IB.el("th"), ...names.map((n) => IB.el("th", { text: n }))));
    matrix.forEach((row, i) => {
      const cells = row.map((v, j) => {
        const cell = IB.el("td", { text: String(v) });
        const alpha = v / peak;
        cell.style.background = i === j ? `rgba(76, 114, 176, ${alpha})` : `rgba(207, 106, 0, ${Math.min(1, 4 * alpha)})`;
        if (alpha > 0.55) cell.style.color = "#fff";
        return cell;
      });
      table.append(IB.el("tr", {}, IB.el("th", { text: names[i] }), ...cells));
    });
    return table;
  }

  async function showRun(name) {
    shownRun = name;
    for (const tr of document.querySelectorAll("#runs-table tbody tr")) tr.classList.toggle("selected", tr.dataset.run === name);
    try {
      const detail = await IB.runDetail(name);
      const parts = [IB.el("h2", { text: name }), IB.el("p", { class: "meta", text: `${detail.dataset} · ${detail.model} · ${detail.engine} · ${detail.layers.length} layers` })];
      const h = detail.history;
      if (h.length) {
        const epochs = h.map((r) => r.epoch);
        parts.push(IB.el("div", { class: "charts" },
          chart("loss", epochs, [{ label: "train", color: "#4c72b0", values: h.map((r) => r.train_loss) }, { label: "validation", color: "#cf6a00", values: h.map((r) => r.val_loss) }]),
          chart("accuracy", epochs, [{ label: "train", color: "#4c72b0", values: h.map((r) => r.train_acc) }, { label: "validation", color: "#cf6a00", values: h.map((r) => r.val_acc) }])));
      }
      if (detail.finished) {
        const m = await IB.api(`${IB.runPath(name)}/metrics`);
        parts.push(IB.el("p", { text: `test accuracy ${IB.pct(m.accuracy)}, macro F1 ${num(m.f1_macro, 4)}, log loss ${num(m.log_loss, 4)}, ${m.num_examples} test images` }));
        parts.push(confusion(m.confusion_matrix, detail.class_names));
      } else parts.push(IB.el("p", { class: "hint", text: "This run has not finished: no test metrics yet." }));
      IB.$("#run-results").replaceChildren(...parts);
    } catch (error) {
      IB.status(error.message);
    }
  }

  function renderTable() {
    const rows = IB.runs.map((r) => IB.el("tr", { "data-run": r.name, onclick: () => showRun(r.name) },
      ...[r.name, r.dataset, r.model, r.engine, r.accuracy === null ? r.status : IB.pct(r.accuracy), num(r.f1_macro, 4),
        r.param_count === null ? "" : r.param_count.toLocaleString("en"), r.epochs ?? "", num(r.training_seconds, 1)]
        .map((v) => IB.el("td", { text: String(v) }))));
    IB.$("#runs-table tbody").replaceChildren(...rows);
    if (IB.runs.length) showRun(IB.runs.some((r) => r.name === shownRun) ? shownRun : IB.$("#run-a").value);
  }

  async function renderStudies() {
    try {
      const studies = await IB.api("/api/studies");
      const link = (f) => IB.el("a", { href: `/studies/${f.split("/").map(encodeURIComponent).join("/")}`, target: "_blank", rel: "noopener", text: f.split("/").pop() });
      const items = studies.map((s) => IB.el("li", {}, IB.el("strong", { text: s.name }), ...s.files.flatMap((f) => [" ", link(f)])));
      IB.$("#studies").replaceChildren(...(items.length ? items : [IB.el("li", { class: "hint", text: "No study reports: start the server with --studies DIR (a folder of 'imgbench compare' outputs)." })]));
    } catch (error) {
      IB.status(error.message);
    }
  }

  IB.onChange((reason) => {
    if (reason === "image") return;
    if (IB.visible("results")) renderTable();
    if (IB.visible("studies")) renderStudies();
  });
})();

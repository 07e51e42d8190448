"use strict";
// Where images come from: the drawing pad (mouse, pen or touch, through pointer events), a file picked,
// dropped or pasted. A drawing is sent as a PNG of the pad after every stroke segment (the Predict tab sends
// at most one request at a time and then the newest image); a photo is sent as its own file, unchanged, so
// the server preprocesses it exactly as `imgbench predict` would.
(function () {
  const pad = IB.$("#pad");
  const ctx = pad.getContext("2d");
  let drawing = false;
  let dirty = false; // strokes not yet sent
  let last = null;
  let hasInk = false;

  function blank() {
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, pad.width, pad.height);
    hasInk = false;
  }

  // Strokes as thick, relative to the pad, as the ink in the run's training images: thick for 8x8 digits,
  // thinner for 28x28 images (MNIST-style preprocessing rescales the digit itself).
  function strokeWidth() {
    const detail = IB.details[IB.$("#run-a").value];
    const side = detail && detail.image_shape ? detail.image_shape[1] : 28;
    return Math.max(18, Math.round((1.3 * pad.width) / side));
  }

  function point(event) {
    const box = pad.getBoundingClientRect();
    return [((event.clientX - box.left) * pad.width) / box.width, ((event.clientY - box.top) * pad.height) / box.height];
  }

  function send() {
    if (!dirty || !hasInk) return;
    dirty = false;
    pad.toBlob((blob) => { blob.name = "drawing.png"; IB.setImage(blob); }, "image/png");
  }

  pad.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    pad.setPointerCapture(event.pointerId);
    drawing = true;
    last = point(event);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#000";
    ctx.fillStyle = "#000";
    ctx.lineWidth = strokeWidth();
    ctx.beginPath();
    ctx.arc(last[0], last[1], ctx.lineWidth / 2, 0, 2 * Math.PI);
    ctx.fill();
    hasInk = true;
    dirty = true;
  });
  pad.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    const next = point(event);
    ctx.beginPath();
    ctx.moveTo(last[0], last[1]);
    ctx.lineTo(next[0], next[1]);
    ctx.stroke();
    last = next;
    dirty = true;
    send(); // live: the prediction follows the pen
  });
  const lift = () => { if (drawing) { drawing = false; dirty = true; send(); } };
  pad.addEventListener("pointerup", lift);
  pad.addEventListener("pointercancel", lift);

  IB.$("#clear").addEventListener("click", () => {
    blank();
    IB.image = null;
    IB.$("#results").replaceChildren();
  });

  // A photo: shown on the pad (fitted, aspect kept) and sent as it is.
  function usePhoto(file) {
    if (!file || !file.type.startsWith("image/")) { IB.status("not an image file"); return; }
    const url = URL.createObjectURL(file);
    const img = new Image();
    img.onload = () => {
      blank();
      const scale = Math.min(pad.width / img.width, pad.height / img.height);
      const w = img.width * scale;
      const h = img.height * scale;
      ctx.drawImage(img, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
      URL.revokeObjectURL(url);
      hasInk = true; // drawing over a photo sends the pad from then on
    };
    img.onerror = () => { URL.revokeObjectURL(url); }; // the server still says what is wrong with the file
    img.src = url;
    IB.setImage(file);
  }

  IB.$("#file").addEventListener("change", (event) => { usePhoto(event.target.files[0]); event.target.value = ""; });
  pad.addEventListener("dragover", (event) => { event.preventDefault(); pad.classList.add("dragging"); });
  pad.addEventListener("dragleave", () => pad.classList.remove("dragging"));
  pad.addEventListener("drop", (event) => {
    event.preventDefault();
    pad.classList.remove("dragging");
    usePhoto(event.dataTransfer.files[0]);
  });
  document.addEventListener("paste", (event) => {
    const item = [...(event.clipboardData ? event.clipboardData.items : [])].find((i) => i.type.startsWith("image/"));
    if (item) { event.preventDefault(); usePhoto(item.getAsFile()); }
  });

  blank();
})();

"""`imgbench serve` in headless Chromium: the real server (a subprocess on a free port), a digit drawn stroke by
stroke and recognised, a photo uploaded, a layer's feature maps and one value's kernel arithmetic, runs switched
and compared, results and reports browsed, and not one console error.  The screenshot of the Predict tab goes
to docs/images/serve.png (the README shows it)."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from imgbench.studies.documents.pdf import CHROMIUM_FLAGS, system_chromium

from .test_serve_api import digits_runs_and_a_study

pytest.importorskip("fastapi")
CHROMIUM = system_chromium()
CHROMIUM_ARGS = list(CHROMIUM_FLAGS)  # as the report's PDF is printed: no sandbox, no GPU, no traffic of its own
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "serve.png"
# Strokes on the 280x280 pad, in pad pixels: each inner list is one stroke (mouse down, moves, up).
ZERO = [
    [(140, 35), (95, 55), (72, 110), (75, 175), (100, 230), (140, 248)],
    [(140, 248), (182, 228), (207, 172), (205, 105), (183, 55), (140, 35)],
]
SEVEN = [[(65, 50), (215, 50)], [(215, 50), (170, 130), (120, 245)]]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("IMGBENCH_REQUIRE_BROWSER"),
    reason="Chromium is not installed (apt-get install chromium)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Two digits runs (a cnn-tiny that reads drawn digits well, a mlp-small), a study report, and the server."""
    root = tmp_path_factory.mktemp("serve-browser")
    runs, studies = digits_runs_and_a_study(root, 10, 3)
    port = free_port()
    log = open(root / "server.log", "w")  # noqa: SIM115  (closed at teardown)
    proc = subprocess.Popen(
        [sys.executable, "-m", "imgbench", "serve", "--runs-dir", runs, "--studies", studies] + ["--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/runs", timeout=2) as r:
                assert r.status == 200
            break
        except OSError:
            assert proc.poll() is None and time.time() < deadline, (root / "server.log").read_text()
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def photo_of_a_zero(path: Path) -> None:
    """A phone-photo-like JPEG: a dark hand-drawn 0 on slightly uneven, noisy paper."""
    rng = np.random.default_rng(3)
    paper = 190 + 25 * np.linspace(0, 1, 320)[None, :, None] + rng.normal(0, 6, (400, 320, 3))
    im = Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8))
    ImageDraw.Draw(im).ellipse((50, 30, 270, 370), outline=(35, 30, 45), width=34)
    im.save(path, quality=80)


def draw(page, strokes, verdict_after_each=None):
    """Draw ``strokes`` on the pad with the mouse, one stroke at a time."""
    box = page.locator("#pad").bounding_box()
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=6)
        page.mouse.up()
        if verdict_after_each is not None:
            verdict_after_each()


def test_draw_upload_look_inside_switch_and_browse_without_console_errors(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    assert CHROMIUM, "IMGBENCH_REQUIRE_BROWSER is set but chromium is not installed"
    errors = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1180, "height": 620})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            outside = []  # every request the page makes must go to this server
            page.on(
                "request", lambda r: outside.append(r.url) if not r.url.startswith((server, "data:", "blob:")) else None
            )
            page.goto(server + "/", wait_until="load")
            expect(page.locator("#run-a option")).to_have_count(2)
            page.select_option("#run-a", "cnn")
            verdict = page.locator(".result[data-run=cnn] .verdict")

            # A 0, stroke by stroke: a prediction is shown after the first stroke already (live), a 0 after both.
            seen = []
            draw(page, ZERO, lambda: (expect(verdict).to_be_visible(), seen.append(verdict.text_content())))
            expect(verdict).to_have_text(re.compile(r"^0 \("))
            assert len(seen) == 2
            page.click("#clear")
            expect(page.locator(".result")).to_have_count(0)
            draw(page, SEVEN)
            expect(verdict).to_have_text(re.compile(r"^7 \("))
            view = page.locator(".result[data-run=cnn] canvas.model-view")
            assert view.evaluate("c => [c.width, c.height]") == [8, 8]  # the 8x8 input the model sees
            expect(page.locator(".result[data-run=cnn] canvas.saliency")).to_be_visible()
            expect(page.locator(".result[data-run=cnn] .bar")).to_have_count(5)

            # A photo, uploaded: sent as the file itself and recognised.
            photo = tmp_path / "zero.jpg"
            photo_of_a_zero(photo)
            page.set_input_files("#file", str(photo))
            expect(verdict).to_have_text(re.compile(r"^0 \("))

            # Two runs side by side on the same input.
            page.check("#compare")
            page.select_option("#run-b", "mlp")
            expect(page.locator(".result")).to_have_count(2)
            expect(page.locator(".result[data-run=mlp] .verdict")).to_be_visible()
            shot = tmp_path / "serve.png"
            page.screenshot(path=str(shot))

            # Look inside: every layer, one layer large, one value's kernel, window and arithmetic.
            page.click("nav button[data-tab=inside]")
            cards = page.locator(".layer-card h3")
            expect(cards).to_have_count(6)
            assert cards.nth(2).text_content() == "conv2 · conv2d · 32×4×4"
            page.click(".layer-card[data-layer=conv2]")
            expect(page.locator("#layer-view .maps canvas")).to_have_count(32)
            page.locator("#layer-view .maps canvas[data-channel='5']").click(position={"x": 75, "y": 45})
            expect(page.locator("#explain .arith")).to_contain_text("engine's value")
            expect(page.locator("#explain h2")).to_have_text(re.compile(r"^conv2\[5\]\[1\]\[2\] = "))
            expect(page.locator("#explain table.grid")).to_have_count(32)  # 16 input windows, 16 kernels
            arithmetic = page.locator("#explain .arith").text_content()
            computed = float(re.search(r"\(bias\) = (-?[\d.]+)", arithmetic).group(1))
            engine = float(re.search(r"engine's value: (-?[\d.]+)", arithmetic).group(1))
            assert abs(computed - engine) < 1e-4, arithmetic
            page.click(".layer-card[data-layer=dense1]")
            expect(page.locator("#layer-view .vector .bar")).to_have_count(64)

            # Switch runs: the mlp has only dense layers to show.
            page.select_option("#run-a", "mlp")
            expect(page.locator(".layer-card h3")).to_have_text(["dense1 · dense · 128", "dense2 · dense · 10"])

            # Results: every run, curves, confusion matrix; and the study report's link.
            page.click("nav button[data-tab=results]")
            expect(page.locator("#runs-table tbody tr")).to_have_count(2)
            page.click("#runs-table tbody tr[data-run=cnn]")
            expect(page.locator("#run-results h2")).to_have_text("cnn")
            expect(page.locator("#run-results .charts canvas")).to_have_count(2)
            expect(page.locator("#run-results table.confusion tr")).to_have_count(11)
            page.click("nav button[data-tab=studies]")
            expect(page.locator("#studies a")).to_have_text(["report.html", "report.md"])

            page.goto(server + "/docs", wait_until="load")
            expect(page.locator("#docs section")).to_have_count(7)
        finally:
            browser.close()
    assert errors == []
    assert outside == []
    # The README's picture: the Predict tab with two runs side by side, in 64 colours to keep the file small.
    with Image.open(shot) as im:
        small = im.convert("RGB").quantize(64, method=Image.Quantize.MEDIANCUT)
    buf = io.BytesIO()
    small.save(buf, "PNG", optimize=True)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.write_bytes(buf.getvalue())
    assert len(buf.getvalue()) < 150_000

"""The documentation site: ``mkdocs build --strict`` offline, complete pages, and a clean render in Chromium.

The site is built once per module into a temporary folder, with every proxy pointing at a closed port so that
any attempt to reach the network fails the build.  The browser test serves the built site from a local HTTP
server and opens the home page, a tutorial, the API reference and the maths page in headless Chromium: no
console errors, no failed or outside requests, no broken images or local links, and the maths typeset.
"""

from __future__ import annotations

import functools
import html
import http.server
import inspect
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest

from imgbench.studies.documents.pdf import CHROMIUM_FLAGS, system_chromium

from ..conftest import REPO

pytest.importorskip("mkdocs")
pytest.importorskip("material")
pytest.importorskip("mkdocstrings_handlers.python")

CHROMIUM = system_chromium()  # Debian's /usr/bin/chromium, launched as the PDF report launches it
CLOSED_PORT = "http://127.0.0.1:9"  # the discard port: nothing listens there
# Resources a page may load only from the site itself: a URL with a host in these attributes is a CDN or
# web-font request (links to other sites, <a href>, are fine).
OUTSIDE_RESOURCE = re.compile(r"<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=\"(?:https?:)?//", re.I)
HEADING = re.compile(r"<h([2-4]) id=\"([^\"]+)\"[^>]*>(.*?)</h\1>", re.S)
PAGES = ["", "tutorials/cnn-mnist/", "reference/api/", "numpy-engine/layers/"]


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).replace("¶", "").strip()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "IMGBENCH_OFFLINE": "1", "NO_PROXY": "", "no_proxy": ""}
    env.update({name: CLOSED_PORT for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")})
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    return out


def test_the_site_builds_strict_and_loads_nothing_from_outside(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 20
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not OUTSIDE_RESOURCE.search(text), f"{page.relative_to(site)} loads a resource from outside"
        assert "fonts.googleapis" not in text and "api.github.com" not in text, page.relative_to(site)
    assert (site / "assets/katex/katex.min.js").is_file() and list((site / "assets/katex/fonts").glob("*.woff2"))
    assert not (site / "hooks").exists(), "the build hooks are copied into the site"


def _api_blocks(page: str) -> dict[str, str]:
    """Heading text -> the HTML from that heading to the next one, for the API page's h2-h4 headings."""
    found = list(HEADING.finditer(page))
    ends = [m.start() for m in found[1:]] + [len(page)]
    return {_text(m[3]): page[m.end() : end] for m, end in zip(found, ends, strict=True)}


def test_the_api_reference_documents_every_public_name(site):
    import imgbench

    blocks = _api_blocks((site / "reference/api/index.html").read_text(encoding="utf-8"))
    for name in imgbench.__all__:
        heading = next((h for h in blocks if f"imgbench.{name}" in h.split()), None)
        assert heading is not None, f"imgbench.{name} has no entry on the API page"
        obj = getattr(imgbench, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            # The docstring's opening words, up to the first literal or role (rendered differently).
            opening = re.split(r"`|:\w+:", inspect.getdoc(obj))[0].split("\n")[0].strip()
            assert opening in " ".join(_text(blocks[heading]).split()), f"imgbench.{name}'s docstring is not shown"


def test_every_numpy_layer_has_its_maths_and_code_on_the_maths_page(site):
    import imgbench.engines.numpy as npe

    page = (site / "numpy-engine/layers/index.html").read_text(encoding="utf-8")
    blocks = {m[2]: page[m.end() :] for m in HEADING.finditer(page)}
    # Every layer, the loss and the optimisers; the contract (Layer), the container (Sequential) and the
    # model are on the engine's first page.
    classes = [
        getattr(npe, name)
        for name in npe.__all__
        if inspect.isclass(getattr(npe, name)) and name not in {"Layer", "Sequential", "NumpyModel"}
    ]
    assert len(classes) >= 25
    for cls in classes:
        anchor = f"{cls.__module__}.{cls.__name__}"
        assert anchor in blocks, f"{anchor} is not on the maths page"
        block = blocks[anchor][: blocks[anchor].find("doc doc-heading")]
        assert "mkdocstrings-source" in block, f"{anchor}: its source is not shown"
        if cls is not npe.Flatten:  # a reshape: no formula
            assert 'class="arithmatex"' in block, f"{anchor}: no maths in its docstring"


def test_every_notebook_is_a_tutorial_page_with_all_its_code(site):
    jupytext = pytest.importorskip("jupytext")
    scripts = sorted((REPO / "notebooks").glob("*.py"))
    assert scripts
    for script in scripts:
        shown = _text((site / "tutorials" / script.stem / "index.html").read_text(encoding="utf-8"))
        code = [c for c in jupytext.read(script).cells if c.cell_type == "code" and c.source.strip()]
        assert code, script.name
        for cell in code:
            lines = [line for line in cell.source.splitlines() if line.strip()]
            assert lines[0] in shown and lines[-1] in shown, f"{script.name}: a code cell is missing"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the stdlib's name)
        pass


@pytest.fixture
def served(site) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=site))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


def _broken_links(page, base: str, site: Path) -> list[str]:
    """Local links whose file is missing, or whose #fragment names no element of the target page."""
    broken = []
    for href in set(page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")):
        if not href.startswith(base):
            continue
        url, fragment = urldefrag(href)
        path = urlsplit(url).path.lstrip("/")
        target = site / path / "index.html" if path == "" or path.endswith("/") else site / path
        missing = not target.is_file()
        if missing or (fragment and f'id="{fragment}"' not in target.read_text(encoding="utf-8", errors="replace")):
            broken.append(href)
    return broken


@pytest.mark.network
@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("IMGBENCH_REQUIRE_BROWSER"),
    reason="Chromium is not installed (apt-get install chromium)",
)
def test_pages_render_in_headless_chromium_offline_with_maths(site, served):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "IMGBENCH_REQUIRE_BROWSER is set but chromium is not installed"
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_FLAGS))
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))
            page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)

            def local_only(route):
                if route.request.url.startswith(served) or route.request.url.startswith("data:"):
                    route.continue_()
                else:
                    problems.append(f"outside request: {route.request.url}")
                    route.abort()

            page.route("**/*", local_only)
            for path in PAGES:
                where = path or "index"
                page.goto(served + path, wait_until="networkidle")
                assert page.title().endswith("imgbench"), where
                broken_images = page.evaluate(
                    "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
                )
                assert broken_images == [], f"{where}: broken images {broken_images}"
                assert _broken_links(page, served, site) == [], where
                marked = page.locator(".arithmatex").count()
                assert page.locator(".arithmatex .katex").count() == marked, f"{where}: maths left untypeset"
                assert page.locator(".katex-error").count() == 0, f"{where}: KaTeX could not parse a formula"
            # The maths page: every layer's formulas typeset, the KaTeX fonts loaded from the site.
            assert page.locator(".katex").count() >= 100
            assert page.evaluate("document.fonts.check('16px KaTeX_Main')")
        finally:
            browser.close()
    assert problems == []

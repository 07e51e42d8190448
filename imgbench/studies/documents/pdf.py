"""``report.pdf``: the HTML page printed by headless Chromium through Playwright.

The page's print stylesheet (``report.html.j2``) gives the title page and keeps tables and figures whole;
here Chromium adds the page numbers and opens the collapsed McNemar details so that they are printed too.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ...errors import ImgbenchError
from ...fileio import atomic_write_bytes
from ..report_render import render_html

# Chromium launched with these needs no sandbox helper (containers), no GPU and no network of its own
# (on a closed network its background connections fail, many at a time).  The browser tests use them too.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
INSTALL_CHROMIUM = "apt-get install chromium, or: playwright install chromium"
FOOTER = (
    '<div style="width: 100%; font-size: 8px; color: #59636e; text-align: center;">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)


def system_chromium() -> str | None:
    """The Chromium of the operating system (Debian's ``/usr/bin/chromium``), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _playwright_chromium() -> str | None:
    """The Chromium that ``playwright install chromium`` downloaded, or None."""
    from playwright.sync_api import Error, sync_playwright

    try:
        with sync_playwright() as pw:
            path = pw.chromium.executable_path
    except Error:
        return None
    return path if Path(path).exists() else None


def no_chromium() -> tuple[str, str] | None:
    """``(what is missing, how to install it)`` when no Chromium can print here, else None."""
    if system_chromium() or _run_apart(_playwright_chromium):
        return None
    return "no Chromium browser found", INSTALL_CHROMIUM


def _run_apart(task, *args):
    """``task(*args)`` in a thread of its own: Playwright's sync API refuses to run inside an asyncio event loop,
    as in a notebook, and a new thread has none."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(task, *args).result()


def _print(html: str, executable: str | None) -> bytes:
    from playwright.sync_api import Error, sync_playwright

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable, headless=True, args=list(CHROMIUM_FLAGS))
            try:
                page = browser.new_page()
                page.set_content(html, wait_until="load")
                page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
                return page.pdf(
                    format="A4",
                    print_background=True,
                    display_header_footer=True,
                    header_template="<div></div>",
                    footer_template=FOOTER,
                    margin={"top": "15mm", "bottom": "18mm", "left": "14mm", "right": "14mm"},
                )
            finally:
                browser.close()
    except Error as exc:
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        browser_name = executable or "Playwright's Chromium"
        raise ImgbenchError(f"{browser_name} could not print the report: {first} ({INSTALL_CHROMIUM})") from None


def write_pdf(context: dict, out: Path) -> list[Path]:
    """Print the report's HTML page to ``out/report.pdf`` (A4, numbered pages); returns its path."""
    path = out / "report.pdf"
    atomic_write_bytes(path, _run_apart(_print, render_html(context), system_chromium()))
    return [path]

"""The web app: the page, its offline API documentation, the JSON API, and the server that runs them.

Nothing the page loads comes from elsewhere (no CDN, no web fonts), and the Content-Security-Policy
says so to the browser.  FastAPI's own ``/docs`` loads Swagger UI from a CDN, so it is switched off and
``/docs`` is a page of this package that renders ``/openapi.json`` itself.
"""

from __future__ import annotations

import ipaddress
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from .. import __version__
from ..errors import ImgbenchError
from .api import json_response, router
from .guard import RequestGuard
from .insight import BadQuery
from .models import ModelCache
from .paths import NotFound, RunCatalog, resolve_inside
from .uploads import UploadLimits, UploadRefused

STATIC = Path(__file__).parent / "static"
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# A study report is shown as a document of its own: no scripts, no access to the API, only inline styles
# and embedded figures (the reports are self-contained).
REPORT_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data: 'self'"
REPORT_SUFFIXES = {".html", ".md", ".png", ".svg", ".csv", ".json", ".txt"}
REQUEST_TIMEOUT = 30.0
LOOPBACK = "127.0.0.1"
CONCURRENT_REQUESTS = 64  # connections and requests beyond this are answered 503 at once, not queued


@dataclass
class ServerState:
    """What every request reads: the runs, the engines opened for them, the limits and the studies folder."""

    catalog: RunCatalog
    models: ModelCache
    limits: UploadLimits
    studies: Path | None


def _error(status: int, message: str, **more) -> Response:
    return json_response({"error": message, **more}, status)


def _handlers(app: FastAPI) -> None:
    """Every error becomes ``{"error": ...}`` with its status; the server goes on serving after each."""

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return _error(404, str(exc))

    @app.exception_handler(UploadRefused)
    async def refused(request: Request, exc: UploadRefused) -> Response:
        return _error(exc.status, str(exc))

    @app.exception_handler(BadQuery)
    async def bad_query(request: Request, exc: BadQuery) -> Response:
        return _error(422, str(exc))

    @app.exception_handler(ImgbenchError)
    async def unusable(request: Request, exc: ImgbenchError) -> Response:  # a run that cannot be opened, say
        return _error(422, str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:  # a bug: logged by uvicorn, answered in JSON
        return _error(500, f"internal error: {type(exc).__name__}")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        return _error(422, "; ".join(problems), details=[{"loc": e["loc"], "msg": e["msg"]} for e in exc.errors()])


def _pages(app: FastAPI, state: ServerState) -> None:
    page_headers = {"Content-Security-Policy": PAGE_POLICY, "X-Content-Type-Options": "nosniff"}

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return FileResponse(STATIC / "index.html", headers=page_headers)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return FileResponse(STATIC / "docs.html", headers=page_headers)

    @app.get("/studies/{path:path}", include_in_schema=False)
    async def study_file(path: str) -> Response:
        if state.studies is None:
            raise NotFound("no studies folder is served (start the server with --studies DIR)")
        file = resolve_inside(state.studies, path)
        if not file.is_file() or file.suffix.lower() not in REPORT_SUFFIXES:
            raise NotFound(f"no such report file: {path!r}")
        media = "text/markdown; charset=utf-8" if file.suffix.lower() == ".md" else None
        headers = {"Content-Security-Policy": REPORT_POLICY, "X-Content-Type-Options": "nosniff"}
        return FileResponse(file, media_type=media, headers=headers)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def create_app(
    catalog: RunCatalog,
    studies: str | Path | None = None,
    limits: UploadLimits | None = None,
    timeout: float = REQUEST_TIMEOUT,
) -> FastAPI:
    """The FastAPI app serving ``catalog``'s runs (and the reports in ``studies``), requests capped by ``limits``
    and each answered within ``timeout`` seconds."""
    limits = limits or UploadLimits()
    if studies is not None and not Path(studies).is_dir():
        raise ImgbenchError(f"{studies}: no such studies folder")
    app = FastAPI(
        title="imgbench",
        version=__version__,
        description="Predict with trained runs, look inside them, and browse their results. "
        "Images go up as multipart/form-data (field 'image'); every answer is JSON.",
        docs_url=None,  # FastAPI's Swagger UI loads from a CDN; /docs is the offline page of this package
        redoc_url=None,
    )
    state = ServerState(catalog, ModelCache(catalog), limits, Path(studies).resolve() if studies else None)
    app.state.server = state
    _handlers(app)
    app.include_router(router)
    _pages(app, state)
    app.add_middleware(RequestGuard, max_body=limits.max_bytes, timeout=timeout)
    return app


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(app: FastAPI, host: str = LOOPBACK, port: int = 8000) -> None:
    """Run ``app`` with uvicorn until interrupted; a warning when it is reachable from other machines."""
    import uvicorn

    if not is_loopback(host):
        warnings.warn(
            f"serving on {host}: other machines can reach the server and use its models (it has no login); "
            f"use --host {LOOPBACK} to keep it on this machine",
            stacklevel=2,
        )
    print(f"imgbench serve: http://{host}:{port}/ (API documentation at /docs)", file=sys.stderr)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,  # a line per request costs more than a prediction
        timeout_keep_alive=30,
        limit_concurrency=CONCURRENT_REQUESTS,
    )

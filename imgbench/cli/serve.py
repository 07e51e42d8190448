"""``imgbench serve``: the web page and JSON API over trained runs."""

from __future__ import annotations

from ..errors import ImgbenchError
from ..kinds import definitions
from ..options import COMMAND_OPTIONS
from ..settings import RunSettings
from .common import add_command, add_setting

SERVE_OPTIONS = ("host", "port", "studies", "max_upload_mb", "request_timeout")


def cmd_serve(args) -> int:
    """a web page and JSON API: predict from drawings and photos, look inside, compare and browse runs

    Serves the runs given as RUN_DIR arguments, or every run in --runs-dir (default ./runs), at
    http://127.0.0.1:8000/ until interrupted; the API is described at /docs and /openapi.json.  It listens on
    this machine only unless --host says otherwise.  Needs the serve extra: pip install 'imgbench[serve]'.
    """
    try:
        from ..serve.app import create_app, serve
    except ImportError as exc:  # FastAPI or uvicorn missing
        raise ImgbenchError(f"imgbench serve needs the serve extra: pip install 'imgbench[serve]' ({exc})") from None
    from ..serve.paths import RunCatalog
    from ..serve.uploads import UploadLimits

    if args.run_dirs and args.runs_dir:
        raise ImgbenchError("give RUN_DIR arguments or --runs-dir, not both")
    catalog = RunCatalog(args.run_dirs or None, None if args.run_dirs else args.runs_dir or "runs")
    limits = UploadLimits(max_bytes=int(args.max_upload_mb * 1024 * 1024))
    serve(create_app(catalog, args.studies, limits, args.request_timeout), args.host, args.port)
    return 0


def register(sub) -> None:
    """``serve``."""
    p = add_command(sub, "serve", cmd_serve)
    p.add_argument("run_dirs", nargs="*", metavar="RUN_DIR", help="run directories to serve (or use --runs-dir)")
    add_setting(
        p, "runs_dir", definitions(RunSettings)["runs_dir"], help="serve every run in this folder (default ./runs)"
    )
    for option in SERVE_OPTIONS:
        add_setting(p, option, COMMAND_OPTIONS[option], own_default=True)

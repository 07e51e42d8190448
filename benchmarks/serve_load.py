"""Load on `imgbench serve`: N concurrent clients post one small PNG each, as fast as answers come back.

Starts `imgbench serve RUN_DIR...` on a free loopback port (or drives the server at --url), then for each run,
endpoint, runtime and client count keeps that many HTTP/1.1 keep-alive connections busy for --seconds (after
a warm-up second that is not counted) and prints requests per second and the 50th and 99th percentile
latency, one table row each.  Runtimes: ``engine`` (the run's own engine: NumPy, PyTorch or Keras) and
``onnx`` (ONNX Runtime on the run's export, predict only; export the run first with ``imgbench export RUN
--format onnx``).  The clients are asyncio sockets with the request bytes built once, so the load generator
costs little CPU beside the server on the same machine; the machine's load average before the run is
printed with the table, since other work on the cores changes the figures.

    python benchmarks/serve_load.py runs/mnist-cnn-small-numpy runs/mnist-cnn-small-torch \
        --clients 1,8 --seconds 10 --runtimes engine,onnx
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

BOUNDARY = "imgbench-load-boundary"
# One request per endpoint: "activations" as the page asks for the feature maps (float32 in base64),
# "activations-lists" as nested JSON lists (the API's default); explain asks about the middle of conv1's first map.
ENDPOINTS = {
    "predict": "predict?top_k=3",
    "activations": "activations?encoding=base64",
    "activations-lists": "activations",
    "explain": "explain?layer=conv1&channel=0&row=5&col=5",
}


def digit_png(side: int = 28) -> bytes:
    """A hand-drawn-looking 7 on black, side x side pixels, as PNG bytes."""
    from PIL import Image, ImageDraw

    im = Image.new("L", (side, side), 0)
    s = side / 28
    ImageDraw.Draw(im).line([(7 * s, 6 * s), (21 * s, 6 * s), (12 * s, 23 * s)], fill=255, width=max(1, round(2 * s)))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def request_bytes(host: str, path: str, png: bytes) -> bytes:
    """A complete multipart/form-data POST of ``png`` as the field 'image'."""
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="digit.png"\r\n'
            f"Content-Type: image/png\r\n\r\n"
        ).encode()
        + png
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _client(host: str, port: int, request: bytes, start: float, stop: float, latencies: list, errors: list):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop:
            t = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
            done = time.perf_counter()
            if done >= start:  # the warm-up is not counted
                (latencies if status == 200 else errors).append(done - t)
    finally:
        writer.close()


async def _load(host: str, port: int, request: bytes, clients: int, warmup: float, seconds: float):
    start = time.perf_counter() + warmup
    stop = start + seconds
    latencies: list[float] = []
    errors: list[float] = []
    await asyncio.gather(*(_client(host, port, request, start, stop, latencies, errors) for _ in range(clients)))
    return latencies, errors, time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen | None, log, seconds: float = 60) -> None:
    """Return once ``url`` answers; exit with the server's own messages (``log``) if it stopped or never answered."""
    deadline = time.time() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/runs", timeout=2) as r:
                r.read()
            return
        except OSError:
            stopped = server is not None and server.poll() is not None
            if stopped or time.time() > deadline:
                log.seek(0)
                sys.exit(f"serve_load: the server at {url} did not come up: {log.read().decode(errors='replace')}")
            time.sleep(0.2)


def _engine(run: Path) -> str:
    import yaml

    return str(yaml.safe_load((run / "config.yaml").read_text()).get("engine"))


def _rows(args, runs: list[Path]):
    """(run, engine, endpoint, runtime, path) of every row: ONNX Runtime answers predict requests only."""
    for run in runs:
        for endpoint in args.endpoints.split(","):
            for runtime in args.runtimes.split(","):
                if runtime == "engine" or endpoint == "predict":
                    sep = "&" if "?" in ENDPOINTS[endpoint] else "?"
                    path = f"/api/runs/{run.name}/{ENDPOINTS[endpoint]}" + (
                        f"{sep}runtime={runtime}" if runtime != "engine" else ""
                    )
                    yield run, _engine(run), endpoint, runtime, path


def open_run(host: str, port: int, request: bytes) -> None:
    """Send one request and wait for its answer: the server opens a run on its first request (seconds for a
    Keras run), which must not fall into a measured row."""
    with socket.create_connection((host, port), timeout=120) as conn:
        conn.sendall(request)
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(65536):
            pass


def _measure(args, url: str, runs: list[Path], png: bytes) -> None:
    """Print the table: one row per run, endpoint, runtime and client count."""
    host, port = url.split("//")[1].split(":")
    load = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"one {len(png)}-byte 28x28 PNG per request; {args.seconds:g} s a row after {args.warmup:g} s warm-up\n")
    print("| run | endpoint | runtime | clients | requests | req/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for run, engine, endpoint, runtime, path in _rows(args, runs):
        request = request_bytes(host, path, png)
        open_run(host, int(port), request.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n", 1))
        for clients in map(int, args.clients.split(",")):
            lat, errors, took = asyncio.run(_load(host, int(port), request, clients, args.warmup, args.seconds))
            ms = np.asarray(lat) * 1e3
            p50, p99 = (np.percentile(ms, 50), np.percentile(ms, 99)) if len(ms) else (float("nan"),) * 2
            rate = len(lat) / took
            shown = "ONNX Runtime" if runtime == "onnx" else f"{engine} engine"
            print(
                f"| {run.name} | {endpoint} | {shown} | {clients} | {len(lat)} | {rate:.0f} | {p50:.1f} | "
                f"{p99:.1f} | {len(errors)} |"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dirs", nargs="+", help="trained runs (cnn-small on MNIST for the published figures)")
    ap.add_argument("--url", help="drive this running server instead of starting one (it must serve the runs)")
    ap.add_argument("--clients", default="1,8", help="comma-separated numbers of concurrent clients")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured time per row")
    ap.add_argument("--warmup", type=float, default=1.0, help="seconds of load before each row is measured")
    ap.add_argument("--endpoints", default="predict,activations", help=f"some of {', '.join(ENDPOINTS)}")
    ap.add_argument("--runtimes", default="engine", help="engine (the run's own), onnx (ONNX Runtime), or both")
    args = ap.parse_args()
    runs = [Path(r) for r in args.run_dirs]
    names = [r.name for r in runs]
    if len(set(names)) < len(names):
        sys.exit(f"serve_load: the runs must have different folder names, found {names}")
    png = digit_png()
    # The server's messages go to a file, not a pipe: a pipe nobody reads would stop the server once full.
    with tempfile.TemporaryFile() as log:
        server = None
        url = args.url
        if url is None:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            cmd = [sys.executable, "-m", "imgbench", "serve", *map(str, runs), "--port", str(port)]
            server = subprocess.Popen(cmd, stderr=log)
        try:
            wait_until_up(url, server, log)
            _measure(args, url, runs, png)
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)


if __name__ == "__main__":
    main()

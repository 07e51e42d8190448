"""Downloads against a local HTTP server on 127.0.0.1 serving files the test generates."""

from __future__ import annotations

import hashlib
import http.server
import threading

import numpy as np
import pytest

from imgbench.data import load_dataset
from imgbench.data.catalog import DatasetInfo, RemoteFile
from imgbench.data.download import download_dataset, fetch
from imgbench.data.formats import idx
from imgbench.errors import DatasetNotFoundError, DownloadError

pytestmark = pytest.mark.network


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}

    def do_GET(self):  # noqa: N802 - http.server API
        kind, body = self.routes.get(self.path, ("404", b""))
        if kind == "403":
            self.send_error(403)
            return
        if kind == "404":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if kind == "truncated":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.routes = {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler.routes
    httpd.shutdown()
    httpd.server_close()


def _payload(tmp_path, name="train-labels-idx1-ubyte.gz"):
    src = tmp_path / "src" / name
    idx.write_idx(src, (np.arange(500) % 10).astype(np.uint8))
    data = src.read_bytes()
    return RemoteFile(name, hashlib.sha256(data).hexdigest()), data


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_good_file(server, tmp_path):
    url, routes = server
    rf, data = _payload(tmp_path)
    routes["/a/" + rf.name] = ("ok", data)
    path = fetch(rf, [url + "/a/"], tmp_path / "dl", progress=False)
    assert path.read_bytes() == data
    assert _leftovers(tmp_path / "dl") == [rf.name]


def test_wrong_checksum_leaves_nothing(server, tmp_path):
    url, routes = server
    rf, data = _payload(tmp_path)
    mid = len(data) // 2
    routes["/a/" + rf.name] = ("ok", data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1 :])
    with pytest.raises(DownloadError, match="checksum mismatch"):
        fetch(rf, [url + "/a/"], tmp_path / "dl", progress=False)
    assert _leftovers(tmp_path / "dl") == []


def test_truncated_transfer_leaves_nothing(server, tmp_path):
    url, routes = server
    rf, data = _payload(tmp_path)
    routes["/a/" + rf.name] = ("truncated", data)
    with pytest.raises(DownloadError, match=rf.name):
        fetch(rf, [url + "/a/"], tmp_path / "dl", progress=False)
    assert _leftovers(tmp_path / "dl") == []


def test_forbidden_mirror_falls_back_to_the_next(server, tmp_path):
    url, routes = server
    rf, data = _payload(tmp_path)
    routes["/first/" + rf.name] = ("403", b"")
    routes["/second/" + rf.name] = ("ok", data)
    path = fetch(rf, [url + "/first/", url + "/second/"], tmp_path / "dl", progress=False)
    assert path.read_bytes() == data


def test_every_mirror_failing_names_each(server, tmp_path):
    url, routes = server
    rf, _ = _payload(tmp_path)
    with pytest.raises(DownloadError) as exc:
        fetch(rf, [url + "/x/", url + "/y/"], tmp_path / "dl", progress=False)
    assert f"{url}/x/{rf.name}" in str(exc.value) and f"{url}/y/{rf.name}" in str(exc.value)


def test_whole_dataset_download_then_load(server, tmp_path, monkeypatch):
    """A full named-dataset download from a local mirror, then loading it."""
    url, routes = server
    files = []
    for split, n in (("train", 30), ("t10k", 10)):
        for kind, arr in (
            ("images-idx3", np.full((n, 28, 28), 9, np.uint8)),
            ("labels-idx1", (np.arange(n) % 10).astype(np.uint8)),
        ):
            name = f"{split}-{kind}-ubyte.gz"
            idx.write_idx(tmp_path / "src" / name, arr)
            data = (tmp_path / "src" / name).read_bytes()
            routes["/m/" + name] = ("ok", data)
            files.append(RemoteFile(name, hashlib.sha256(data).hexdigest()))
    info = DatasetInfo("mnist", "test", (1, 28, 28), tuple("0123456789"), files=tuple(files), mirrors=(url + "/m/",))
    folder = download_dataset(info, tmp_path / "root", progress=False)
    assert folder == tmp_path / "root" / "mnist"
    import imgbench.data.load as load_mod

    monkeypatch.setitem(load_mod.CATALOG, "mnist", info)
    ds = load_dataset("mnist", root=tmp_path / "root")
    assert len(ds.X_train) == 30 and ds.X_train.max() == 9


def test_failed_download_reports_search_dirs(server, tmp_path, monkeypatch):
    """Online but every mirror fails: the not-found message says so and lists the places."""
    url, _ = server
    import imgbench.data.load as load_mod
    from imgbench.data.catalog import MNIST

    monkeypatch.delenv("IMGBENCH_OFFLINE")
    monkeypatch.setitem(
        load_mod.CATALOG,
        "mnist",
        DatasetInfo("mnist", "t", MNIST.image_shape, MNIST.class_names, files=MNIST.files, mirrors=(url + "/none/",)),
    )
    with pytest.raises(DatasetNotFoundError, match="download failed") as exc:
        load_dataset("mnist", root=tmp_path / "r")
    assert str(tmp_path / "r" / "mnist") in str(exc.value)
    assert not any((tmp_path / "r" / "mnist").glob("*ubyte*"))

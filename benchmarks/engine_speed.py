"""One training epoch of the same model in the NumPy, PyTorch and Keras engines, on the same batches.

Usage: python benchmarks/engine_speed.py [--datasets ../shared/datasets] [--model cnn-small]
       [--batch-size 128] [--epochs 2] [--max-batches N] [--profile-batches 50] [--no-keras]
       python benchmarks/engine_speed.py --all-models [--models a,b] [--dataset mnist] [--max-batches 40]

``--all-models`` measures every zoo model that fits the dataset (or those ``--models`` names), NumPy
against PyTorch, each in a fresh process, and prints one table with seconds per epoch (extrapolated from
``--max-batches`` batches when given), the ratio and the NumPy engine's peak resident memory while it
trained (that model's alone, read before the test split is scored in batches of 1,000).

Both engines start from the same initial weights (copied from the NumPy model)
and train with Adam (lr 1e-3) on identical normalised batches from the shared
seeded BatchIterator.  Prints a table with seconds per epoch, images/s, test
accuracy after the epoch and the NumPy/PyTorch time ratio (measured side by
side in one run; the engines alternate epoch by epoch and the fastest epoch
of each counts, which damps this machine's noise), then the NumPy engine's
per-layer time profile.  The NumPy engine's first epoch runs before torch is
imported, so the peak resident memory reported is its own.

When Keras is installed, the Keras engine (imgbench's adapter: one compiled
``train_on_batch`` step per shared batch) trains the same epochs too, and a
plain ``model.fit`` epoch of the same Keras model on the same training
arrays runs beside it, so the adapter's overhead over idiomatic Keras is
measured in the same run (target: within 15%).  TensorFlow is imported last.
"""

from __future__ import annotations

import itertools
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before anything imports TensorFlow
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import numpy as np  # noqa: E402
from _common import training_parser  # noqa: E402

import imgbench  # noqa: E402,F401  (first: it configures OpenBLAS before NumPy loads)
from imgbench.data import BatchIterator, Normalizer, load_dataset  # noqa: E402
from imgbench.engines.numpy import Adam, NumpyModel, SoftmaxCrossEntropy  # noqa: E402
from imgbench.engines.numpy.engine import NumpyEngine  # noqa: E402
from imgbench.engines.numpy.profile import LayerProfiler  # noqa: E402
from imgbench.specs import build_spec  # noqa: E402


def engine_epoch(engine, batches):
    """An imgbench engine's own ``fit_batch`` over the batches: what ``imgbench train`` runs
    (for NumPy, half-batches on two cores when exact; for Keras, one compiled step per batch)."""
    t = time.perf_counter()
    n = 0
    for Xb, yb in batches:
        engine.fit_batch(Xb, yb)
        n += len(yb)
    return time.perf_counter() - t, n


def numpy_epoch(model, batches):
    """The plain serial step on a bare model (used for the per-layer profile)."""
    loss_fn = SoftmaxCrossEntropy()
    opt = Adam(model.parameters(), lr=1e-3)
    t = time.perf_counter()
    n = 0
    for Xb, yb in batches:
        model.zero_grad()
        loss_fn.forward(model.forward(Xb, training=True), yb)
        model.backward(loss_fn.backward())
        opt.step()
        n += len(yb)
    return time.perf_counter() - t, n


def numpy_accuracy(model, X, y, batch=1000):
    hits = sum(
        int((model.forward(X[i : i + batch]).argmax(1) == y[i : i + batch]).sum()) for i in range(0, len(X), batch)
    )
    return hits / len(X)


def torch_epoch(model, batches):
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    t = time.perf_counter()
    n = 0
    for Xb, yb in batches:
        xt, yt = torch.from_numpy(Xb), torch.from_numpy(yb)
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        n += len(yb)
    return time.perf_counter() - t, n


def torch_accuracy(model, X, y, batch=1000):
    import torch

    model.eval()
    with torch.no_grad():
        hits = sum(
            int((model(torch.from_numpy(X[i : i + batch])).argmax(1).numpy() == y[i : i + batch]).sum())
            for i in range(0, len(X), batch)
        )
    return hits / len(X)


def plain_fit_epoch(model, X_nhwc, onehot, batch_size, seed):
    """What a Keras user writes: one ``model.fit`` epoch over in-memory arrays, shuffled."""
    import keras

    keras.utils.set_random_seed(seed)
    t = time.perf_counter()
    model.fit(X_nhwc, onehot, batch_size=batch_size, epochs=1, shuffle=True, verbose=0)
    return time.perf_counter() - t


def keras_accuracy(engine, X, y):
    return float((engine.predict_logits(X, 1000).argmax(1) == y).mean())


def run_keras(args, spec, init_state, batches, X_train, y_train, X_test, y_test):
    """Times of the Keras engine and of plain ``model.fit``, alternating; None when Keras is missing."""
    try:
        import keras  # noqa: F401
    except ImportError:
        return None
    from imgbench.engines.keras.engine import KerasEngine
    from imgbench.engines.keras.layout import nchw_to_nhwc
    from imgbench.engines.keras.model import build_keras_model

    ours = KerasEngine(spec, seed=0, lr=1e-3)
    ours.load_state_dict(init_state)
    plain = build_keras_model(spec, seed=0)
    plain.compile(
        optimizer=keras.optimizers.Adam(1e-3, epsilon=1e-8), loss=keras.losses.CategoricalCrossentropy(from_logits=True)
    )
    n = args.max_batches * args.batch_size if args.max_batches else len(y_train)
    X_nhwc = np.ascontiguousarray(nchw_to_nhwc(X_train[:n]))
    onehot = np.eye(spec["num_classes"], dtype=np.float32)[y_train[:n]]
    # The first call of each traces and compiles its step function; keep that out of the timings.
    engine_epoch(ours, [next(iter(batches(99)))])
    plain.fit(X_nhwc[: args.batch_size], onehot[: args.batch_size], batch_size=args.batch_size, verbose=0)
    ours_times, plain_times, acc = [], [], None
    for epoch in range(args.epochs):
        ours_times.append(engine_epoch(ours, batches(epoch))[0])
        if acc is None:
            acc = keras_accuracy(ours, X_test, y_test)
        plain_times.append(plain_fit_epoch(plain, X_nhwc, onehot, args.batch_size, epoch))
    return {
        "ours": ours_times,
        "plain": plain_times,
        "acc": acc,
        "backend": keras.backend.backend(),
        "version": keras.__version__,
    }


def all_models(args) -> None:
    """Every zoo model that fits ``--dataset``, each measured in a fresh process (so its peak memory is its
    own): NumPy against PyTorch, same batches, alternating; one table."""
    import json
    import subprocess
    import tempfile

    from imgbench.specs import ZOO, SpecError, param_count

    ds = load_dataset(args.dataset, root=args.datasets, offline=True)
    shape, train_size = ds.image_shape, len(ds.y_train)
    rows = []
    models = args.models.split(",") if args.models else list(ZOO)
    unknown = [m for m in models if m not in ZOO]
    if unknown:
        sys.exit(f"engine_speed: error: --models: not zoo models: {', '.join(unknown)}")
    for model in models:
        try:
            params = param_count(build_spec(model, shape, ds.num_classes))
        except SpecError:
            continue  # does not fit these images
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            cmd = [sys.executable, __file__, "--model", model, "--dataset", args.dataset, "--datasets", args.datasets]
            cmd += ["--batch-size", str(args.batch_size), "--epochs", str(args.epochs), "--no-keras"]
            cmd += ["--max-batches", str(args.max_batches), "--profile-batches", "0", "--json", out.name]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            r = json.loads(Path(out.name).read_text())
        rows.append((model, params, r))
        print(f"{model}: numpy/torch {r['numpy'] / r['torch']:.2f}", file=sys.stderr, flush=True)
    n = rows[0][2]["images"] if rows else 0
    print(
        f"\nEvery zoo model on {args.dataset} ({'x'.join(map(str, shape))}): NumPy and PyTorch engines, batch "
        f"{args.batch_size}, Adam 1e-3, float32, the same {n} images ({args.max_batches or 'all'} batches) from the "
        f"same initial weights, engines alternating, fastest of {args.epochs}; seconds shown per "
        f"{train_size:,}-image epoch; load {os.getloadavg()[0]:.2f}\n"
    )
    print("| model | parameters | NumPy s / epoch | PyTorch s / epoch | NumPy / PyTorch | NumPy peak memory |")
    print("|---|---:|---:|---:|---:|---:|")
    for model, params, r in rows:
        per_epoch = train_size / r["images"]
        print(
            f"| `{model}` | {params:,} | {r['numpy'] * per_epoch:.1f} | {r['torch'] * per_epoch:.1f} | "
            f"{r['numpy'] / r['torch']:.2f} | {r['numpy_rss_mib']:.0f} MiB |"
        )


def main() -> None:
    ap = training_parser(__doc__)
    ap.add_argument("--epochs", type=int, default=2, help="epochs per engine, alternating")
    ap.add_argument("--max-batches", type=int, default=0, help="stop each epoch early (0: full epoch)")
    ap.add_argument("--profile-batches", type=int, default=50)
    ap.add_argument("--no-keras", action="store_true", help="skip the Keras engine and plain model.fit")
    ap.add_argument("--all-models", action="store_true", help="every zoo model, NumPy against PyTorch, one table")
    ap.add_argument("--models", help="with --all-models: only these zoo models, comma-separated")
    ap.add_argument("--json", help="write the timings to this file instead of printing them (--all-models uses it)")
    args = ap.parse_args()
    if args.all_models:
        all_models(args)
        return

    ds = load_dataset(args.dataset, root=args.datasets, offline=True)
    norm = Normalizer.fit(ds.X_train)
    X_test = norm(ds.X_test)
    spec = build_spec(args.model, ds.image_shape, ds.num_classes)
    it = BatchIterator(ds.X_train, ds.y_train, args.batch_size, seed=0, transform=norm)

    def batches(epoch=0):
        for i, b in enumerate(it.epoch(epoch)):
            if args.max_batches and i >= args.max_batches:
                return
            yield b

    from threadpoolctl import threadpool_info

    blas = [(i["internal_api"], i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]

    np_engine = NumpyEngine(spec, seed=0, lr=1e-3)
    np_model = np_engine.model
    init_state = {k: v.copy() for k, v in np_model.state_dict().items()}
    np_times = [engine_epoch(np_engine, batches(0))[0]]
    # Peak memory of training (KiB -> MiB on Linux), read before the evaluation's larger batches raise it.
    np_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    np_acc = numpy_accuracy(np_model, X_test, ds.y_test)

    import torch

    from imgbench.engines.torch import build_torch_model, load_numpy_state

    t_model = build_torch_model(spec)
    load_numpy_state(t_model, init_state)
    t_time, n = torch_epoch(t_model, batches(0))
    t_times = [t_time]
    t_acc = torch_accuracy(t_model, X_test, ds.y_test)
    for epoch in range(1, args.epochs):
        np_times.append(engine_epoch(np_engine, batches(epoch))[0])
        t_times.append(torch_epoch(t_model, batches(epoch))[0])
    np_time, t_time = min(np_times), min(t_times)
    if args.json:  # the file holds NumPy's and PyTorch's timings only, so Keras is not timed
        from imgbench.fileio import write_json

        write_json(
            Path(args.json),
            {"numpy": np_time, "torch": t_time, "images": n, "numpy_rss_mib": np_rss, "numpy_acc": np_acc},
        )
        return
    X_train = norm(ds.X_train)
    k = None if args.no_keras else run_keras(args, spec, init_state, batches, X_train, ds.y_train, X_test, ds.y_test)

    prof_model = NumpyModel(spec, seed=0)
    profiler = LayerProfiler(prof_model)
    prof_batches = list(itertools.islice(it.epoch(1), args.profile_batches))
    prof_time, _ = numpy_epoch(prof_model, prof_batches)

    print(
        f"{args.model} on {args.dataset}: epochs of {n} images, batch {args.batch_size}, Adam 1e-3, float32, "
        f"same initial weights and batches; fastest of {args.epochs} alternating epochs; accuracy after epoch 1"
    )
    print(f"{'engine':<10} {'seconds':>8} {'images/s':>9} {'test acc':>9}")
    print("-" * 40)

    def row(engine, seconds, acc, epochs):
        each = ", ".join(f"{t:.2f}" for t in epochs)
        print(f"{engine:<10} {seconds:>8.2f} {n / seconds:>9.0f} {acc:>9.4f}   epochs: {each}")

    row("numpy", np_time, np_acc, np_times)
    row("torch", t_time, t_acc, t_times)
    if k:
        ko, kp = min(k["ours"]), min(k["plain"])
        row("keras", ko, k["acc"], k["ours"])
        plain = ", ".join(f"{t:.2f}" for t in k["plain"])
        note = "(plain Keras, same model and arrays)"
        print(f"{'model.fit':<10} {kp:>8.2f} {n / kp:>9.0f} {'':>9}   epochs: {plain}   {note}")
    print(f"\nratio numpy / torch: {np_time / t_time:.2f}  (target <= 2.0)")
    if k:
        print(
            f"keras engine overhead over plain model.fit: {100 * (ko / kp - 1):+.1f}%  (target: within 15%; "
            f"Keras {k['version']} on {k['backend']})"
        )
    print(f"numpy engine peak resident memory: {np_rss:.0f} MiB (target < 1024)")
    print(f"threads: BLAS {blas}, torch {torch.get_num_threads()}, CPUs {os.cpu_count()}")

    mode = "half-batches on two cores" if np_engine.half_step is not None else "serial step"
    print(f"numpy engine step: {mode}")
    print(f"\nNumPy per-layer time over {len(prof_batches)} batches, serial step on the whole batch (ms per batch):")
    print(f"{'layer':<10} {'forward':>8} {'backward':>9} {'share':>6}")
    table = profiler.table()
    total = sum(f + b for _, f, b in table)
    nb = len(prof_batches)
    for name, f, b in table:
        print(f"{name:<10} {f / nb * 1e3:>8.2f} {b / nb * 1e3:>9.2f} {(f + b) / total:>6.1%}")
    rest = prof_time - total
    print(f"{'(loss+opt)':<10} {rest / nb * 1e3:>8.2f} {'':>9} {rest / prof_time:>6.1%} of the step")


if __name__ == "__main__":
    main()

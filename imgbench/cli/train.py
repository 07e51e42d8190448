"""``imgbench train|evaluate|predict``: one run."""

from __future__ import annotations

from .common import add_command, add_run_args, print_json

TRAIN_FLAGS = {  # CLI flag -> (where in RunSettings, type)
    "dataset": ("dataset", str),
    "root": ("root", str),
    "model": ("model", str),
    "engine": ("engine", str),
    "name": ("name", str),
    "runs_dir": ("runs_dir", str),
    "image_size": ("image_size", int),
    "device": ("device", str),
    "threads": ("threads", int),
    "deterministic": ("deterministic", bool),
    "precision": ("precision", str),
    "early_stopping": ("early_stopping", str),
    "patience": ("patience", int),
    "quiet": ("quiet", bool),
    "epochs": ("train.epochs", int),
    "batch_size": ("train.batch_size", int),
    "lr": ("train.lr", float),
    "optimizer": ("train.optimizer", str),
    "schedule": ("train.schedule", str),
    "warmup_steps": ("train.warmup_steps", int),
    "weight_decay": ("train.weight_decay", float),
    "label_smoothing": ("train.label_smoothing", float),
    "augment": ("train.augment", bool),
    "val_split": ("train.val_split", float),
    "seed": ("train.seed", int),
    "max_steps": ("train.max_steps", int),
}


def cmd_train(args) -> int:
    """train a model; writes a run directory

    Train a zoo model (or a spec file) with an engine. Every run writes runs/<name>/ with config.yaml,
    env.json, history.csv, metrics.json, weights/ and plots/.
    """
    from ..runs.runner import load_settings, resume_run, train_run

    if args.resume:
        resume_run(args.resume)
        return 0
    # Flags left out are None: --config (or the defaults) decides those.
    train_run(load_settings(args.config, {target: getattr(args, flag) for flag, (target, _) in TRAIN_FLAGS.items()}))
    return 0


def cmd_evaluate(args) -> int:
    """recompute a run's metrics from its saved weights"""
    from ..runs.runner import evaluate_run

    m = evaluate_run(args.run_dir, split=args.split, weights=args.weights)
    if args.json:
        print_json(m)
        return 0
    print(f"{args.run_dir}: {m['split']} split, {m['num_examples']} images, weights {m['weights']}")
    print(
        f"accuracy {m['accuracy']:.4f}"
        + "".join(f"  top-{k} {m[f'top{k}_accuracy']:.4f}" for k in (3, 5) if f"top{k}_accuracy" in m)
    )
    print(f"macro     precision {m['precision_macro']:.4f}  recall {m['recall_macro']:.4f}  F1 {m['f1_macro']:.4f}")
    print(
        f"weighted  precision {m['precision_weighted']:.4f}  recall {m['recall_weighted']:.4f}  "
        f"F1 {m['f1_weighted']:.4f}"
    )
    print(
        f"log loss {m['log_loss']:.4f}  parameters {m['param_count']:,}  "
        f"throughput {m['throughput_images_per_s']:,.0f} images/s (batch {m['batch_size']})  "
        f"latency {m['latency_ms']:.2f} ms/image"
    )
    width = max(5, *(len(n) for n in m["per_class"]))
    print(f"\n{'class':<{width}}  precision  recall      F1  support")
    for name, c in m["per_class"].items():
        print(f"{name:<{width}}  {c['precision']:9.4f}  {c['recall']:6.4f}  {c['f1']:6.4f}  {c['support']:7d}")
    return 0


def cmd_predict(args) -> int:
    """classify your own images with a trained run

    Classify PNG/JPEG/WebP/BMP images of any size, grey or colour. Each image is converted to look like the
    training data (MNIST-style digits are inverted if needed, cropped to the ink, fitted into 20x20 and
    centred by centre of mass in 28x28).
    """
    from ..runs.predict import predict_images

    results = predict_images(args.run_dir, args.images, top_k=args.top_k, weights=args.weights)
    if args.json:
        print_json(results)
        return 0
    for r in results:
        alternatives = ", ".join(f"{t['label']} {t['probability']:.3f}" for t in r["top_k"][1:])
        print(
            f"{r['path']}: {r['label']} ({r['probability']:.3f})" + (f"   then {alternatives}" if alternatives else "")
        )
    return 0


def register(sub) -> None:
    """``train``, ``evaluate`` and ``predict``."""
    p = add_command(sub, "train", cmd_train)
    p.add_argument("--dataset", help="mnist, fashion-mnist, cifar10, digits, folder:PATH or csv:PATH (default digits)")
    p.add_argument("--root", metavar="DIR", help="directory searched first for named datasets")
    p.add_argument("--model", help="zoo name (see 'imgbench models') or a YAML/JSON spec file (default mlp)")
    p.add_argument("--engine", choices=["numpy", "torch", "keras"], help="default numpy")
    p.add_argument("--epochs", type=int, help="default 5")
    p.add_argument("--batch-size", type=int, help="default 64")
    p.add_argument("--lr", type=float, help="peak learning rate (default 5e-3)")
    p.add_argument("--optimizer", choices=["sgd", "adam", "adamw"], help="default adam")
    p.add_argument("--schedule", choices=["constant", "step", "cosine", "onecycle"], help="default onecycle")
    p.add_argument("--warmup-steps", type=int, help="linear warm-up steps for the cosine schedule")
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--augment", action="store_true", default=None, help="random crop/flip (colour) or shift/rotate")
    p.add_argument("--val-split", type=float, help="fraction of train held out for validation (default 0.1)")
    p.add_argument("--seed", type=int, help="seeds Python, NumPy, torch and TensorFlow (default 0)")
    p.add_argument("--max-steps", type=int, help="stop after N optimisation steps (dry run)")
    p.add_argument("--early-stopping", choices=["val_loss", "val_acc"], help="stop when this stops improving")
    p.add_argument("--patience", type=int, help="epochs without improvement before early stopping (default 5)")
    p.add_argument("--name", help="run name (a numeric suffix is added on clashes)")
    p.add_argument("--runs-dir", help="where run directories go (default ./runs)")
    p.add_argument("--image-size", type=int, help="resize folder images to NxN")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], help="torch engine device")
    p.add_argument("--threads", type=int, help="torch engine CPU threads")
    p.add_argument("--deterministic", action="store_true", default=None, help="deterministic torch kernels")
    p.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16", "fp16"],
        help="torch engine arithmetic: auto (default: bf16 autocast on CUDA, fp32 on the CPU), "
        "fp32, bf16 (mixed precision; about 1.7x faster on CPUs with AVX-512 BF16 or AMX), fp16 (GPU)",
    )
    p.add_argument("--quiet", action="store_true", default=None, help="no progress output")
    p.add_argument("--config", metavar="CONFIG_YAML", help="a run's config.yaml: rerun it (flags override)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last epoch")

    p = add_command(sub, "evaluate", cmd_evaluate)
    add_run_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add_command(sub, "predict", cmd_predict)
    add_run_args(p, split=False)
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--top-k", type=int, default=3, help="how many labels to show (default 3)")
    p.add_argument("--json", action="store_true", help="one object per image, with its path")

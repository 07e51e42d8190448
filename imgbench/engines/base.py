"""The engine adapter: the one contract every engine (NumPy, PyTorch, Keras, ...) meets.

The training loop, runs, figures and reports talk to an engine only through
:class:`Engine`.  Everything crossing this boundary is NumPy, in imgbench's
one internal layout:

- images ``X``: ``float32``, NCHW ``(N, C, H, W)`` (or ``(N, F)`` for flat inputs),
  already normalised; labels ``y``: ``int64``, shape ``(N,)``;
- logits: ``float32``, ``(N, num_classes)``;
- weights: a flat ``{name: array}`` dict whose names (``conv1.weight``,
  ``res2.sc.bn1.running_var``) and layouts (conv kernels ``(out, in, kh, kw)``,
  dense kernels ``(out, in)``) are the same in every engine, so weights copy
  between engines without a mapping table.

An engine that computes in another layout (Keras is NHWC) converts at its own
boundary.  Engines never import each other, and a framework is imported only
when its engine is created (:data:`ENGINES` holds module paths, not modules).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import os
import pickle
import sys
import warnings
import zipfile
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

from ..errors import ImgbenchError

Array = npt.NDArray[Any]
PathLike = str | os.PathLike[str]


@runtime_checkable
class Engine(Protocol):
    """What the training loop, runs and figures need from an engine.

    Attributes: ``name`` (the registry key) and ``spec`` (the resolved spec it was built from).
    """

    name: str
    spec: dict[str, Any]

    def fit_batch(self, X: Array, y: Array) -> tuple[float, int]:
        """One optimisation step in training mode on a batch.

        Returns the batch's mean loss (label smoothing included) and its number of
        correct arg-max predictions, both computed from the forward pass of this step.
        """
        ...

    def predict_logits(self, X: Array, batch_size: int = 256) -> Array:
        """Logits ``(N, num_classes)`` float32 in evaluation mode (dropout off, BatchNorm running statistics).

        ``N == 0`` gives an empty ``(0, num_classes)`` array.
        """
        ...

    def activations(self, X: Array, layer_names: Sequence[str] | None = None) -> dict[str, Array]:
        """Outputs of the named top-level spec layers (all when ``None``) in evaluation mode.

        Arrays are float32 in the internal layout: ``(N, C, H, W)`` for feature maps, ``(N, F)`` otherwise.
        """
        ...

    def input_gradient(self, X: Array, classes: Sequence[int] | Array) -> Array:
        """``d logits[n, classes[n]] / d X[n]`` in evaluation mode (saliency), shaped like ``X``.

        Leaves no accumulated parameter gradient behind.
        """
        ...

    def attention_maps(self, X: Array) -> dict[str, Array]:
        """The attention probabilities of every multi-head self-attention for ``X``, in evaluation mode.

        Keys are the attentions' weight prefixes (``mha1``, ``block2.self_attn``) in the order the forward
        pass meets them; values are float32 ``(N, heads, T, T)``, row ``i`` of a head the weights its query
        token ``i`` gives every key token (each row sums to 1).  A model without attention gives ``{}``.
        """
        ...

    def param_count(self) -> int:
        """Trainable parameters (equal for the same spec in every engine)."""
        ...

    def state_dict(self) -> dict[str, Array]:
        """Parameters and buffers under the shared names and layouts, as NumPy arrays (copies or C-contiguous)."""
        ...

    def load_state_dict(self, state: Mapping[str, Array]) -> None:
        """Copy a :meth:`state_dict` (of this engine or any other) into the model; names and shapes must match."""
        ...

    def set_lr(self, lr: float) -> None:
        """The learning rate for the following steps (schedules call this every step)."""
        ...

    def freeze(self, layers: Collection[str]) -> None:
        """Train only the layers not named in ``layers`` (spec layer names; nested ones included by prefix).

        A frozen layer keeps its weights byte for byte, and a frozen BatchNorm normalises with its running
        statistics and leaves them as they are.  The optimiser starts afresh over the layers that train (no
        state carried over, as Keras's recompile does).  An empty ``layers`` trains every layer again.
        """
        ...

    def reseed(self, seed: int, epoch: int) -> None:
        """Reseed the engine's own random streams (dropout) from ``(seed, epoch)`` only.

        Called at the start of every epoch, so a resumed run draws the same masks as an uninterrupted one.
        """
        ...

    def save(self, path: PathLike) -> None:
        """Write the weights to ``path`` (suffix :attr:`EngineInfo.weight_suffix`) atomically, with no pickle."""
        ...

    def load(self, path: PathLike) -> None:
        """Load weights written by :meth:`save`; a file that does not fit is an :class:`ImgbenchError`."""
        ...

    def save_checkpoint(self, path: PathLike) -> None:
        """Write weights and optimiser state to ``path`` (and files beside it), each atomically."""
        ...

    def load_checkpoint(self, path: PathLike) -> None:
        """Restore what :meth:`save_checkpoint` wrote, so training continues bit for bit."""
        ...


# The optimiser names every engine implements, with the same update rules (PyTorch's).
OPTIMIZERS: dict[str, str] = {
    "sgd": "SGD with momentum (optionally Nesterov) and L2 weight decay",
    "adam": "Adam with L2 weight decay added to the gradient",
    "adamw": "AdamW with decoupled weight decay",
}
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda", "mps")

T = TypeVar("T")


def pick_optimizer(table: Mapping[str, T], name: str) -> T:
    """``table[name]`` for an optimiser name; an unknown name is an :class:`ImgbenchError` listing the choices.

    Each engine keeps one table from :data:`OPTIMIZERS`'s names to its own constructors.
    """
    if name not in OPTIMIZERS:
        raise ImgbenchError(f"unknown optimizer '{name}': expected one of {', '.join(OPTIMIZERS)}")
    return table[name]


def resolve_precision(precision: str, on_gpu: bool, supported: tuple[str, ...] = ("fp32", "bf16", "fp16")) -> str:
    """The arithmetic an engine trains in for ``--precision``: ``auto`` is bf16 on a GPU and fp32 on the CPU (so
    CPU runs stay comparable with the NumPy engine); fp16 needs a GPU; ``supported`` are the engine's own."""
    if precision == "auto":
        precision = "bf16" if on_gpu else "fp32"
    if precision not in PRECISIONS:
        raise ImgbenchError(f"unknown precision '{precision}': expected {', '.join(PRECISIONS)}")
    if precision == "fp16" and not on_gpu:
        raise ImgbenchError("--precision fp16 needs a GPU; on the CPU use bf16 (or fp32)")
    if precision not in supported:
        raise ImgbenchError(f"--precision {precision}: this engine trains in {' or '.join(supported)}")
    return precision


@dataclass(frozen=True)
class EngineOptions:
    """Training options every engine accepts; an engine ignores (with a warning) those outside its ``uses``."""

    seed: int = 0
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    nesterov: bool = False
    label_smoothing: float = 0.0
    device: str = "auto"
    threads: int | None = None
    deterministic: bool = False
    precision: str = "auto"


OPTION_NAMES = tuple(f.name for f in dataclasses.fields(EngineOptions))
_TRAINING = ("seed", "optimizer", "lr", "weight_decay", "momentum", "nesterov", "label_smoothing")


def engine_options(options: EngineOptions | None, overrides: Mapping[str, Any]) -> EngineOptions:
    """``options`` with keyword ``overrides`` applied; a key that is no option is an :class:`ImgbenchError`.

    Every engine's constructor takes ``(spec, options=None, *, <its extras>, **overrides)`` and calls this,
    so ``NumpyEngine(spec, seed=3, lr=0.1)`` and ``create_engine("numpy", spec, EngineOptions(...))`` agree.
    """
    unknown = sorted(set(overrides) - set(OPTION_NAMES))
    if unknown:
        raise ImgbenchError(f"unknown engine option {', '.join(unknown)}: expected some of {', '.join(OPTION_NAMES)}")
    merged = dataclasses.replace(options or EngineOptions(), **overrides)
    pick_optimizer(OPTIMIZERS, merged.optimizer)  # the same error for every engine
    return merged


@dataclass(frozen=True)
class EngineInfo:
    """One registry line: where an engine lives and what it needs."""

    name: str
    module: str  # imported on first use, so torch and TensorFlow load only when their engine is created
    cls: str
    weight_suffix: str
    requires: str  # the install hint when the framework is missing
    framework: str | None = None  # the module whose absence means "not installed"
    environ: dict[str, str] = field(default_factory=dict)  # defaults set before the first import
    quiet_import: bool = False  # silence native stderr while the framework starts (TensorFlow's INFO lines)
    uses: tuple[str, ...] = _TRAINING  # the EngineOptions it honours; others warn when set
    # Whether --weight-decay works with sgd and adam (L2 on every parameter, as PyTorch applies it); an engine
    # that only has decoupled decay (adamw) refuses rather than silently train something different.
    coupled_weight_decay: bool = True


ENGINES: dict[str, EngineInfo] = {
    "numpy": EngineInfo("numpy", "imgbench.engines.numpy.engine", "NumpyEngine", ".npz", ""),
    "torch": EngineInfo(
        "torch",
        "imgbench.engines.torch.engine",
        "TorchEngine",
        ".pt",
        "the torch engine needs PyTorch: pip install -c constraints.txt -e '.[torch]'",
        framework="torch",
        uses=OPTION_NAMES,
    ),
    "keras": EngineInfo(
        "keras",
        "imgbench.engines.keras.engine",
        "KerasEngine",
        ".weights.h5",
        "the keras engine needs Keras 3 and TensorFlow: pip install -c constraints.txt -e '.[keras]'",
        framework="keras",
        # TensorFlow's start-up INFO lines are noise in a CLI.
        environ={"KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"},
        quiet_import=True,
        # Keras's weight_decay is decoupled; PyTorch-style L2 would need a custom train step per backend.
        coupled_weight_decay=False,
        uses=(*_TRAINING, "precision"),
    ),
}


def weight_decay_problem(engine: str, optimizer: str, weight_decay: float) -> str | None:
    """Why ``engine`` cannot train with ``weight_decay`` under ``optimizer`` (None when it can): checked by
    :func:`~imgbench.settings.check_run` before a run starts and by the engine itself."""
    if weight_decay and optimizer in ("sgd", "adam") and not ENGINES[engine].coupled_weight_decay:
        return (
            f"the {engine} engine supports weight decay only with optimizer adamw (decoupled); "
            f"'{optimizer}' with weight decay {weight_decay:g} would differ from the other engines"
        )
    return None


WEIGHT_SUFFIX: dict[str, str] = {name: info.weight_suffix for name, info in ENGINES.items()}


def engine_info(name: str) -> EngineInfo:
    """The registry line of an engine; an unknown name is an :class:`ImgbenchError` listing the engines."""
    if name not in ENGINES:
        raise ImgbenchError(f"unknown engine '{name}': expected one of {', '.join(ENGINES)}")
    return ENGINES[name]


@contextlib.contextmanager
def _native_stderr_silenced(active: bool) -> Iterator[None]:
    """Send file descriptor 2 to /dev/null while a framework starts.

    TensorFlow 2.21 logs INFO lines (oneDNN, CUDA probing) through absl before
    its logging is initialised, ignoring TF_CPP_MIN_LOG_LEVEL; in a CLI they
    bury the output.  Python exceptions are unaffected: they propagate and are
    printed after stderr is restored.
    """
    if not active:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def engine_class(name: str) -> Callable[..., Engine]:
    """The engine's class, importing its framework now (and only now)."""
    info = engine_info(name)
    for key, value in info.environ.items():
        os.environ.setdefault(key, value)
    first = info.framework is not None and info.framework not in sys.modules
    with _native_stderr_silenced(info.quiet_import and first):
        if info.framework is not None:
            try:
                importlib.import_module(info.framework)
            except ImportError:
                raise ImgbenchError(info.requires) from None
        cls: Callable[..., Engine] = getattr(importlib.import_module(info.module), info.cls)
    return cls


def create_engine(name: str, spec: dict[str, Any], options: EngineOptions | None = None, **kwargs: Any) -> Engine:
    """An engine for a resolved spec.

    ``options`` holds the common options; keywords named like :class:`EngineOptions`' fields override
    them, and an engine's own keyword options (the NumPy engine's ``half_batches``, the torch engine's
    ``channels_last``) pass through to its constructor.  Anything else is an :class:`ImgbenchError`, so
    a misspelt option never passes silently.  Options the engine does not use warn when they are set.
    """
    info = engine_info(name)
    common = {k: v for k, v in kwargs.items() if k in OPTION_NAMES}
    merged = engine_options(options, common)  # validated before any framework loads
    default = EngineOptions()
    ignored = [k for k in OPTION_NAMES if k not in info.uses and getattr(merged, k) != getattr(default, k)]
    if ignored:
        settings = ", ".join(f"{k}={getattr(merged, k)!r}" for k in ignored)
        warnings.warn(f"the {name} engine ignores {settings}", stacklevel=2)
    extras = {k: v for k, v in kwargs.items() if k not in OPTION_NAMES}
    return engine_class(name)(spec, merged, **extras)


# What damaged, truncated or foreign weight files raise in NumPy, torch.load, zipfile and h5py.
_LOAD_ERRORS = (OSError, ValueError, KeyError, EOFError, RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile)


@contextlib.contextmanager
def reading_weights(path: PathLike, what: str) -> Iterator[None]:
    """Turn any failure to read or fit ``path`` into one :class:`ImgbenchError` that names the file."""
    try:
        yield
    except ImgbenchError:
        raise
    except _LOAD_ERRORS as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImgbenchError(f"{path}: cannot load {what} ({detail})") from None


def in_layers(name: str, layers: Collection[str]) -> bool:
    """Whether the layer or parameter-holding module ``name`` (``res1.bn1``, ``block1.norm1``) is one of
    ``layers`` or nested inside one; :meth:`Engine.freeze` decides with it in every engine."""
    return any(name == layer or name.startswith(layer + ".") for layer in layers)


def zero_logits(num_classes: int) -> Array:
    """The ``(0, num_classes)`` float32 logits of an empty batch."""
    return np.zeros((0, num_classes), np.float32)

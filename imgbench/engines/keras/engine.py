"""The Keras 3 engine behind the common adapter protocol (TensorFlow backend unless KERAS_BACKEND says otherwise)."""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import ImgbenchError
from ...specs import walk
from ..base import (
    EngineOptions,
    engine_options,
    in_layers,
    pick_optimizer,
    reading_weights,
    resolve_precision,
    weight_decay_problem,
    zero_logits,
)
from .layout import nchw_to_nhwc, nhwc_to_nchw
from .model import DTYPE_POLICIES, _TransformerBlock, build_keras_model, keras, keras_name
from .weights import get_numpy_state, param_layers, set_numpy_state

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

    # TensorFlow looks for GPUs when it first places an op, and a CUDA-enabled build on a machine without one
    # logs "failed call to cuInit" at ERROR level then (TF_CPP_MIN_LOG_LEVEL 2 lets it through).  Looking now,
    # while engine_class() has this import's stderr silenced, keeps that line out of the CLI's output.
    tf.config.list_physical_devices("GPU")

# One constructor per name in engines.base.OPTIMIZERS: the Keras twins of the other engines'.
_OPTIMIZERS = {
    "sgd": lambda o: keras.optimizers.SGD(learning_rate=o.lr, momentum=o.momentum, nesterov=o.nesterov),
    "adam": lambda o: keras.optimizers.Adam(learning_rate=o.lr, epsilon=1e-8),
    "adamw": lambda o: keras.optimizers.AdamW(learning_rate=o.lr, weight_decay=o.weight_decay, epsilon=1e-8),
}


def make_optimizer(options: EngineOptions) -> Any:
    """The Keras optimiser ``options.optimizer``; L2 weight decay (sgd, adam) is refused
    (:func:`~imgbench.engines.base.weight_decay_problem`)."""
    problem = weight_decay_problem("keras", options.optimizer, options.weight_decay)
    if problem:
        raise ImgbenchError(problem)
    return pick_optimizer(_OPTIMIZERS, options.optimizer)(options)


class KerasEngine:
    """The Keras 3 engine behind :class:`~imgbench.engines.base.Engine` (training options only; no device choice).

    Inputs arrive NCHW like every engine's; they are converted to NHWC here and
    feature maps are converted back, so callers never see Keras's layout.
    """

    name = "keras"

    def __init__(self, spec: dict, options: EngineOptions | None = None, **overrides: Any):
        options = engine_options(options, overrides)
        self.spec = spec
        self.num_classes = spec["num_classes"]
        self.precision = resolve_precision(options.precision, _gpu_visible(), tuple(DTYPE_POLICIES))
        self.model = build_keras_model(spec, options.seed, self.precision)
        self._probes: dict[tuple[str, ...], Any] = {}  # activations' multi-output models, by layer names
        # Counted now: freezing a layer makes its weights non-trainable, but they are still the model's.
        self._param_count = int(sum(np.prod(w.shape) for w in self.model.trainable_weights))
        self.options = options
        self._compile()
        self.device = keras.backend.backend()

    def _compile(self) -> None:
        """A fresh optimiser, compiled with the loss: Keras reads which weights train when it compiles."""
        self.optimizer = make_optimizer(self.options)
        self.model.compile(
            optimizer=self.optimizer,
            loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=self.options.label_smoothing),
            metrics=[keras.metrics.CategoricalAccuracy(name="acc")],
        )

    def _x(self, X: np.ndarray) -> np.ndarray:
        return nchw_to_nhwc(X) if X.ndim == 4 else X

    def set_lr(self, lr: float) -> None:
        self.optimizer.learning_rate.assign(float(lr))

    def freeze(self, layers) -> None:
        """``trainable = False`` for the named layers (a frozen BatchNormalization runs in inference mode),
        then a fresh optimiser and a new compile."""
        for layer_spec, _ in param_layers(self.spec):
            self.model.get_layer(keras_name(layer_spec["name"])).trainable = not in_layers(layer_spec["name"], layers)
        self._compile()

    def fit_batch(self, X: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        """One optimisation step (Keras's compiled train step); mean loss and correct predictions."""
        onehot = np.eye(self.num_classes, dtype=np.float32)[y]
        logs = self.model.train_on_batch(self._x(X), onehot, return_dict=True)
        return float(logs["loss"]), int(round(float(logs["acc"]) * len(y)))

    def predict_logits(self, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Logits in inference mode (dropout off, BatchNorm moving statistics)."""
        if len(X) == 0:
            return zero_logits(self.num_classes)
        return np.concatenate(
            [
                np.asarray(self.model.predict_on_batch(self._x(X[i : i + batch_size])))
                for i in range(0, len(X), batch_size)
            ]
        )

    def activations(self, X: np.ndarray, layer_names=None) -> dict[str, np.ndarray]:
        """Outputs of the named top-level layers (all if None), converted to NCHW / (N, F)."""
        names = [l["name"] for l in self.spec["layers"] if layer_names is None or l["name"] in layer_names]
        # One probe per set of layers, kept: it shares the model's layers (and so its current weights), and
        # building a Model and tracing its predict function again on every call cost about 45 ms a call,
        # which a served page asking for feature maps on every stroke felt.
        probe = self._probes.get(tuple(names))
        if probe is None:
            probe = keras.Model(self.model.inputs, [self.model.get_layer(keras_name(n)).output for n in names])
            if len(self._probes) >= 8:
                self._probes.clear()
            self._probes[tuple(names)] = probe
        outs = probe.predict_on_batch(self._x(X))
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        return {n: nhwc_to_nchw(np.asarray(o, dtype=np.float32)) for n, o in zip(names, outs, strict=True)}

    def attention_maps(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Each attention's probabilities ``(N, heads, T, T)``, recomputed with ``return_attention_scores``
        from the input of every attention layer and transformer block (one probe model gives the inputs)."""
        layers = _attention_layers(self.model, self.spec)
        if not layers:
            return {}
        probe = keras.Model(self.model.inputs, [_first_input(layer) for layer in layers.values()])
        inputs = probe.predict_on_batch(self._x(X))
        inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        return {
            key: np.asarray(_attention_probabilities(layer, x), dtype=np.float32)
            for (key, layer), x in zip(layers.items(), inputs, strict=True)
        }

    def input_gradient(self, X: np.ndarray, classes) -> np.ndarray:
        """``d logits[n, classes[n]] / d X[n]`` in inference mode (saliency), NCHW like ``X``.

        Needs the TensorFlow backend (``tf.GradientTape``); other Keras backends are refused.
        """
        if keras.backend.backend() != "tensorflow":
            raise ImgbenchError(
                f"saliency with the keras engine needs the TensorFlow backend, not '{keras.backend.backend()}'"
            )
        import tensorflow as tf

        x = tf.convert_to_tensor(self._x(X))
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = self.model(x, training=False)
            chosen = tf.gather(logits, tf.constant(np.asarray(classes)[:, None]), batch_dims=1)
        return nhwc_to_nchw(tape.gradient(chosen, x).numpy().astype(np.float32, copy=False))

    def param_count(self) -> int:
        return self._param_count

    def state_dict(self) -> dict[str, np.ndarray]:
        return get_numpy_state(self.model, self.spec)

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        set_numpy_state(self.model, self.spec, dict(state))

    def reseed(self, seed: int, epoch: int) -> None:
        """Reseed the layers' seed generators (dropout) from (seed, epoch).

        Only the generators' state variables are assigned, not TensorFlow's global seed
        (``keras.utils.set_random_seed``): a new global seed makes TensorFlow trace the train and predict
        functions again, about 0.2 s every epoch (2.5 of a quick-study cnn-tiny run's 4.4 training seconds), and
        every random draw in training goes through these generators anyway.
        """
        base = (seed * 100_003 + epoch) % 2**31
        # The layer's index, not hash(name): str hashes are salted per process, and a resumed
        # run must draw the same masks in a new process.
        for i, layer in enumerate(self.model.layers):
            gen = getattr(layer, "seed_generator", None)
            if gen is not None:
                gen.state.assign(np.array([base + i, 0], dtype=gen.state.dtype))

    def save(self, path) -> None:
        """Weights in Keras's own ``.weights.h5`` format, written atomically.

        h5py, under Keras's ``save_weights``, kills the whole process when the disk fills during a write (a
        segmentation fault, seen on a full tmpfs).  So Keras writes into a staging folder in memory where there is
        room (``/dev/shm``), and imgbench copies the bytes to ``path`` with its own atomic writer, whose full or
        read-only disk is an ordinary ``OSError``: one error line, and the last committed epoch stays.
        """
        from ...fileio import atomic_write_bytes

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="imgbench-keras-", dir=_staging_folder(self.param_count())) as tmp:
            staged = Path(tmp) / "weights.weights.h5"
            self.model.save_weights(staged, overwrite=True)
            data = staged.read_bytes()
        atomic_write_bytes(path, data)

    def load(self, path) -> None:
        """Load ``.weights.h5`` written by :meth:`save`."""
        with reading_weights(path, "Keras weights for this model"), warnings.catch_warnings():
            # The file also holds the optimiser's variables, which Keras skips with a warning when the
            # optimiser is not built yet.  imgbench restores them from optimizer.npz (load_checkpoint),
            # so the warning would be false.
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            self.model.load_weights(str(path))

    def save_checkpoint(self, path) -> None:
        """Weights (``.weights.h5``) plus the optimiser's variables beside them (``optimizer.npz``)."""
        from ...fileio import atomic_write

        self.save(path)
        arrays: dict[str, Any] = {f"v{i:04d}": np.asarray(v) for i, v in enumerate(self.optimizer.variables)}
        with atomic_write(Path(path).with_name("optimizer.npz"), "wb") as fh:
            np.savez(fh, **arrays)

    def load_checkpoint(self, path) -> None:
        self.load(path)
        if not self.optimizer.built:
            self.optimizer.build(self.model.trainable_variables)
        state = Path(path).with_name("optimizer.npz")
        with reading_weights(state, "Keras optimiser state"), np.load(state, allow_pickle=False) as z:
            values = [z[k] for k in sorted(z.files)]
        if len(values) != len(self.optimizer.variables):
            raise ImgbenchError(f"{path}: optimiser state does not fit this model")
        for var, value in zip(self.optimizer.variables, values, strict=True):
            var.assign(value)


if TYPE_CHECKING:  # mypy holds the class to the adapter protocol
    from ..base import Engine

    def _conforms(engine: KerasEngine) -> Engine:
        return engine


def _gpu_visible() -> bool:
    """Whether the Keras backend has a GPU to train on (TensorFlow's device list; other backends: no)."""
    return keras.backend.backend() == "tensorflow" and bool(tf.config.list_physical_devices("GPU"))


def _attention_layers(model: Any, spec: dict) -> dict[str, Any]:
    """The Keras layers whose input fixes an attention (attention layers, transformer blocks) in graph order,
    keyed by the attention's state-dict prefix (``mha1``, ``block2.self_attn``) as in the other engines."""
    names = {keras_name(layer["name"]): layer["name"] for layer in walk(spec["layers"])}
    found = {}
    for layer in model.layers:
        if isinstance(layer, _TransformerBlock):
            found[f"{names[layer.name]}.self_attn"] = layer
        elif isinstance(layer, keras.layers.MultiHeadAttention):
            found[names[layer.name]] = layer
    return found


def _first_input(layer: Any) -> Any:
    """The symbolic tensor a layer was first called on (an attention layer is called on (query, value))."""
    given = layer.input
    return given[0] if isinstance(given, (list, tuple)) else given


def _attention_probabilities(layer: Any, x: np.ndarray) -> Any:
    """``(N, heads, T, T)`` attention probabilities of a layer from :func:`_attention_layers` given its input."""
    if isinstance(layer, _TransformerBlock):
        layer, x = layer.self_attn, layer.norm1(x)  # pre-norm: the attention reads norm1(x)
    return layer(x, x, return_attention_scores=True)[1]


def _staging_folder(params: int) -> str | None:
    """``/dev/shm`` when it exists, is writable and has ample room for a weights file of ``params`` float32
    values; else None (the system's temporary folder)."""
    shm = "/dev/shm"
    try:
        room = os.path.isdir(shm) and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 64e6 + 8 * params
    except OSError:
        room = False
    return shm if room else None

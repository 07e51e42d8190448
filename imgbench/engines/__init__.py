"""Engines build a model from a spec behind one adapter protocol.

``numpy`` (from scratch), ``torch`` and ``keras``.  Every engine offers ``fit_batch``,
``predict_logits``, ``activations``, ``state_dict`` / ``load_state_dict``,
``save`` / ``load``, ``save_checkpoint`` / ``load_checkpoint``, ``reseed``,
``set_lr``, ``input_gradient`` (saliency) and ``param_count``.  Engines never import each other; torch and
TensorFlow are imported only when their engine is created.
"""

from __future__ import annotations

import contextlib
import os
import sys

from ..errors import ImgbenchError

ENGINES = ("numpy", "torch", "keras")
WEIGHT_SUFFIX = {"numpy": ".npz", "torch": ".pt", "keras": ".weights.h5"}


@contextlib.contextmanager
def _native_stderr_silenced(active: bool):
    """Send file descriptor 2 to /dev/null while TensorFlow starts.

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


def create_engine(name: str, spec: dict, **options):
    """An engine instance for a resolved spec; ``options`` are the engine's keyword arguments."""
    if name == "numpy":
        from .numpy.engine import NumpyEngine

        options = {k: v for k, v in options.items() if k not in ("device", "threads", "deterministic", "precision")}
        return NumpyEngine(spec, **options)
    if name == "torch":
        try:
            import torch  # noqa: F401
        except ImportError:
            raise ImgbenchError(
                "the torch engine needs PyTorch: pip install -c constraints.txt -e '.[torch]'"
            ) from None
        from .torch.engine import TorchEngine

        return TorchEngine(spec, **options)
    if name == "keras":
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with _native_stderr_silenced("keras" not in sys.modules):
            try:
                import keras  # noqa: F401
            except ImportError:
                raise ImgbenchError(
                    "the keras engine needs Keras 3 and TensorFlow: pip install -c constraints.txt -e '.[keras]'"
                ) from None
            from .keras.engine import KerasEngine

            return KerasEngine(spec, **options)
    raise ImgbenchError(f"unknown engine '{name}': expected one of {', '.join(ENGINES)}")

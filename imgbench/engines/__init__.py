"""Engines build a model from a spec behind one adapter protocol.

``numpy`` (from scratch), ``torch`` and ``keras``.  Every engine offers ``fit_batch``,
``predict_logits``, ``activations``, ``state_dict`` / ``load_state_dict``,
``save`` / ``load``, ``save_checkpoint`` / ``load_checkpoint``, ``reseed``,
``set_lr`` and ``param_count``.  Engines never import each other; torch and
TensorFlow are imported only when their engine is created.
"""

from __future__ import annotations

import os

from ..errors import ImgbenchError

ENGINES = ("numpy", "torch", "keras")
WEIGHT_SUFFIX = {"numpy": ".npz", "torch": ".pt", "keras": ".weights.h5"}


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
            raise ImgbenchError("the torch engine needs PyTorch: pip install -c constraints.txt -e '.[torch]'") from None
        from .torch.engine import TorchEngine

        return TorchEngine(spec, **options)
    if name == "keras":
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads: its INFO lines are noise
        try:
            import keras  # noqa: F401
        except ImportError:
            raise ImgbenchError("the keras engine needs Keras 3 and TensorFlow: "
                                "pip install -c constraints.txt -e '.[keras]'") from None
        from .keras.engine import KerasEngine

        return KerasEngine(spec, **options)
    raise ImgbenchError(f"unknown engine '{name}': expected one of {', '.join(ENGINES)}")

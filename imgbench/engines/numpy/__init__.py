"""The from-scratch NumPy engine: layers, loss, optimisers and a model built from a spec.

Every layer class is re-exported here from its family module (each lists
its layers in ``__all__``), so a new layer needs no edit in this file.
"""

from ...mathops import log_softmax
from . import activations, attention, conv, layers, norm, tokens
from .activations import *  # noqa: F403
from .attention import *  # noqa: F403
from .conv import *  # noqa: F403
from .layers import *  # noqa: F403
from .losses import SoftmaxCrossEntropy
from .model import Concat, NumpyModel, Residual, Sequential
from .norm import *  # noqa: F403
from .optim import OPTIMIZERS, SGD, Adam, AdamW
from .teaching import conv2d, max_pool2d
from .tokens import *  # noqa: F403

__all__ = [
    *activations.__all__,
    *attention.__all__,
    *conv.__all__,
    *layers.__all__,
    *norm.__all__,
    *tokens.__all__,
    "Adam",
    "AdamW",
    "Concat",
    "NumpyModel",
    "OPTIMIZERS",
    "Residual",
    "SGD",
    "Sequential",
    "SoftmaxCrossEntropy",
    "conv2d",
    "log_softmax",
    "max_pool2d",
]

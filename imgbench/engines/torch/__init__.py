"""The PyTorch engine (imported only when used)."""

from .engine import TorchEngine, pick_device
from .model import build_torch_model, load_numpy_state, numpy_state

__all__ = ["TorchEngine", "build_torch_model", "load_numpy_state", "numpy_state", "pick_device"]

"""The PyTorch engine (imported only when used)."""

from .model import build_torch_model, load_numpy_state, numpy_state

__all__ = ["build_torch_model", "load_numpy_state", "numpy_state"]

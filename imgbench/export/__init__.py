"""Export a run's model as an ONNX or LiteRT file, verified against the engine before it is kept."""

from .exporter import export_run
from .formats import QUANTIZE

__all__ = ["QUANTIZE", "export_run"]

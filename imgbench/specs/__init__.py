"""Architectures as plain data, framework-free; parameter counts computed here."""

from .spec import SpecError, layer_table, layer_types, load_spec_file, param_count, resolve, to_json
from .zoo import ZOO, build_spec

__all__ = [
    "SpecError",
    "ZOO",
    "build_spec",
    "layer_table",
    "layer_types",
    "load_spec_file",
    "param_count",
    "resolve",
    "to_json",
]

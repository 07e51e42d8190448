"""Architectures as plain data, framework-free: the layer registry, resolution, parameter counts, the zoo."""

from .keys import SpecError
from .layerdef import LayerDef
from .layers import LAYERS, is_convolutional, layer_def, mixes_batch, types_with, walk
from .spec import layer_table, layer_types, load_spec_file, output_shape, param_count, resolve, to_json
from .zoo import ZOO, build_spec

__all__ = [
    "LAYERS",
    "LayerDef",
    "SpecError",
    "ZOO",
    "build_spec",
    "is_convolutional",
    "layer_def",
    "layer_table",
    "layer_types",
    "load_spec_file",
    "mixes_batch",
    "output_shape",
    "param_count",
    "resolve",
    "to_json",
    "types_with",
    "walk",
]

"""Model knobs: ``spec.<layer>.<key>`` sets one key of a named layer of the model's resolved spec.

The zoo builds a model for the data's shape, so a knob is applied to the
resolved spec of that build (layers are named ``dense1``, ``conv2``, ... as a
run's config.yaml records them) and the result is resolved again: the
layer registry checks the value and the shapes that follow from it.  The
trial's run then trains that spec, recorded in its config.yaml like any
``--config`` file's ``spec:``.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from typing import Any

from ..errors import ImgbenchError, did_you_mean
from ..kinds import SettingError
from ..settings import RunSettings
from ..specs import SpecError, build_spec, resolve, walk
from .space import CHECKED_COMBINATIONS, KNOB, Space, with_params

DataShape = tuple[Sequence[int], int]  # (image_shape, num_classes) of the data the trials train on


def with_knobs(spec: dict[str, Any], knobs: dict[str, Any]) -> dict[str, Any]:
    """A copy of the resolved ``spec`` with each knob's key set, resolved again; a :class:`SpecError` if not."""
    spec = copy.deepcopy(spec)
    layers = {layer["name"]: layer for layer in walk(spec["layers"])}
    for name, value in knobs.items():
        _, layer_name, key = name.split(".")
        layer = layers.get(layer_name)
        if layer is None:
            raise SpecError(
                f"{name}: model '{spec['name']}' has no layer '{layer_name}'{did_you_mean(layer_name, layers)}; "
                f"its layers are {', '.join(layers)}"
            )
        settable = [k for k in layer if k not in ("type", "name", "output_shape")]
        if key not in settable:
            raise SpecError(
                f"{name}: a {layer['type']} layer has no key '{key}'{did_you_mean(key, settable)}; "
                f"it takes {', '.join(settable) or 'no keys'}"
            )
        layer[key] = value
    return resolve(spec)


def trial_settings(base: RunSettings, params: dict[str, Any], data: DataShape) -> RunSettings:
    """The run settings of one trial: ``base`` with ``params``; knobs give the run a spec of its own."""
    settings = with_params(base, params)
    knobs = {k: v for k, v in params.items() if k.startswith(KNOB)}
    if knobs:
        settings.spec = with_knobs(build_spec(settings.model, *data), knobs)
    return settings


def check_fit(space: Space, base: RunSettings) -> DataShape:
    """Load the data once; every model the space may choose must fit it, at every knob's extremes.

    Returns the data's ``(image_shape, num_classes)``.  A model or knob that does not fit is a
    :class:`SettingError` naming the space's file and the key, before any trial starts.
    """
    from ..data import load_dataset

    ds = load_dataset(base.dataset, base.root, image_size=base.image_size)
    data: DataShape = (ds.image_shape, ds.num_classes)
    knobs = space.knobs
    for model in space.models:
        try:
            spec = build_spec(model, *data)
        except ImgbenchError as exc:
            raise SettingError(f"{space.source}: model {model}: {exc}") from None
        combinations = itertools.product(*(k.extremes for k in knobs))  # one empty point when there are none
        for values in itertools.islice(combinations, CHECKED_COMBINATIONS):
            point = dict(zip((k.name for k in knobs), values, strict=True))
            try:
                with_knobs(spec, point)
            except SpecError as exc:
                at = ", ".join(f"{k} {v!r}" for k, v in point.items())
                raise SettingError(f"{space.source}: space: with model {model} and {at}: {exc}") from None
    return data

"""Start a run from another run's weights (``--init-from``), with a new classification head where needed.

The engines share weight names and layouts (:mod:`imgbench.engines.base`), so a
NumPy run's weights start a Keras run without a mapping table.  The head (the
last dense layer) keeps the new model's own initial weights, drawn from the
run's seed, when the class count differs or ``--new-head`` asks for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..engines.pretrained import read_weights_file
from ..errors import ImgbenchError
from ..training.phases import head_layer


def source_weights(source: str | Path, spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """The weights ``--init-from`` names: a run directory's kept weights (weights/best) or a weights file."""
    path = Path(source)
    if path.is_dir():
        from .runner import open_run  # local: the runner imports this module

        _, engine, _ = open_run(path)
        return engine.state_dict()
    return read_weights_file(path, spec)


def initialise_from(engine: Any, source: Mapping[str, np.ndarray], where: str, new_head: bool = False) -> list[str]:
    """Copy ``source`` into ``engine``; returns the names left at their initial values (the new head's).

    Every name of the model must be in ``source`` with its shape, but the head's when it is new; anything
    else is one :class:`ImgbenchError` that lists the missing and unexpected names and the shapes that differ.
    """
    own = engine.state_dict()
    head = head_layer(engine.spec)
    head_keys = {k for k in own if k.rpartition(".")[0] == head}
    if not new_head:  # a head of another shape (another class count) is new too
        new_head = any(k in source and np.shape(source[k]) != own[k].shape for k in head_keys)
    fresh = head_keys if new_head else set()
    missing = sorted(set(own) - set(source) - fresh)
    unexpected = sorted(k for k in set(source) - set(own) if not (new_head and k.rpartition(".")[0] == head))
    shapes = [
        f"{k} {tuple(np.shape(source[k]))} (the model's {own[k].shape})"
        for k in sorted(set(own) & set(source) - fresh)
        if np.shape(source[k]) != own[k].shape
    ]
    if missing or unexpected or shapes:
        problems = [
            f"{what}: {', '.join(names[:8])}{' ...' if len(names) > 8 else ''}"
            for what, names in (("missing", missing), ("unexpected", unexpected), ("other shape", shapes))
            if names
        ]
        raise ImgbenchError(
            f"--init-from {where}: the weights do not fit {engine.spec['name']} "
            f"({'; '.join(problems)}); give a run or file of the same model"
        )
    engine.load_state_dict({k: own[k] if k in fresh else np.asarray(source[k]) for k in own})
    return sorted(fresh)

"""Which layers train in which epoch: freezing and the two-phase fine-tuning schedule.

A run with ``--freeze`` keeps the matched layers frozen for every epoch.  With
``--unfreeze-after N`` it trains in two phases:

1. epochs 1..N: only the unfrozen layers train (without ``--freeze``: only the
   head, the last dense layer), at the schedule's learning rate scaled to peak
   at ``--head-lr`` (``--lr`` when not given);
2. epochs N+1..: every layer trains, at :data:`FINE_TUNE_LR_SCALE` times the
   schedule's learning rate, so the pretrained layers move in small steps.

One schedule spans the whole run; a phase only scales it.  Each phase starts a
fresh optimiser over the layers that train (:meth:`Engine.freeze`), so the
engines agree whatever their optimisers do with parameters that had no step.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ImgbenchError
from ..specs import LAYERS, walk

FINE_TUNE_LR_SCALE = 0.1  # the second phase's share of the scheduled learning rate


def parameter_layers(spec: dict[str, Any]) -> list[str]:
    """Names of the spec's layers that hold weights (nested ones included), in order: what ``--freeze`` matches."""
    return [layer["name"] for layer in walk(spec["layers"]) if LAYERS[layer["type"]].has_params]


def head_layer(spec: dict[str, Any]) -> str:
    """The classification head: the last top-level dense layer (it produces the logits in every zoo model)."""
    dense = [layer["name"] for layer in spec["layers"] if layer["type"] == "dense"]
    if not dense:
        raise ImgbenchError(f"{spec['name']} has no dense layer, so it has no classification head to train")
    return dense[-1]


@dataclass(frozen=True)
class Phases:
    """The frozen layers of the first phase (of every epoch when ``unfreeze_after`` is 0) and the lr factors."""

    frozen: frozenset[str]
    unfreeze_after: int = 0
    first_lr_scale: float = 1.0

    def two_phase(self, epoch: int) -> bool:
        """Whether ``epoch`` (from 0) is in the second phase."""
        return 0 < self.unfreeze_after <= epoch

    def lr_scale(self, epoch: int) -> float:
        """The factor on the scheduled learning rate in ``epoch``."""
        return FINE_TUNE_LR_SCALE if self.two_phase(epoch) else self.first_lr_scale

    def begins(self, epoch: int) -> bool:
        """Whether a phase starts with ``epoch``: its layers are frozen and a fresh optimiser made then."""
        return epoch == 0 or epoch == self.unfreeze_after

    def apply(self, engine: Any, epoch: int) -> None:
        """Freeze the layers of ``epoch``'s phase in ``engine`` (a fresh optimiser over the others)."""
        engine.freeze(set() if self.two_phase(epoch) else self.frozen)


def plan_phases(
    spec: dict[str, Any], freeze: Sequence[str] | None, unfreeze_after: int, head_lr: float | None, lr: float
) -> Phases | None:
    """The phases of a run, or None when it trains every layer throughout (the loop is then unchanged).

    A ``freeze`` pattern that matches no layer, or patterns that leave nothing to train, are an
    :class:`ImgbenchError` naming the model's layers.
    """
    if not freeze and not unfreeze_after:
        return None
    layers = parameter_layers(spec)
    frozen: set[str] = set()
    for pattern in freeze or ():
        matched = fnmatch.filter(layers, pattern)
        if not matched:
            raise ImgbenchError(
                f"--freeze {pattern}: no layer of {spec['name']} has that name; its layers with weights are "
                f"{', '.join(layers)}"
            )
        frozen.update(matched)
    if not freeze:
        head = head_layer(spec)
        frozen = {name for name in layers if name != head}
    if frozen >= set(layers):
        raise ImgbenchError(
            f"--freeze {','.join(freeze or ())} freezes every layer of {spec['name']}, so nothing would train"
        )
    scale = head_lr / lr if head_lr is not None else 1.0
    return Phases(frozenset(frozen), unfreeze_after, scale)

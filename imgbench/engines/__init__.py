"""Engines build a model from a spec behind one adapter protocol (:class:`~imgbench.engines.base.Engine`).

``numpy`` (from scratch), ``torch`` and ``keras``, registered in :data:`~imgbench.engines.base.ENGINES`.
Engines never import each other; torch and TensorFlow are imported only when their engine is created.
"""

from __future__ import annotations

from .base import (
    ENGINES,
    OPTIMIZERS,
    WEIGHT_SUFFIX,
    Engine,
    EngineInfo,
    EngineOptions,
    create_engine,
    engine_info,
    pick_optimizer,
)

__all__ = [
    "ENGINES",
    "OPTIMIZERS",
    "WEIGHT_SUFFIX",
    "Engine",
    "EngineInfo",
    "EngineOptions",
    "create_engine",
    "engine_info",
    "pick_optimizer",
]

"""Learning-rate schedules, framework-free: ``lr(step)`` for step 0, 1, ..., total-1.

The training loop sets the engine's learning rate from the schedule before
every step, so the NumPy, PyTorch and Keras engines follow the same curve.
"""

from __future__ import annotations

import math


class Schedule:
    """Base: a constant learning rate."""

    def __init__(self, lr: float, total_steps: int = 1):
        self.base_lr, self.total_steps = float(lr), max(1, int(total_steps))

    def __call__(self, step: int) -> float:
        return self.base_lr


class Constant(Schedule):
    """``lr`` throughout."""


class Step(Schedule):
    """Multiply by ``gamma`` every ``step_size`` steps (default: a third of training)."""

    def __init__(self, lr, total_steps, gamma: float = 0.1, step_size: int | None = None):
        super().__init__(lr, total_steps)
        self.gamma = gamma
        self.step_size = step_size or max(1, self.total_steps // 3)

    def __call__(self, step):
        return self.base_lr * self.gamma ** (step // self.step_size)


class Cosine(Schedule):
    """Linear warm-up over ``warmup`` steps, then cosine decay to ``min_lr`` at the last step."""

    def __init__(self, lr, total_steps, warmup: int = 0, min_lr: float = 0.0):
        super().__init__(lr, total_steps)
        self.warmup, self.min_lr = int(warmup), float(min_lr)

    def __call__(self, step):
        if step < self.warmup:
            return self.base_lr * (step + 1) / self.warmup
        span = max(1, self.total_steps - self.warmup - 1)
        progress = min(1.0, (step - self.warmup) / span)
        return self.min_lr + 0.5 * (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * progress))


class OneCycle(Schedule):
    """Smith's one-cycle: linear rise from ``lr/div`` to ``lr`` over ``pct`` of training, then cosine
    decay to ``lr/final_div``."""

    def __init__(self, lr, total_steps, pct: float = 0.3, div: float = 25.0, final_div: float = 1e4):
        super().__init__(lr, total_steps)
        self.up = max(1, int(pct * self.total_steps))
        self.start, self.end = self.base_lr / div, self.base_lr / final_div

    def __call__(self, step):
        if step < self.up:
            return self.start + (self.base_lr - self.start) * step / self.up
        progress = min(1.0, (step - self.up) / max(1, self.total_steps - self.up - 1))
        return self.end + 0.5 * (self.base_lr - self.end) * (1 + math.cos(math.pi * progress))


SCHEDULES = {"constant": Constant, "step": Step, "cosine": Cosine, "onecycle": OneCycle}


def make_schedule(name: str, lr: float, total_steps: int, **kw) -> Schedule:
    """A schedule by name: constant, step, cosine (with ``warmup``), onecycle."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule '{name}': expected one of {', '.join(SCHEDULES)}")
    return SCHEDULES[name](lr, total_steps, **kw)

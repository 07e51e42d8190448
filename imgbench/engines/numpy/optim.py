r"""Optimisers over (parameter, gradient) pairs, updating parameters in place.

Update rules follow PyTorch's ``torch.optim`` exactly, so the two engines
take identical steps from identical gradients.  Each class states its rule for
a parameter :math:`p` with accumulated gradient :math:`\nabla_p L`, learning rate
:math:`\eta` (``lr``) and weight decay :math:`\lambda` (``weight_decay``).

The learning rate ``lr`` is an attribute a schedule may change between steps.
"""

from __future__ import annotations

import numpy as np


class Optimizer:
    """Base class holding the (name, parameter, gradient) triples it updates."""

    def __init__(self, params, lr: float, weight_decay: float = 0.0):
        self.params = list(params)
        self.lr, self.weight_decay = float(lr), float(weight_decay)
        self.t = 0
        self.state: dict[str, dict[str, np.ndarray]] = {}

    def step(self) -> None:
        """Apply one update using the gradients currently accumulated."""
        self.t += 1
        for name, p, g in self.params:
            self._update(name, p, g, self.state.setdefault(name, {}))

    def _update(self, name, p, g, state):
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """Flat dict of arrays (saved in .npz for resuming)."""
        out = {"__t": np.asarray(self.t), "__lr": np.asarray(self.lr)}
        for name, st in self.state.items():
            for k, v in st.items():
                out[f"{name}/{k}"] = v
        return out

    def load_state_dict(self, d: dict) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.t, self.lr = int(d["__t"]), float(d["__lr"])
        self.state = {}
        for key, v in d.items():
            if key.startswith("__"):
                continue
            name, k = key.rsplit("/", 1)
            self.state.setdefault(name, {})[k] = np.array(v)


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional momentum, Nesterov and L2 weight decay.

    With :math:`g = \nabla_p L + \lambda p`, momentum :math:`\mu` and its buffer :math:`b \leftarrow \mu b + g`
    (:math:`b = g` on the first step), the step is :math:`p \leftarrow p - \eta\, u` with :math:`u = g + \mu b`
    (Nesterov), :math:`u = b` (momentum) or :math:`u = g` (neither).
    """

    def __init__(
        self, params, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0
    ):
        super().__init__(params, lr, weight_decay)
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.momentum, self.nesterov = momentum, nesterov

    def _update(self, name, p, g, state):
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            if "momentum" not in state:
                state["momentum"] = g.copy()
            else:
                buf = state["momentum"]
                buf *= self.momentum
                buf += g
            buf = state["momentum"]
            g = g + self.momentum * buf if self.nesterov else buf
        p -= p.dtype.type(self.lr) * g


class Adam(Optimizer):
    r"""Adam (Kingma and Ba) with L2 weight decay added to the gradient.

    With :math:`g = \nabla_p L + \lambda p`, step number :math:`t` and ``betas`` :math:`(\beta_1, \beta_2)`:

    .. math:: m \leftarrow \beta_1 m + (1 - \beta_1)\, g, \quad v \leftarrow \beta_2 v + (1 - \beta_2)\, g^2, \quad
       p \leftarrow p - \frac{\eta}{1 - \beta_1^t} \cdot \frac{m}{\sqrt{v} / \sqrt{1 - \beta_2^t} + \epsilon}
    """

    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.b1, self.b2 = betas
        self.eps = eps

    def _update(self, name, p, g, state):
        if self.weight_decay:
            if self.decoupled:
                p *= p.dtype.type(1 - self.lr * self.weight_decay)
            else:
                g = g + self.weight_decay * p
        if "m" not in state:
            state["m"], state["v"] = np.zeros_like(p), np.zeros_like(p)
        m, v = state["m"], state["v"]
        m *= self.b1
        m += (1 - self.b1) * g
        v *= self.b2
        v += (1 - self.b2) * (g * g)
        bc1, bc2 = 1 - self.b1**self.t, 1 - self.b2**self.t
        denom = np.sqrt(v) / np.sqrt(bc2) + self.eps
        p -= p.dtype.type(self.lr / bc1) * (m / denom)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov and Hutter).

    First :math:`p \leftarrow (1 - \eta \lambda)\, p`, then :class:`Adam`'s update with :math:`g = \nabla_p L`.
    """

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(params, lr, betas, eps, weight_decay)


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW}

r"""Optimisers over (parameter, gradient) pairs, updating parameters in place.

Update rules follow PyTorch's ``torch.optim`` exactly, so the two engines
take identical steps from identical gradients.  Each class states its rule for
a parameter :math:`p` with accumulated gradient :math:`\nabla_p L`, learning rate
:math:`\eta` (``lr``) and weight decay :math:`\lambda` (``weight_decay``).

The learning rate ``lr`` is an attribute a schedule may change between steps.
"""

from __future__ import annotations

import numpy as np

from .parallel import split_run


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
        self._work: tuple[np.ndarray, np.ndarray] | None = None  # scratch of _scratch(), reused every step

    def _update(self, name, p, g, state):
        if self.weight_decay:
            if self.decoupled:
                p *= p.dtype.type(1 - self.lr * self.weight_decay)
            else:
                g = g + self.weight_decay * p
        if "m" not in state:
            state["m"], state["v"] = np.zeros_like(p), np.zeros_like(p)
        m, v = state["m"], state["v"]
        bc1, bc2 = 1 - self.b1**self.t, 1 - self.b2**self.t
        step, root_bc2 = p.dtype.type(self.lr / bc1), np.sqrt(bc2)  # np.float64: the denominator is float64
        arrays = (p, g, m, v)
        if not all(a.flags.c_contiguous for a in arrays):  # flat views below would be copies
            self._rule(arrays, step, root_bc2, np.empty_like(p), np.empty(p.shape))
            return
        flat = [a.reshape(-1) for a in arrays]
        work, work64 = self._scratch(p.size, p.dtype)

        def part(a: int, b: int) -> None:
            self._rule([x[a:b] for x in flat], step, root_bc2, work[a:b], work64[a:b])

        # About ten passes over each element, all elementwise: halves on two threads give the same numbers.
        split_run(p.size, part, 10 * p.size)

    def _rule(self, arrays, step, root_bc2, work: np.ndarray, work64: np.ndarray) -> None:
        """The update written in place into scratch arrays, the same operations in the same order (and
        precisions) as ``m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
        p -= step * m / (sqrt(v) / sqrt(bc2) + eps)``: a fresh temporary for each would cost more than
        the arithmetic (a new buffer's pages fault in on first touch)."""
        p, g, m, v = arrays
        m *= self.b1
        np.multiply(g, 1 - self.b1, out=work)
        m += work
        v *= self.b2
        np.multiply(g, g, out=work)
        work *= 1 - self.b2
        v += work
        np.sqrt(v, out=work)
        np.divide(work, root_bc2, out=work64)
        work64 += self.eps
        np.divide(m, work64, out=work64)
        work64 *= step
        p -= work64

    def _scratch(self, n: int, dtype) -> tuple[np.ndarray, np.ndarray]:
        """Reused work arrays of at least ``n`` elements: one of the parameters' dtype, one float64."""
        held = self._work
        if held is None or held[0].size < n or held[0].dtype != dtype:
            held = self._work = (np.empty(n, dtype=dtype), np.empty(n))
        return held[0][:n], held[1][:n]


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov and Hutter).

    First :math:`p \leftarrow (1 - \eta \lambda)\, p`, then :class:`Adam`'s update with :math:`g = \nabla_p L`.
    """

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(params, lr, betas, eps, weight_decay)


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW}

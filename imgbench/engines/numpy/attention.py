"""Multi-head self-attention and the pre-norm transformer encoder block, on (N, T, D) tokens.

Parameter names and shapes are PyTorch's (``nn.MultiheadAttention`` and
``nn.TransformerEncoderLayer``), so weights copy between the engines as they
are.  Each docstring gives the forward formula, then the backward one.
"""

from __future__ import annotations

import numpy as np

from ...mathops import softmax
from ...specs.tokens import mlp_width
from .activations import GELU
from .init import initialise
from .layers import Builder, Dense, Layer
from .norm import LayerNorm

__all__ = ["MultiHeadAttention", "TransformerBlock"]


class MultiHeadAttention(Layer):
    r"""Multi-head self-attention: every token attends to every token of its example, in H heads of width d = D/H.

    ``in_proj_weight`` :math:`W_\mathrm{in}` (3D, D) stacks the query, key and value weights
    :math:`W_q, W_k, W_v` and ``in_proj_bias`` :math:`b_\mathrm{in}` (3D,) their biases;
    ``out_proj.weight`` :math:`W_\mathrm{out}` (D, D) and ``out_proj.bias`` :math:`b_\mathrm{out}` project the heads
    back.  Per example, with :math:`X` (T, D):

    Forward:  :math:`[Q\; K\; V] = X W_\mathrm{in}^\top + b_\mathrm{in}`, each split into H heads of (T, d);
    in each head

    .. math:: S = \frac{Q K^\top}{\sqrt d}, \quad A = \mathrm{softmax}(S), \quad O = A V

    with the softmax along each row (over the keys); the heads side by side again give (T, D),
    and :math:`Y = O W_\mathrm{out}^\top + b_\mathrm{out}`.

    Backward: :math:`dW_\mathrm{out} \mathrel{+}= dY^\top O`, :math:`db_\mathrm{out} \mathrel{+}= \sum dY`,
    :math:`dO = dY\, W_\mathrm{out}`; in each head

    .. math:: dA = dO\, V^\top, \quad dV = A^\top dO, \quad
       dS = A \odot \left(dA - \mathrm{rowsum}(dA \odot A)\right), \quad
       dQ = \frac{dS\, K}{\sqrt d}, \quad dK = \frac{dS^\top Q}{\sqrt d}

    (:math:`dS` is the softmax's Jacobian applied to :math:`dA`); then with :math:`G = [dQ\; dK\; dV]` (heads joined):
    :math:`dW_\mathrm{in} \mathrel{+}= G^\top X`, :math:`db_\mathrm{in} \mathrel{+}= \sum G`,
    :math:`dX = G\, W_\mathrm{in}`.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        *,
        init: str = "glorot_uniform",
        rng: np.random.Generator | None = None,
        name: str = "",
    ):
        super().__init__(name)
        if dim % heads:
            raise ValueError(f"{heads} heads do not divide the token width {dim}")
        rng = rng or np.random.default_rng(0)
        self.heads = heads
        # Each of the four D x D projections drawn on its own, so each gets its own fans.
        self._add_param("in_proj_weight", np.concatenate([initialise(init, (dim, dim), rng) for _ in range(3)]))
        self._add_param("in_proj_bias", np.zeros(3 * dim, np.float32))
        self._add_param("out_proj.weight", initialise(init, (dim, dim), rng))
        self._add_param("out_proj.bias", np.zeros(dim, np.float32))

    def forward(self, x, *, training=False):
        n, t, d = x.shape
        h = self.heads
        qkv = x @ self.params["in_proj_weight"].T + self.params["in_proj_bias"]  # (N, T, 3D)
        q, k, v = qkv.reshape(n, t, 3, h, d // h).transpose(2, 0, 3, 1, 4)  # each (N, H, T, d)
        scale = x.dtype.type(1.0 / np.sqrt(d // h))
        a = softmax((q @ k.swapaxes(-1, -2)) * scale, axis=-1)  # (N, H, T, T): row i weighs the keys for query i
        o = (a @ v).transpose(0, 2, 1, 3).reshape(n, t, d)  # the heads side by side again
        self.cache = (x, q, k, v, a, o)
        return o @ self.params["out_proj.weight"].T + self.params["out_proj.bias"]

    @property
    def probabilities(self) -> np.ndarray:
        """:math:`A` of the last forward pass, (N, H, T, T): row i of a head weighs the keys for query i."""
        return self.cache[4]

    def backward(self, dy):
        x, q, k, v, a, o = self.cache
        n, t, d = x.shape
        h = self.heads
        scale = dy.dtype.type(1.0 / np.sqrt(d // h))
        self.grads["out_proj.weight"] += dy.reshape(-1, d).T @ o.reshape(-1, d)
        self.grads["out_proj.bias"] += dy.sum(axis=(0, 1))
        do = (dy @ self.params["out_proj.weight"]).reshape(n, t, h, d // h).transpose(0, 2, 1, 3)
        da = do @ v.swapaxes(-1, -2)
        dv = a.swapaxes(-1, -2) @ do
        ds = a * (da - (da * a).sum(axis=-1, keepdims=True))
        dq = (ds @ k) * scale
        dk = (ds.swapaxes(-1, -2) @ q) * scale
        g = np.stack([dq, dk, dv]).transpose(1, 3, 0, 2, 4).reshape(n, t, 3 * d)  # back to (N, T, 3D)
        self.grads["in_proj_weight"] += g.reshape(-1, 3 * d).T @ x.reshape(-1, d)
        self.grads["in_proj_bias"] += g.sum(axis=(0, 1))
        return g @ self.params["in_proj_weight"] if self.needs_input_grad else None


class TransformerBlock(Layer):
    r"""Pre-norm transformer encoder block (ViT): attention, then a two-layer MLP, each with a residual add.

    PyTorch's ``nn.TransformerEncoderLayer(norm_first=True, activation="gelu")``
    with the same sublayer names: ``norm1``, ``self_attn``, ``norm2``,
    ``linear1`` (D -> hidden), ``linear2`` (hidden -> D).  The MLP acts on
    every token alone.

    Forward:  :math:`h = x + \mathrm{self\_attn}(\mathrm{norm1}(x))`,
    :math:`y = h + \mathrm{linear2}(\mathrm{GELU}(\mathrm{linear1}(\mathrm{norm2}(h))))`.
    Backward: a residual add passes its gradient to both terms, so
    :math:`dh = dy + \mathrm{norm2}'(\mathrm{linear1}'(\mathrm{GELU}'(\mathrm{linear2}'(dy))))` and
    :math:`dx = dh + \mathrm{norm1}'(\mathrm{self\_attn}'(dh))`,
    where :math:`f'(g)` is sublayer f's backward pass applied to g.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        hidden: int,
        *,
        eps: float = 1e-5,
        init: str = "glorot_uniform",
        rng: np.random.Generator | None = None,
        name: str = "",
    ):
        super().__init__(name)
        rng = rng or np.random.default_rng(0)
        self.norm1 = LayerNorm(dim, eps=eps, name=f"{name}.norm1")
        self.self_attn = MultiHeadAttention(dim, heads, init=init, rng=rng, name=f"{name}.self_attn")
        self.norm2 = LayerNorm(dim, eps=eps, name=f"{name}.norm2")
        self.linear1 = Dense(dim, hidden, init=init, rng=rng, name=f"{name}.linear1")
        self.activation = GELU(f"{name}.activation")
        self.linear2 = Dense(hidden, dim, init=init, rng=rng, name=f"{name}.linear2")

    def named_layers(self):
        for layer in (self.norm1, self.self_attn, self.norm2, self.linear1, self.activation, self.linear2):
            yield layer.name, layer

    def forward(self, x, *, training=False):
        n, t, d = x.shape
        h = x + self.self_attn.forward(self.norm1.forward(x))
        z = self.norm2.forward(h).reshape(n * t, d)  # the MLP's dense layers see one token a row
        return h + self.linear2.forward(self.activation.forward(self.linear1.forward(z))).reshape(n, t, d)

    def backward(self, dy):
        n, t, d = dy.shape
        dz = self.linear1.backward(self.activation.backward(self.linear2.backward(dy.reshape(n * t, d))))
        dh = dy + self.norm2.backward(dz.reshape(n, t, d))
        return dh + self.norm1.backward(self.self_attn.backward(dh))


BUILDERS: dict[str, Builder] = {
    "mha": lambda spec, shape, rng: MultiHeadAttention(
        shape[1], spec["heads"], init=spec["init"], rng=rng, name=spec["name"]
    ),
    "transformer": lambda spec, shape, rng: TransformerBlock(
        shape[1],
        spec["heads"],
        mlp_width(spec, shape),
        eps=spec["eps"],
        init=spec["init"],
        rng=rng,
        name=spec["name"],
    ),
}

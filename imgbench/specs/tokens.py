"""Registry rows of the token layers: the pieces of a vision transformer (ViT).

Token layout: an example is a sequence of T tokens of width D, shape
``(T, D)``; a batch is ``(N, T, D)`` in every engine, Keras included (tokens
need no layout conversion, unlike NCHW images).  ``patchembed`` reads its
(H/p, W/p) grid of patches row by row, so token ``t = i * (W/p) + j`` is the
patch in grid row i, column j; ``classtoken`` puts its token first (index 0),
where ``tokenpool`` in ``class`` mode reads it back.  ``layernorm`` (see
:mod:`.layers`) normalises each token over its D features.

The projections of ``mha`` and ``transformer`` follow PyTorch's parameter
names and shapes (``in_proj_weight`` is (3D, D): the query, key and value
weights stacked; ``out_proj.weight`` is (D, D)); each of the four D x D
matrices is drawn on its own from the layer's initialiser.
"""

from __future__ import annotations

from .keys import BOOL, INIT, POSITIVE, POSITIVE_INT, SpecError, one_of
from .layerdef import LayerDef, LayerSpec, Shape, needs_rank

TOKEN_INIT_STD = 0.02  # class tokens and position embeddings start as N(0, 0.02^2) draws, as in ViT


def mlp_width(layer: LayerSpec, shape: Shape) -> int:
    """The hidden width of a transformer block's MLP: ``mlp_ratio`` times the token width D."""
    return int(layer["mlp_ratio"]) * shape[-1]


def _tokens(layer: LayerSpec, shape: Shape) -> Shape:
    needs_rank(layer, shape, (2,), "a (T, D) token input")
    return shape


def _patch_shape(layer: LayerSpec, shape: Shape) -> Shape:
    needs_rank(layer, shape, (3,), "a (C, H, W) input")
    p = layer["patch_size"]
    if shape[1] % p or shape[2] % p:
        raise SpecError(f"{layer['name']}: patch size {p} does not divide the {shape[1]}x{shape[2]} input")
    return (shape[1] // p * (shape[2] // p), layer["dim"])


def _patch_params(layer: LayerSpec, shape: Shape) -> int:
    d, p = int(layer["dim"]), int(layer["patch_size"])
    return d * shape[0] * p * p + (d if layer["bias"] else 0)


def _class_token_shape(layer: LayerSpec, shape: Shape) -> Shape:
    t, d = _tokens(layer, shape)
    return (t + 1, d)


def _heads_shape(layer: LayerSpec, shape: Shape) -> Shape:
    _tokens(layer, shape)
    if shape[1] % layer["heads"]:
        raise SpecError(f"{layer['name']}: {layer['heads']} heads do not divide the token width {shape[1]}")
    return shape


def _attention_params(layer: LayerSpec, shape: Shape) -> int:
    d = shape[1]
    return 4 * (d * d + d)  # query, key, value and output projections: D x D and a bias each


def _transformer_params(layer: LayerSpec, shape: Shape) -> int:
    d, h = shape[1], mlp_width(layer, shape)
    return _attention_params(layer, shape) + 2 * (2 * d) + (d * h + h) + (h * d + d)  # two LayerNorms, the MLP


def _token_pool_shape(layer: LayerSpec, shape: Shape) -> Shape:
    return (_tokens(layer, shape)[1],)


TOKEN_DEFS = (
    # (C, H, W) -> (T, D): p x p patches, each projected to D features (a convolution, kernel = stride = p)
    LayerDef(
        "patchembed",
        "patch",
        _patch_shape,
        {"patch_size": 2, "dim": 3},
        (2, 4, 6),
        keys={"patch_size": POSITIVE_INT, "dim": POSITIVE_INT, "bias": BOOL, "init": INIT},
        defaults={"bias": True, "init": "glorot_uniform"},
        params=_patch_params,
        convolutional=True,  # its weight is a (D, C, p, p) filter bank, drawn as the first layer's filters
    ),
    # (T, D) -> (T + 1, D): a learned ``token`` (D values) put first
    LayerDef("classtoken", "cls", _class_token_shape, {}, (3, 4), params=lambda layer, shape: shape[1]),
    # y = x + E with a learned (T, D) ``embedding``: one vector per position
    LayerDef("posembed", "pos", _tokens, {}, (3, 4), params=lambda layer, shape: shape[0] * shape[1]),
    # multi-head self-attention: softmax(Q K^T / sqrt(D / heads)) V in each head, then the output projection
    LayerDef(
        "mha",
        "mha",
        _heads_shape,
        {"heads": 2},
        (3, 4),
        keys={"heads": POSITIVE_INT, "init": INIT},
        defaults={"init": "glorot_uniform"},
        params=_attention_params,
    ),
    # pre-norm encoder block: h = x + MHA(LN1(x)), y = h + MLP(LN2(h)) with MLP = dense, GELU, dense
    LayerDef(
        "transformer",
        "block",
        _heads_shape,
        {"heads": 2, "mlp_ratio": 2, "eps": 1e-3},
        (3, 4),
        keys={"heads": POSITIVE_INT, "mlp_ratio": POSITIVE_INT, "eps": POSITIVE, "init": INIT},
        defaults={"mlp_ratio": 4, "eps": 1e-5, "init": "glorot_uniform"},
        params=_transformer_params,
    ),
    # (T, D) -> (D,): the class token (the first) or the mean of all tokens
    LayerDef(
        "tokenpool",
        "tokpool",
        _token_pool_shape,
        {"mode": "class"},
        (3, 4),
        keys={"mode": one_of("class", "mean")},
        defaults={"mode": "mean"},
    ),
)

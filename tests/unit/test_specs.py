import json

import numpy as np
import pytest
import yaml

from imgbench.specs import (
    LAYERS,
    ZOO,
    SpecError,
    build_spec,
    is_convolutional,
    layer_table,
    mixes_batch,
    output_shape,
    param_count,
    resolve,
    types_with,
)


def test_cnn_small_has_46730_parameters_on_mnist():
    spec = build_spec("cnn-small", [1, 28, 28], 10)
    assert param_count(spec) == 46730
    rows = layer_table(spec)
    assert [r["params"] for r in rows if r["params"]] == [416, 12832, 32832, 650]
    assert rows[0]["output_shape"] == [16, 24, 24] and rows[2]["output_shape"] == [16, 12, 12]


@pytest.mark.parametrize("model,count", [("lenet5", 61706), ("keras-convnet", 34826), ("mlp", 235146)])
def test_classic_counts(model, count):
    assert param_count(build_spec(model, [1, 28, 28], 10)) == count


@pytest.mark.parametrize(
    "model,target,shape",
    [
        ("ann-128k", 128_000, [1, 28, 28]),
        ("cnn-125k", 125_000, [1, 28, 28]),
        ("ann-256k", 256_000, [3, 32, 32]),
        ("cnn-250k", 250_000, [3, 32, 32]),
    ],
)
def test_parameter_matched_pairs_within_3_percent(model, target, shape):
    assert abs(param_count(build_spec(model, shape, 10)) - target) <= 0.03 * target


@pytest.mark.parametrize("model", sorted(ZOO))
def test_every_zoo_model_builds_for_cifar_and_is_json_serialisable(model):
    spec = build_spec(model, [3, 32, 32], 10)
    assert json.loads(json.dumps(spec)) == spec
    assert spec["layers"][-1]["output_shape"] == [10]


def test_defaults_are_written_into_the_spec():
    spec = resolve(
        {
            "input_shape": [3, 8, 8],
            "num_classes": 2,
            "layers": [
                {"type": "conv2d", "filters": 4, "kernel_size": 3},
                {"type": "batchnorm"},
                {"type": "flatten"},
                {"type": "dense", "units": "num_classes"},
            ],
        }
    )
    conv, bn, _, dense = spec["layers"]
    assert conv["init"] == "he_uniform" and conv["padding"] == "valid" and conv["bias"] is True
    assert bn["momentum"] == 0.1 and bn["eps"] == 1e-5
    assert dense["units"] == 2 and [l["name"] for l in spec["layers"]] == ["conv1", "bn1", "flatten1", "dense1"]


def test_residual_counts_both_branches():
    spec = build_spec("resnet-small", [3, 32, 32], 10)
    res = [l for l in spec["layers"] if l["type"] == "residual"]
    assert len(res) == 6 and res[2]["shortcut"] and not res[1]["shortcut"]
    assert res[2]["output_shape"] == [32, 16, 16]


@pytest.mark.parametrize(
    "layers,match",
    [
        ([{"type": "dense", "units": 3}], "needs a flat input"),
        (
            [{"type": "conv2d", "filters": 2, "kernel_size": 9}, {"type": "flatten"}, {"type": "dense", "units": 3}],
            "does not fit",
        ),
        ([{"type": "flatten"}, {"type": "dense", "units": 4}], r"expected \(3,\) logits"),
        ([{"type": "warp"}], "unknown layer type 'warp'"),
    ],
)
def test_bad_specs(layers, match):
    with pytest.raises(SpecError, match=match):
        resolve({"input_shape": [1, 4, 4], "num_classes": 3, "layers": layers})


def test_spec_file(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({"layers": [{"type": "flatten"}, {"type": "dense", "units": "num_classes"}]}))
    spec = build_spec(str(path), [1, 8, 8], 10)
    assert spec["name"] == "tiny" and param_count(spec) == 650
    with pytest.raises(SpecError, match="unknown model 'nope'"):
        build_spec("nope", [1, 8, 8], 10)


@pytest.mark.parametrize(
    "change,match",
    [
        ({"input_shape": [1, 8.5, 8]}, r"input_shape must be a list of 1 to 3 positive integers .*, got \[1, 8.5, 8\]"),
        ({"input_shape": "1,8,8"}, "input_shape must be .*, got '1,8,8'"),
        ({"input_shape": [1, 1, 4, 4]}, r"input_shape must be .*, got \[1, 1, 4, 4\]"),
        ({"input_shape": []}, r"input_shape must be .*, got \[\]"),
        ({"input_shape": [1, 0, 4]}, r"input_shape must be .*, got \[1, 0, 4\]"),
        ({"input_shape": [True, 4, 4]}, "input_shape must be"),
        ({"num_classes": "3"}, "num_classes must be an integer >= 2, got '3'"),
        ({"num_classes": 1}, "num_classes must be an integer >= 2, got 1"),
        ({"num_classes": 3.0}, "num_classes must be an integer >= 2, got 3.0"),
        ({"layerz": []}, r"unknown key 'layerz' \(did you mean 'layers'\?\); a spec takes name, input_shape"),
        ({"name": ""}, "name must be a non-empty string"),
    ],
)
def test_top_level_keys_are_checked(change, match):
    spec = {"input_shape": [1, 4, 4], "num_classes": 3, "layers": [{"type": "flatten"}, {"type": "dense", "units": 3}]}
    with pytest.raises(SpecError, match=match):
        resolve({**spec, **change})


def test_a_resolved_spec_holds_only_the_keys_resolve_accepts():
    spec = build_spec("resnet-small", np.array([3, 32, 32]), np.int64(10))  # NumPy integers are taken as ints
    assert set(spec) == {"name", "input_shape", "num_classes", "layers"} and type(spec["num_classes"]) is int
    assert resolve(spec) == spec


def test_spec_file_errors_name_the_file(tmp_path):
    path = tmp_path / "tiny.yaml"
    logits = [{"type": "flatten"}, {"type": "dense", "units": "num_classes"}]
    path.write_text(yaml.safe_dump({"num_classes": 3, "layers": logits}))
    with pytest.raises(SpecError, match=f"^{path}: the spec has num_classes 3 but the data has 10 classes"):
        build_spec(str(path), [1, 8, 8], 10)
    path.write_text(yaml.safe_dump({"input_shape": [1, "8", 8], "layers": logits}))
    with pytest.raises(SpecError, match=f"^{path}: model spec 'tiny': input_shape must be"):
        build_spec(str(path), [1, 8, 8], 10)
    path.write_text(yaml.safe_dump({"layers": [{"type": "conv2d", "filters": 2, "kernel_size": 9}, *logits]}))
    with pytest.raises(SpecError, match=f"^{path}: conv1: a 9x9 kernel does not fit"):
        build_spec(str(path), [1, 8, 8], 10)


# --- the layer registry -------------------------------------------------------------------


def _one(layer, shape=(1, 4, 4)):
    return resolve({"input_shape": list(shape), "num_classes": 3, "layers": [layer, {"type": "flatten"}]})


@pytest.mark.parametrize(
    "layer,match",
    [
        ({"type": "conv", "filters": 2, "kernel_size": 3}, r"unknown layer type 'conv' \(did you mean 'conv2d'\?\)"),
        (
            {"type": "conv2d", "filters": 2, "kernel_size": 3, "strides": 2},
            r"unknown key 'strides'.*did you mean 'stride'",
        ),
        ({"type": "conv2d", "filters": 2}, "conv1: a conv2d layer needs 'kernel_size'"),
        ({"type": "conv2d", "filters": 0, "kernel_size": 3}, "filters must be a positive integer, got 0"),
        ({"type": "conv2d", "filters": 2.0, "kernel_size": 3}, "filters must be a positive integer, got 2.0"),
        ({"type": "conv2d", "filters": 2, "kernel_size": True}, "kernel_size must be a positive integer, got True"),
        ({"type": "conv2d", "filters": 2, "kernel_size": 3, "stride": 0}, "stride must be a positive integer"),
        ({"type": "conv2d", "filters": 2, "kernel_size": 3, "padding": "full"}, "padding must be 'valid', 'same' or"),
        ({"type": "conv2d", "filters": 2, "kernel_size": 3, "padding": -1}, "padding must be"),
        ({"type": "conv2d", "filters": 2, "kernel_size": 2, "padding": "same"}, "conv1: padding 'same' needs an odd"),
        ({"type": "conv2d", "filters": 2, "kernel_size": 3, "init": "he_unifrom"}, "did you mean 'he_uniform'"),
        ({"type": "dropout", "rate": 1.0}, r"rate must be a number in \[0, 1\), got 1.0"),
        ({"type": "batchnorm", "eps": "1e-5"}, "eps must be a positive number, got '1e-5'"),
        ({"type": "maxpool2d", "size": 2, "stride": 0}, "stride must be a positive integer"),
        ({"type": "globalavgpool2d", "name": ""}, "name must be a non-empty string"),
    ],
)
def test_layer_keys_are_checked_where_they_enter(layer, match):
    with pytest.raises(SpecError, match=match):
        _one(layer)


def test_every_registered_example_resolves_and_counts():
    for kind, ldef in LAYERS.items():
        layers = [{"type": kind, **ldef.example}]
        shape = output_shape(layers, ldef.example_input, num_classes=2)
        spec = resolve(
            {
                "input_shape": list(ldef.example_input),
                "num_classes": int(np.prod(shape)),
                "layers": layers + ([{"type": "flatten"}] if len(shape) > 1 else []),
            }
        )
        assert spec["layers"][0]["name"].startswith(ldef.short)
        assert (param_count(spec) > 0) == ldef.has_params or bool(ldef.children)  # blocks count their children
        assert resolve(spec) == spec  # resolving twice changes nothing (runs re-resolve their stored spec)


def test_registry_flags_replace_lists_of_types():
    assert types_with("has_feature_maps") == {
        "conv2d",
        "depthwiseconv2d",
        "maxpool2d",
        "avgpool2d",
        "residual",
        "concat",
    }
    assert types_with("mixes_batch") == {"batchnorm", "dropout"}
    resnet, mlp = build_spec("resnet-small", [3, 32, 32], 10), build_spec("mlp", [1, 28, 28], 10)
    assert is_convolutional(resnet) and mixes_batch(resnet)  # nested blocks are searched too
    assert not is_convolutional(mlp) and not mixes_batch(mlp)


def test_layernorm_and_gelu_resolve_with_their_defaults():
    spec = resolve(
        {
            "input_shape": [2, 4, 4],
            "num_classes": 3,
            "layers": [
                {"type": "conv2d", "filters": 4, "kernel_size": 3},
                {"type": "layernorm"},
                {"type": "gelu"},
                {"type": "flatten"},
                {"type": "dense", "units": "num_classes"},
            ],
        }
    )
    ln, gelu = spec["layers"][1:3]
    assert ln == {"type": "layernorm", "eps": 1e-5, "name": "ln1", "output_shape": [4, 2, 2]}
    assert gelu["name"] == "gelu1"
    assert [r["params"] for r in layer_table(spec)] == [76, 8, 0, 0, 51]


# --- the layers of issue 16 ---------------------------------------------------------------


@pytest.mark.parametrize(
    "layer,shape,match",
    [
        ({"type": "maxpool2d", "size": 3, "padding": 2}, (1, 8, 8), "padding 2 is more than half the 3x3 window"),
        ({"type": "avgpool2d", "size": 2, "padding": "same"}, (1, 8, 8), "'same' needs an odd kernel size"),
        ({"type": "depthwiseconv2d", "kernel_size": 5}, (2, 4, 4), "a 5x5 kernel does not fit a 4x4 input"),
        ({"type": "depthwiseconv2d", "kernel_size": 3, "filters": 4}, (2, 4, 4), "unknown key 'filters'"),
        ({"type": "concat", "branches": [[]]}, (2, 4, 4), "branches must be a list of two or more layer lists"),
        (
            {"type": "concat", "branches": [[{"type": "maxpool2d", "size": 2}], []]},
            (2, 4, 4),
            r"must agree on the others; they give \[\(2, 2, 2\), \(2, 4, 4\)\]",
        ),
        ({"type": "patchembed", "patch_size": 3, "dim": 8}, (1, 8, 8), "patch size 3 does not divide the 8x8 input"),
        ({"type": "mha", "heads": 3}, (5, 8), "3 heads do not divide the token width 8"),
        ({"type": "transformer"}, (5, 8), "a transformer layer needs 'heads'"),
        ({"type": "transformer", "heads": 2, "mlp_ratio": 1.5}, (5, 8), "mlp_ratio must be a positive integer"),
        ({"type": "tokenpool", "mode": "cls"}, (5, 8), "mode must be one of class, mean, got 'cls'"),
        ({"type": "classtoken"}, (1, 8, 8), r"classtoken needs a \(T, D\) token input"),
        ({"type": "softmax"}, (5, 8), r"softmax needs an \(F,\) or \(C, H, W\) input"),
    ],
)
def test_new_layer_keys_and_shapes_are_checked(layer, shape, match):
    with pytest.raises(SpecError, match=match):
        _one(layer, shape)


def test_concat_names_its_branches_and_sums_their_channels():
    cat = {
        "type": "concat",
        "branches": [
            [{"type": "conv2d", "filters": 3, "kernel_size": 1}],
            [
                {"type": "maxpool2d", "size": 3, "stride": 1, "padding": 1},
                {"type": "conv2d", "filters": 2, "kernel_size": 1},
            ],
            [],
        ],
    }
    layers = [cat, {"type": "globalavgpool2d"}, {"type": "dense", "units": 3}]
    spec = resolve({"input_shape": [4, 5, 5], "num_classes": 3, "layers": layers})
    assert "name" not in layers[0]["branches"][0][0]  # the caller's spec is left as it was
    cat = spec["layers"][0]
    assert cat["output_shape"] == [9, 5, 5]
    assert [[l["name"] for l in b] for b in cat["branches"]] == [
        ["cat1.b1.conv1"],
        ["cat1.b2.pool1", "cat1.b2.conv1"],
        [],
    ]
    assert layer_table(spec)[0]["params"] == (4 * 3 + 3) + (4 * 2 + 2)
    assert resolve(spec) == spec


def test_token_layers_shapes_and_counts():
    spec = resolve(
        {
            "input_shape": [3, 8, 12],
            "num_classes": 5,
            "layers": [
                {"type": "patchembed", "patch_size": 4, "dim": 16},
                {"type": "classtoken"},
                {"type": "posembed"},
                {"type": "mha", "heads": 4},
                {"type": "transformer", "heads": 2},
                {"type": "layernorm"},
                {"type": "tokenpool", "mode": "class"},
                {"type": "dense", "units": "num_classes"},
            ],
        }
    )
    rows = layer_table(spec)
    assert [r["output_shape"] for r in rows[:6]] == [[6, 16], [7, 16], [7, 16], [7, 16], [7, 16], [7, 16]]
    assert rows[6]["output_shape"] == [16]
    attention = 4 * (16 * 16 + 16)
    mlp = (16 * 64 + 64) + (64 * 16 + 16)  # mlp_ratio 4 by default
    assert [r["params"] for r in rows] == [16 * 3 * 16 + 16, 16, 7 * 16, attention, attention + 4 * 16 + mlp, 32, 0, 85]
    assert [r["name"] for r in rows] == ["patch1", "cls1", "pos1", "mha1", "block1", "ln1", "tokpool1", "dense1"]
    assert spec["layers"][4]["eps"] == 1e-5 and spec["layers"][4]["init"] == "glorot_uniform"
    assert spec["layers"][6]["mode"] == "class" and is_convolutional(spec) and not mixes_batch(spec)


@pytest.mark.parametrize(
    "model,counts",
    [
        ("mobilenet-small", (136_202, 136_778)),
        ("inception-small", (53_846, 54_422)),
        ("vit-tiny", (205_962, 208_970)),
    ],
)
def test_new_zoo_models_fit_mnist_and_cifar(model, counts):
    for shape, count in zip(([1, 28, 28], [3, 32, 32]), counts, strict=True):
        spec = build_spec(model, shape, 10)
        assert param_count(spec) == count and spec["layers"][-1]["output_shape"] == [10]
    assert ZOO[model].__doc__

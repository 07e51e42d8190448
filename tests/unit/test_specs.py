import json

import pytest
import yaml

from imgbench.specs import ZOO, SpecError, build_spec, layer_table, param_count, resolve


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

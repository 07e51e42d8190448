"""Study files and presets: validation and the planned runs."""

from __future__ import annotations

import pytest

from imgbench.errors import ImgbenchError
from imgbench.studies.presets import PRESETS, preset
from imgbench.studies.studyfile import load_study, parse_study, plan_runs


def test_quick_preset_plans_3_engines_x_2_models_x_3_seeds():
    planned, notes = plan_runs(preset("quick"))
    assert len(planned) == 18 and notes == []
    keys = {p.key for p in planned}
    assert "digits-cnn-tiny-keras-seed2" in keys and "digits-mlp-numpy-seed0" in keys
    s = next(p.settings for p in planned if p.key == "digits-mlp-torch-seed1")
    assert (s.engine, s.model, s.train.seed, s.train.epochs, s.study) == ("torch", "mlp", 1, 15, "quick")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_parses(name):
    study = preset(name)
    assert study.name == name and study.description


def test_numpy_to_tensors_trains_both_fully_connected_networks_alike(shared_datasets):
    """Issue 17's recipe: NumPy and Keras get the same network and settings; the Keras CNN is vgg-small in bf16."""
    planned, notes = plan_runs(preset("numpy-to-tensors"), root=str(shared_datasets))
    runs = {p.key: p.settings for p in planned}
    assert len(runs) == 9 and any("image-folder copy" in n for n in notes)
    numpy_mlp, keras_mlp = runs["cifar10-jpg-mlp-numpy-seed0"], runs["cifar10-jpg-mlp-keras-seed0"]
    assert numpy_mlp.train == keras_mlp.train and numpy_mlp.precision == keras_mlp.precision == "auto"
    assert (numpy_mlp.train.epochs, numpy_mlp.train.augmentation, numpy_mlp.train.optimizer) == (
        30,
        "flip-shift",
        "adamw",
    )
    cnn = runs["cifar10-jpg-vgg-small-keras-seed2"]
    assert (cnn.engine, cnn.precision, cnn.train.epochs, cnn.train.augmentation) == ("keras", "bf16", 20, "crop-flip")
    assert cnn.train.weight_decay == numpy_mlp.train.weight_decay == 0.05


def test_groups_override_training_and_seeds(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("""
name: mine
seeds: [0, 1]
train: {epochs: 2, batch_size: 32}
datasets: [digits]
models: [mlp]
engines: [numpy]
groups:
  - {datasets: [digits], models: [cnn-tiny], engines: [torch], seeds: [5], train: {epochs: 3}}
""")
    planned, _ = plan_runs(load_study(path))
    assert [(p.key, p.settings.train.epochs, p.settings.train.batch_size) for p in planned] == [
        ("digits-mlp-numpy-seed0", 2, 32),
        ("digits-mlp-numpy-seed1", 2, 32),
        ("digits-cnn-tiny-torch-seed5", 3, 32),
    ]


@pytest.mark.parametrize(
    "text,needle",
    [
        ("name: x\nmodels: [mlp]\nengines: [numpy]\n", "'datasets' must be a non-empty list"),
        ("name: x\ndatasets: [digits]\nmodels: [mlp]\nengines: [jax]\n", "unknown engines ['jax']"),
        ("name: x\ndatasets: [digits]\nmodels: [mlp]\nengines: [numpy]\nseeds: [a]\n", "'seeds' must be"),
        (
            "name: x\ndatasets: [digits]\nmodels: [mlp]\nengines: [numpy]\ntrain: {epochz: 3}\n",
            "unknown training settings",
        ),
        ("name: x\ndatasets: [digits]\nmodels: [mlp]\nengines: [numpy]\ncolour: red\n", "unknown keys ['colour']"),
        ("datasets: [digits]\nmodels: [mlp]\nengines: [numpy]\n", "'name' must be"),
        ("name: x\n", "no runs"),
        ("[1, 2", "not valid YAML"),
    ],
)
def test_bad_study_files_name_the_problem(tmp_path, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ImgbenchError) as info:
        load_study(path)
    assert needle in str(info.value) and str(path) in str(info.value)


def test_missing_study_file():
    with pytest.raises(ImgbenchError, match="cannot read study file"):
        load_study("/nonexistent/study.yaml")


def test_cifar10_falls_back_to_the_image_folder_copy(tmp_path):
    (tmp_path / "cifar10-jpg" / "train").mkdir(parents=True)
    study = parse_study({"name": "c", "datasets": ["cifar10"], "models": ["mlp"], "engines": ["numpy"]})
    planned, notes = plan_runs(study, root=str(tmp_path))
    assert planned[0].settings.dataset == f"folder:{(tmp_path / 'cifar10-jpg').resolve()}"
    assert planned[0].key == "cifar10-jpg-mlp-numpy-seed0"
    assert len(notes) == 1 and "image-folder copy" in notes[0]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_recorded_study_loads_back(name):
    """study.yaml records Study.to_dict(); `imgbench report --study` and reruns parse it again."""
    study = preset(name)
    again = parse_study(study.to_dict(), "study.yaml")
    assert again.to_dict() == study.to_dict()
    assert [p.key for p in plan_runs(again, None)[0]] == [p.key for p in plan_runs(study, None)[0]]


def test_a_recorded_run_is_the_planned_run_only_with_the_same_precision_and_image_size():
    from imgbench.studies.compare import _comparable

    planned, _ = plan_runs(preset("mnist-speedrun"))
    run = next(p for p in planned if p.settings.engine == "torch")
    config = run.settings.to_dict()  # what config.yaml records
    assert config["precision"] == "bf16" and _comparable(config, run)
    assert not _comparable({**config, "precision": "fp32"}, run)
    assert not _comparable({**config, "image_size": 32}, run)
    # a run recorded before a setting existed holds its default
    numpy_run = next(p for p in planned if p.settings.engine == "numpy")
    old = {k: v for k, v in numpy_run.settings.to_dict().items() if k not in ("precision", "image_size")}
    assert _comparable(old, numpy_run)

"""Every bad value is one `imgbench: error:` line naming the setting, exit code 1, no traceback, nothing written.

Table-driven over the four ways a value arrives: command-line flags, study files, `--config` files and
model spec files.  The CLI runs in-process (`imgbench.cli.main`), so the whole table takes seconds.
"""

from __future__ import annotations

import json

import pytest
import yaml

import imgbench
from imgbench.cli import main
from imgbench.errors import ImgbenchError
from imgbench.settings import RunSettings, TrainConfig
from imgbench.specs import build_spec

# (id, arguments after `imgbench`, words the message must hold: the setting and the value given)
FLAGS = [
    ("batch-size-0", ["train", "--batch-size", "0"], ["--batch-size", "0", "integer >= 1"]),
    ("batch-size-negative", ["train", "--batch-size", "-8"], ["--batch-size", "-8"]),
    ("batch-size-text", ["train", "--batch-size", "many"], ["--batch-size", "'many'"]),
    ("epochs-0", ["train", "--epochs", "0"], ["--epochs", "0", "integer >= 1"]),
    ("epochs-fraction", ["train", "--epochs", "2.5"], ["--epochs", "'2.5'"]),
    ("lr-0", ["train", "--lr", "0"], ["--lr", "0.0", "> 0"]),
    ("lr-negative", ["train", "--lr", "-0.01"], ["--lr", "-0.01"]),
    ("lr-nan", ["train", "--lr", "nan"], ["--lr", "nan", "finite"]),
    ("lr-inf", ["train", "--lr", "inf"], ["--lr", "inf", "finite"]),
    ("weight-decay-negative", ["train", "--weight-decay=-1e-4"], ["--weight-decay", "-0.0001", ">= 0"]),
    (
        "keras-weight-decay-with-adam",
        ["train", "--engine", "keras", "--weight-decay", "1e-4"],
        ["--weight-decay", "keras engine", "only with optimizer adamw"],
    ),
    ("val-split-1", ["train", "--val-split", "1"], ["--val-split", "1.0", "[0, 1)"]),
    ("val-split-negative", ["train", "--val-split", "-0.1"], ["--val-split", "-0.1"]),
    ("label-smoothing-1", ["train", "--label-smoothing", "1"], ["--label-smoothing", "1.0", "[0, 1)"]),
    ("label-smoothing-negative", ["train", "--label-smoothing", "-0.2"], ["--label-smoothing", "-0.2"]),
    ("seed-negative", ["train", "--seed", "-1"], ["--seed", "-1", "[0, 4294967295]"]),
    ("seed-huge", ["train", "--seed", str(2**40)], ["--seed", str(2**40)]),
    ("threads-0", ["train", "--threads", "0"], ["--threads", "0", ">= 1"]),
    ("image-size-0", ["train", "--image-size", "0"], ["--image-size", "0"]),
    ("patience-0", ["train", "--early-stopping", "val_loss", "--patience", "0"], ["--patience", "0"]),
    ("max-steps-negative", ["train", "--max-steps", "-5"], ["--max-steps", "-5"]),
    ("warmup-negative", ["train", "--schedule", "cosine", "--warmup-steps", "-1"], ["--warmup-steps", "-1"]),
    ("engine-unknown", ["train", "--engine", "jax"], ["--engine", "'jax'", "numpy, torch, keras"]),
    ("optimizer-misspelt", ["train", "--optimizer", "adma"], ["--optimizer", "'adma'", "did you mean 'adam'"]),
    ("schedule-unknown", ["train", "--schedule", "linear"], ["--schedule", "'linear'", "onecycle"]),
    ("precision-unknown", ["train", "--precision", "fp64"], ["--precision", "'fp64'"]),
    ("device-unknown", ["train", "--device", "tpu"], ["--device", "'tpu'"]),
    ("early-stopping-unknown", ["train", "--early-stopping", "loss"], ["--early-stopping", "'loss'"]),
    ("name-escapes", ["train", "--name", "../outside"], ["--name", "'../outside'"]),
    ("name-dot-dot", ["train", "--name", ".."], ["--name", "'..'"]),
    ("patience-without-early-stopping", ["train", "--patience", "3"], ["--patience 3", "--early-stopping"]),
    (
        "early-stopping-without-validation",
        ["train", "--early-stopping", "val_loss", "--val-split", "0"],
        ["--early-stopping val_loss", "--val-split is 0"],
    ),
    ("warmup-without-cosine", ["train", "--warmup-steps", "100"], ["--warmup-steps 100", "--schedule is onecycle"]),
    ("resume-with-flags", ["train", "--resume", "runs/r", "--epochs", "9", "--lr", "0.1"], ["--epochs, --lr"]),
    ("resume-with-config", ["train", "--resume", "runs/r", "--config", "c.yaml"], ["--resume", "--config"]),
    ("unknown-flag", ["train", "--epoks", "3"], ["unrecognized arguments: --epoks 3"]),
    ("abbreviated-flag", ["train", "--epoch", "3"], ["unrecognized arguments: --epoch 3"]),
    ("format-without-report", ["compare", "--preset", "quick", "--no-report", "--format", "pdf"], ["--no-report"]),
    ("format-misspelt", ["report", "--study", "s", "--format", "html,pfd"], ["--format", "did you mean 'pdf'"]),
    ("select-unknown", ["train", "--select", "best"], ["--select", "'best'", "best-val-acc, best-val-loss, last"]),
    (
        "select-best-without-validation",
        ["train", "--select", "best-val-loss", "--val-split", "0"],
        ["--select best-val-loss", "--val-split is 0"],
    ),
    ("flag-without-value", ["train", "--epochs"], ["--epochs", "expected one argument"]),
    ("seeds-empty", ["compare", "--preset", "quick", "--seeds", ""], ["--seeds", "''"]),
    ("seeds-gap", ["compare", "--preset", "quick", "--seeds", "0,,2"], ["--seeds", "'0,,2'"]),
    ("seeds-negative", ["compare", "--preset", "quick", "--seeds", "0,-1"], ["--seeds", "-1"]),
    ("compare-epochs-0", ["compare", "--preset", "quick", "--epochs", "0"], ["--epochs", "0"]),
    ("compare-max-steps-negative", ["compare", "--preset", "quick", "--max-steps", "-1"], ["--max-steps", "-1"]),
    ("compare-engines-unknown", ["compare", "--preset", "quick", "--engines", "numpy,jax"], ["--engines", "jax"]),
    ("compare-workers-0", ["compare", "--preset", "quick", "--workers", "0"], ["--workers", "0"]),
    ("predict-top-k-0", ["predict", "runs/r", "x.png", "--top-k", "0"], ["--top-k", "0"]),
    ("gallery-count-negative", ["gallery", "runs/r", "--count", "-1"], ["--count", "-1"]),
    ("gallery-seed-negative", ["gallery", "runs/r", "--seed", "-1"], ["--seed", "-1"]),
    ("embedding-samples-0", ["embedding", "runs/r", "--samples", "0"], ["--samples", "0"]),
    ("walkthrough-stride-0", ["walkthrough", "--dataset", "digits", "--stride", "0"], ["--stride", "0"]),
    ("data-image-size-negative", ["data", "info", "digits", "--image-size", "-3"], ["--image-size", "-3"]),
]

STUDY = {"name": "s", "datasets": ["digits"], "models": ["mlp-small"], "engines": ["numpy"], "seeds": [0]}
# (id, changes to a good study file, words the message must hold)
STUDIES = [
    ("name-escapes", {"name": "../../x"}, ["'name'", "'../../x'"]),
    ("name-with-slash", {"name": "a/b"}, ["'name'", "'a/b'"]),
    ("seeds-negative", {"seeds": [0, -1]}, ["'seeds'", "-1"]),
    ("seeds-huge", {"seeds": [2**33]}, ["'seeds'", str(2**33)]),
    ("seeds-text", {"seeds": "zero"}, ["'seeds'", "'zero'"]),
    ("engines-unknown", {"engines": ["numpy", "jax"]}, ["unknown engines ['jax']"]),
    ("key-misspelt", {"dataset": ["digits"]}, ["unknown keys ['dataset']", "did you mean 'datasets'"]),
    ("train-lr-negative", {"train": {"lr": -1}}, ["train.lr", "-1"]),
    ("train-lr-nan", {"train": {"lr": float("nan")}}, ["train.lr", "nan"]),
    ("train-batch-size-0", {"train": {"batch_size": 0}}, ["train.batch_size", "0"]),
    ("train-val-split-1", {"train": {"val_split": 1.5}}, ["train.val_split", "1.5"]),
    ("train-misspelt", {"train": {"epoch": 3}}, ["unknown training settings ['epoch']", "did you mean 'epochs'"]),
    ("train-seed", {"train": {"seed": 3}}, ["train.seed", "'seeds'"]),
    ("settings-threads-0", {"settings": {"threads": 0}}, ["settings.threads", "0"]),
    ("settings-unknown", {"settings": {"epochs": 3}}, ["unknown run settings ['epochs']", "train.epochs"]),
    ("settings-patience-alone", {"settings": {"patience": 2}}, ["settings.patience 2", "early stopping"]),
    (
        "early-stopping-without-validation",
        {"settings": {"early_stopping": "val_acc"}, "train": {"val_split": 0}},
        ["settings.early_stopping val_acc", "train.val_split is 0"],
    ),
    (
        "group-bad-epochs",
        {"groups": [{"datasets": ["digits"], "models": ["mlp"], "engines": ["numpy"], "train": {"epochs": 0}}]},
        ["group 2", "train.epochs", "0"],
    ),
]

# (id, change to a good config.yaml, words the message must hold)
CONFIGS = [
    ("batch-size-0", lambda c: c["train"].update(batch_size=0), ["config.yaml", "train.batch_size", "0"]),
    ("lr-nan", lambda c: c["train"].update(lr=float("nan")), ["config.yaml", "train.lr", "nan"]),
    ("lr-text", lambda c: c["train"].update(lr="fast"), ["config.yaml", "train.lr", "'fast'"]),
    ("epochs-negative", lambda c: c["train"].update(epochs=-2), ["config.yaml", "train.epochs", "-2"]),
    ("seed-negative", lambda c: c["train"].update(seed=-5), ["config.yaml", "train.seed", "-5"]),
    ("augment-text", lambda c: c["train"].update(augment="yes please"), ["train.augment", "'yes please'"]),
    ("train-misspelt", lambda c: c["train"].update(epoch=3), ["unknown training settings ['epoch']", "'epochs'"]),
    ("train-not-mapping", lambda c: c.update(train=[1, 2]), ["config.yaml", "train", "[1, 2]"]),
    ("top-level-misspelt", lambda c: c.update(engin="torch"), ["unknown settings ['engin']", "'engine'"]),
    ("top-level-train-key", lambda c: c.update(epochs=3), ["unknown settings ['epochs']", "'train.epochs'"]),
    ("engine-unknown", lambda c: c.update(engine="jax"), ["config.yaml", "engine", "'jax'"]),
    ("threads-0", lambda c: c.update(threads=0), ["config.yaml", "threads", "0"]),
    ("name-escapes", lambda c: c.update(name="../../x"), ["config.yaml", "name", "'../../x'"]),
    ("patience-alone", lambda c: c.update(patience=2), ["config.yaml", "patience 2", "early stopping"]),
    (
        "early-stopping-without-validation",
        lambda c: (c.update(early_stopping="val_loss"), c["train"].update(val_split=0.0)),
        ["config.yaml", "early_stopping val_loss", "train.val_split is 0"],
    ),
    ("spec-stride-0", lambda c: c["spec"]["layers"][0].update(stride=0), ["config.yaml", "conv1", "stride", "0"]),
    ("spec-unknown-key", lambda c: c["spec"]["layers"][0].update(filter=4), ["conv1", "'filter'", "'filters'"]),
    ("spec-other-input", lambda c: c["spec"].update(input_shape=[1, 28, 28]), ["[1, 28, 28]", "--model"]),
]

LOGITS = [{"type": "flatten"}, {"type": "dense", "units": "num_classes"}]
# (id, a spec file's layers (the logits are added) or its top-level keys (over LOGITS), words the message must hold);
# every message also names the spec file.  The data (digits) is 1x8x8 in 10 classes.
SPECS = [
    ("stride-0", [{"type": "conv2d", "filters": 4, "kernel_size": 3, "stride": 0}], ["stride", "got 0"]),
    ("filters-0", [{"type": "conv2d", "filters": 0, "kernel_size": 3}], ["filters", "got 0"]),
    ("filters-negative", [{"type": "conv2d", "filters": -4, "kernel_size": 3}], ["filters", "got -4"]),
    ("kernel-fraction", [{"type": "conv2d", "filters": 4, "kernel_size": 2.5}], ["kernel_size", "got 2.5"]),
    ("padding-negative", [{"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": -1}], ["padding", "-1"]),
    ("pool-size-0", [{"type": "maxpool2d", "size": 0}], ["size", "got 0"]),
    ("units-negative", [{"type": "flatten"}, {"type": "dense", "units": -3}], ["units", "got -3"]),
    ("units-text", [{"type": "flatten"}, {"type": "dense", "units": "ten"}], ["units", "'ten'"]),
    ("dropout-above-1", [{"type": "flatten"}, {"type": "dropout", "rate": 1.5}], ["rate", "got 1.5"]),
    ("momentum-above-1", [{"type": "batchnorm", "momentum": 2}], ["momentum", "got 2"]),
    ("key-misspelt", [{"type": "conv2d", "filter": 4, "kernel_size": 3}], ["'filter'", "did you mean 'filters'"]),
    ("type-misspelt", [{"type": "conv2", "filters": 4, "kernel_size": 3}], ["'conv2'", "did you mean 'conv2d'"]),
    ("kernel-too-big", [{"type": "conv2d", "filters": 4, "kernel_size": 9}], ["9x9", "does not fit"]),
    ("classes-mismatch", {"num_classes": 3}, ["num_classes 3", "10 classes"]),
    ("classes-1", {"num_classes": 1}, ["num_classes", "integer >= 2", "got 1"]),
    ("classes-text", {"num_classes": "ten"}, ["num_classes", "got 'ten'"]),
    ("input-fraction", {"input_shape": [1, 8.5, 8]}, ["input_shape", "positive integers", "[1, 8.5, 8]"]),
    ("input-text", {"input_shape": "1x8x8"}, ["input_shape", "'1x8x8'"]),
    ("input-four-axes", {"input_shape": [1, 1, 8, 8]}, ["input_shape", "[1, 1, 8, 8]"]),
    ("input-mismatch", {"input_shape": [1, 28, 28]}, ["expects input [1, 28, 28]", "[1, 8, 8]"]),
    ("top-level-misspelt", {"layerz": []}, ["unknown key 'layerz'", "did you mean 'layers'"]),
    ("layers-not-a-list", {"layers": "conv"}, ["layers must be a list", "'conv'"]),
    ("name-not-text", {"name": 7}, ["name", "got 7"]),
    (
        "residual-key-misspelt",
        [{"type": "residual", "layers": [{"type": "conv2d", "filter": 4, "kernel_size": 3, "padding": "same"}]}],
        ["res1.conv1", "'filter'", "did you mean 'filters'"],
    ),
    (
        "concat-key-misspelt",
        [{"type": "concat", "branches": [[{"type": "maxpool2d", "sise": 3}], []]}],
        ["cat1.b1.pool1", "'sise'", "did you mean 'size'"],
    ),
    (
        "heads-do-not-divide-width",
        [{"type": "patchembed", "patch_size": 4, "dim": 10}, {"type": "transformer", "heads": 4}],
        ["block1", "4 heads do not divide the token width 10"],
    ),
    (
        "patch-does-not-divide-image",
        [{"type": "patchembed", "patch_size": 3, "dim": 8}, {"type": "tokenpool"}],
        ["patch1", "patch size 3 does not divide the 8x8 input"],
    ),
]


def _run(argv, capsys) -> tuple[int, str]:
    """``imgbench argv`` in-process: the exit code and stderr."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.err


def _tree(path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


def _assert_one_error(code, err, needles) -> None:
    lines = err.strip().splitlines()
    assert code == 1, err
    assert len(lines) == 1 and lines[0].startswith("imgbench: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working directory; every command's default output folder (runs/, studies/) would land here."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("argv,needles", [case[1:] for case in FLAGS], ids=[case[0] for case in FLAGS])
def test_bad_flag(workdir, capsys, argv, needles):
    code, err = _run(argv, capsys)
    _assert_one_error(code, err, needles)
    assert _tree(workdir) == set()


@pytest.mark.parametrize("change,needles", [case[1:] for case in STUDIES], ids=[case[0] for case in STUDIES])
def test_bad_study_file(workdir, capsys, change, needles):
    path = workdir / "study.yaml"
    path.write_text(yaml.safe_dump({**STUDY, **change}))
    code, err = _run(["compare", path, "--out", workdir / "out"], capsys)
    _assert_one_error(code, err, [str(path), *needles])
    assert _tree(workdir) == {"study.yaml"}


def _good_config(workdir) -> dict:
    settings = RunSettings(dataset="digits", model="cnn-tiny", runs_dir=str(workdir / "runs"), quiet=True)
    return {**settings.to_dict(), "spec": build_spec("cnn-tiny", (1, 8, 8), 10)}


@pytest.mark.parametrize("change,needles", [case[1:] for case in CONFIGS], ids=[case[0] for case in CONFIGS])
def test_bad_config_file(workdir, capsys, change, needles):
    config = _good_config(workdir)
    change(config)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    code, err = _run(["train", "--config", path], capsys)
    _assert_one_error(code, err, needles)
    assert _tree(workdir) == {"config.yaml"}


@pytest.mark.parametrize("content,needles", [case[1:] for case in SPECS], ids=[case[0] for case in SPECS])
def test_bad_spec_file(workdir, capsys, content, needles):
    path = workdir / "model.yaml"
    spec = {"layers": [*content, *LOGITS]} if isinstance(content, list) else {"layers": LOGITS, **content}
    path.write_text(yaml.safe_dump(spec))
    code, err = _run(["train", "--dataset", "digits", "--model", path], capsys)
    _assert_one_error(code, err, [str(path), *needles])
    assert _tree(workdir) == {"model.yaml"}


def test_the_table_is_large_enough():
    assert len(FLAGS) + len(STUDIES) + len(CONFIGS) + len(SPECS) >= 60


def test_python_api_checks_values_where_they_are_set(tmp_path):
    with pytest.raises(ImgbenchError, match=r"train\.lr must be a finite number > 0, got -1"):
        RunSettings(train={"lr": -1})
    with pytest.raises(ImgbenchError, match="batch_size must be an integer >= 1, got 0"):
        TrainConfig(batch_size=0)
    with pytest.raises(ImgbenchError, match="unknown training settings"):
        TrainConfig.from_dict({"epoch": 3})
    settings = RunSettings(runs_dir=str(tmp_path / "runs"), early_stopping="val_loss")
    settings.train.val_split = 0.0  # changed after it was checked: train() checks again before writing
    with pytest.raises(ImgbenchError, match="needs validation data"):
        imgbench.train(settings)
    assert not (tmp_path / "runs").exists()


def test_config_reruns_its_edited_train_and_spec_sections(workdir, capsys):
    """`--config` trains what the file says, edits included; `--model` builds that model instead."""
    config = _good_config(workdir)
    config["train"].update(epochs=2, max_steps=3)
    config["spec"]["layers"][0]["filters"] = 4  # conv1: 16 -> 4 filters
    path = workdir / "edited.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    assert _run(["train", "--config", path, "--name", "edited"], capsys)[0] == 0
    assert _run(["train", "--config", path, "--name", "rebuilt", "--model", "cnn-tiny"], capsys)[0] == 0
    edited = yaml.safe_load((workdir / "runs" / "edited" / "config.yaml").read_text())
    rebuilt = yaml.safe_load((workdir / "runs" / "rebuilt" / "config.yaml").read_text())
    assert edited["train"]["epochs"] == rebuilt["train"]["epochs"] == 2
    assert edited["spec"]["layers"][0]["filters"] == 4 and rebuilt["spec"]["layers"][0]["filters"] == 16
    metrics = {r: json.loads((workdir / "runs" / r / "metrics.json").read_text()) for r in ("edited", "rebuilt")}
    assert metrics["edited"]["param_count"] < metrics["rebuilt"]["param_count"]


def test_resume_refuses_flags_it_would_ignore(workdir, capsys):
    config = _good_config(workdir)
    config["train"].update(epochs=1, max_steps=2)
    path = workdir / "c.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    assert _run(["train", "--config", path, "--name", "r"], capsys)[0] == 0
    run = workdir / "runs" / "r"
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    code, err = _run(["train", "--resume", run, "--epochs", "5", "--no-augment"], capsys)
    _assert_one_error(code, err, ["--epochs, --augment would be ignored", f"--config {run / 'config.yaml'}"])
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before


def test_a_spec_name_with_spaces_gives_a_folder_safe_run_name(tmp_path):
    spec = build_spec("mlp-small", (1, 8, 8), 10)
    spec["name"] = "my little net"  # free text: it names the model in reports, not a folder
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    argv = ["train", "--dataset", "digits", "--model", str(path), "--max-steps", "2", "--runs-dir", str(tmp_path)]
    assert main([*argv, "--quiet"]) == 0
    assert (tmp_path / "digits-my-little-net-numpy" / "metrics.json").exists()

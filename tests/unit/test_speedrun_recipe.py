"""The pieces of the CIFAR-10 speed-run recipe (imgbench/engines/torch/speedrun.py), each against its definition."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from imgbench.engines.torch import speedrun as sr  # noqa: E402
from imgbench.errors import ImgbenchError  # noqa: E402


def test_whitening_filters_decorrelate_the_patches_they_were_fitted_on():
    g = torch.Generator().manual_seed(0)
    mixing = torch.randn(3, 3, generator=g)
    base = torch.randn(200, 3, 12, 12, generator=g)
    images = torch.einsum("ij,njhw->nihw", mixing, base)  # correlated channels
    images = images + 0.5 * torch.roll(images, 1, dims=3)  # and correlated neighbours
    conv = torch.nn.Conv2d(3, 24, 2, bias=False)
    sr.init_whitening(conv, images, eps=0.0)
    with torch.no_grad():
        out = conv(images.double().float()).double()
    half = out[:, :12].permute(0, 2, 3, 1).reshape(-1, 12)  # the other half is its negative
    cov = half.T @ half / len(half)
    assert torch.allclose(cov, torch.eye(12, dtype=torch.float64), atol=2e-3)
    assert torch.equal(out[:, 12:], -out[:, :12])


def test_dirac_initialised_convolution_starts_as_the_identity_on_its_inputs():
    conv = sr._Conv(5, 8)
    x = torch.randn(2, 5, 6, 6)
    with torch.no_grad():
        y = conv(x)
    assert torch.allclose(y[:, :5], x, atol=1e-6)  # the first in_channels filters pass their channel through
    assert not torch.allclose(y[:, 5:], torch.zeros_like(y[:, 5:]))  # the rest keep PyTorch's random init


def test_network_shapes_and_frozen_parameters():
    recipe = sr.SpeedrunRecipe(widths=(8, 16, 16))
    net = sr.speedrun_net(recipe, num_classes=10)
    assert net(torch.randn(3, 3, 32, 32)).shape == (3, 10)
    assert sr.speedrun_net(recipe, 4, in_channels=1)(torch.randn(2, 1, 28, 28)).shape == (2, 4)
    frozen = {name for name, p in net.named_parameters() if not p.requires_grad}
    # the whitening filters and every BatchNorm scale; BatchNorm biases and the whitening bias learn
    assert "0.weight" in frozen and "0.bias" not in frozen
    assert {n for n in frozen if n.endswith(".weight") and n != "0.weight"} == {
        f"{g}.{i}.weight" for g in (2, 3, 4) for i in (2, 5)
    }


def test_sgd_groups_undo_the_momentum_gain_and_scale_the_batchnorm_biases():
    recipe = sr.SpeedrunRecipe(widths=(8, 16, 16))
    net = sr.speedrun_net(recipe)
    groups, lr = sr.sgd_groups(net, recipe, batch_size=512)
    assert lr == pytest.approx(recipe.lr / (1024 * (1 + 1 / 0.15)))
    norm, other = groups
    assert norm["lr"] == pytest.approx(64 * lr)
    # PyTorch's decay step is lr * wd * w: the same decoupled decay per step in both groups
    assert norm["lr"] * norm["weight_decay"] == pytest.approx(other["lr"] * other["weight_decay"])
    assert other["lr"] * other["weight_decay"] == pytest.approx(0.0153 * 512 / (1024 * (1 + 1 / 0.15)))
    assert len(norm["params"]) == 6  # one bias per BatchNorm
    counted = sum(p.numel() for g in groups for p in g["params"])
    assert counted == sum(p.numel() for p in net.parameters())


def test_learning_rate_schedule_warms_up_then_decays_linearly():
    recipe = sr.SpeedrunRecipe()
    total = 100
    factors = [sr.lr_factor(s, total, recipe) for s in range(total + 1)]
    assert factors[0] == pytest.approx(0.2)
    assert max(factors) == pytest.approx(1.0) and factors.index(max(factors)) == 23
    assert factors[-1] == pytest.approx(recipe.final_lr_fraction)
    assert all(a <= b for a, b in zip(factors[:23], factors[1:24], strict=True))
    assert all(a >= b for a, b in zip(factors[23:-1], factors[24:], strict=True))


def test_lookahead_moves_weights_to_the_running_average():
    net = torch.nn.Linear(2, 1)
    with torch.no_grad():
        net.weight.fill_(0.0)
    la = sr.Lookahead(net)
    with torch.no_grad():
        net.weight.fill_(1.0)
    la.update(net, decay=0.75)
    assert torch.allclose(net.weight, torch.full_like(net.weight, 0.25))
    with torch.no_grad():
        net.weight.fill_(2.0)
    la.update(net, decay=1.0)  # decay 1 keeps the average: the model returns to it
    assert torch.allclose(net.weight, torch.full_like(net.weight, 0.25))
    decays = sr.lookahead_decays(10)
    assert decays[0] == 0 and decays[-1] == pytest.approx(0.95**5)


def test_translation_is_a_crop_of_the_reflect_padded_image():
    images = torch.arange(4 * 2 * 5 * 5, dtype=torch.float32).reshape(4, 2, 5, 5)
    out = sr.random_translate(images, 2, torch.Generator().manual_seed(3))
    padded = torch.nn.functional.pad(images, (2,) * 4, mode="reflect")
    for i in range(4):
        crops = [padded[i, :, dy : dy + 5, dx : dx + 5] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i], c) for c in crops)


def test_alternating_flips_flip_each_image_in_every_other_epoch():
    images = torch.randn(64, 1, 3, 4)
    aug = sr.Augmentation(translate=0, flip=True, generator=torch.Generator().manual_seed(0))
    e0, e1, e2 = (aug.epoch(images, e) for e in range(3))
    flipped0 = torch.tensor([torch.equal(a, b.flip(-1)) for a, b in zip(e0, images, strict=True)])
    flipped1 = torch.tensor([torch.equal(a, b.flip(-1)) for a, b in zip(e1, images, strict=True)])
    assert torch.equal(flipped0, ~flipped1)  # each image flipped in exactly one of two consecutive epochs
    assert 16 < int(flipped0.sum()) < 48
    assert torch.equal(e0, e2)


def test_test_time_augmentation_levels():
    net = sr.speedrun_net(sr.SpeedrunRecipe(widths=(4, 8, 8)))
    net.eval()
    x = torch.randn(6, 3, 32, 32)
    with torch.no_grad():
        plain = net(x)
        mirrored = (net(x) + net(x.flip(-1))) / 2
    assert torch.allclose(sr.tta_logits(net, x, 0, batch_size=4), plain, atol=1e-6)
    assert torch.allclose(sr.tta_logits(net, x, 1, batch_size=4), mirrored, atol=1e-6)
    # an image symmetric under mirroring and shifts (a constant) gets the same logits at every level
    const = torch.ones(2, 3, 32, 32)
    assert torch.allclose(sr.tta_logits(net, const, 2), sr.tta_logits(net, const, 0), atol=1e-5)


@pytest.mark.slow  # about 20 s: two trainings
def test_training_learns_separable_classes_and_is_seeded():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(256) % 2
    x = torch.randn(256, 3, 32, 32, generator=g) * 0.5 + (2 * y - 1).view(-1, 1, 1, 1).float()
    recipe = sr.SpeedrunRecipe(epochs=4, batch_size=64, widths=(8, 16, 16), precision="fp32", whitening_images=64)
    rows: list[dict] = []
    net = sr.train_speedrun(recipe, x, y, seed=1, on_epoch=rows.append)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert rows[-1]["train_acc"] > 0.9
    assert (sr.tta_logits(net, x, 2).argmax(1) == y).float().mean() > 0.95
    again = sr.train_speedrun(recipe, x, y, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values(), strict=True))


def test_fractional_epochs_stop_within_the_last_epoch():
    recipe = sr.SpeedrunRecipe(epochs=1.5, batch_size=32, widths=(4, 8, 8), precision="fp32", whitening_images=32)
    rows: list[dict] = []
    x, y = torch.randn(128, 3, 32, 32), torch.arange(128) % 4
    sr.train_speedrun(recipe, x, y, seed=0, on_epoch=rows.append)
    assert len(rows) == math.ceil(1.5)
    # 4 steps an epoch, 6 in all: the last row's rate is the schedule's at step 5 of 6, not of 8
    base = recipe.lr / (1024 * (1 + 1 / 0.15))
    assert rows[-1]["lr"] == pytest.approx(base * sr.lr_factor(5, 6, recipe))


@pytest.mark.parametrize(
    "change", [{"epochs": 0}, {"tta_level": 3}, {"precision": "fp16"}, {"widths": (8, 8)}, {"batch_size": 0}]
)
def test_recipe_rejects_values_out_of_range(change):
    with pytest.raises(ImgbenchError, match=next(iter(change))):
        sr.SpeedrunRecipe(**change)

"""A CIFAR-10 speed-run trainer for the PyTorch engine: a small fixed network and the recipe that trains it fast.

The ideas are Keller Jordan's airbench (https://github.com/KellerJordan/cifar10-airbench, "94% on CIFAR-10 in
3.29 seconds on a single GPU", arXiv:2404.00498), which builds on David Page's "How to train your ResNet"
(myrtle.ai) and tysam-code's hlb-CIFAR10; the code here is written for imgbench and for a CPU:

- the first convolution is a fixed 2x2 *patch-whitening* layer, initialised from the eigenvectors of the
  covariance of 2x2 training patches (both signs, so the GELU after it keeps all the information), with a
  bias trained for the first epochs only;
- three conv groups (conv, max-pool, BatchNorm, GELU, conv, BatchNorm, GELU), convolutions *Dirac*-initialised
  (each starts out as the identity on its first input channels), BatchNorm with a frozen scale of one and a
  bias learning rate 64 times the rest's;
- Nesterov SGD with hyperparameters per 1024 examples (decoupled from momentum and batch size), a warm-up then
  linear decay, label smoothing 0.2, logits scaled by 1/9;
- *lookahead*: every 5 steps the weights move to an exponential average of themselves, the average's decay
  falling along a cubic schedule so the last steps are averaged least;
- augmentation: random 2-pixel translation (reflect padding) and *alternating* flips (a random half of the
  images flipped in even epochs, the other half in odd ones), drawn with a seeded generator;
- test-time augmentation: logits averaged over the image, its mirror, and one-pixel shifts of both.

On a CPU it runs channels-last in bfloat16 autocast where the CPU has AVX-512 BF16 or AMX (the loss in
float32; the weights, their average and the optimiser state stay float32): a training step at batch 512 took
1.19 s against float32's 1.84 s on the project's 2-core CPU (a throwaway timing of this network).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ...errors import ImgbenchError
from ...options import COMMAND_OPTIONS, SPEEDRUN_PRECISIONS


@dataclass(frozen=True)
class SpeedrunRecipe:
    """Every knob of the recipe; the defaults are airbench94's except where a comment says otherwise."""

    # airbench94 trains 9.9 epochs for 94% on the original CIFAR-10, 90.8% on the JPEG (quality 75) copy here;
    # 24 epochs at airbench95's rate (its longer schedule's) gave 91.3% in 42 minutes on 2 CPU cores (README).
    # The knobs that are command-line flags take their defaults from the flags' definitions.
    epochs: float = COMMAND_OPTIONS["speedrun_epochs"].default
    batch_size: int = 1024
    lr: float = 10.0  # per 1024 examples, before the momentum correction (see :func:`sgd_groups`); airbench95's
    momentum: float = 0.85
    weight_decay: float = 0.0153  # per 1024 examples, decoupled from the learning rate
    bias_scaler: float = 64.0  # BatchNorm biases learn this much faster (their weight decay is not scaled)
    label_smoothing: float = 0.2
    whiten_bias_epochs: int = 3
    translate: int = 2
    flip: bool = True
    widths: tuple[int, int, int] = (64, 256, 256)
    batchnorm_momentum: float = 0.6  # airbench's convention: the running statistics keep this much of themselves
    logit_scale: float = 1 / 9
    tta_level: int = COMMAND_OPTIONS["tta_level"].default  # 0 none, 1 mirror, 2 mirror and one-pixel shifts
    warmup_fraction: float = 0.23
    final_lr_fraction: float = 0.07
    lookahead_every: int = 5
    whitening_images: int = 5000  # training images whose 2x2 patches set the whitening layer
    precision: str = COMMAND_OPTIONS["speedrun_precision"].default  # 'auto' (bf16 where the CPU has it), fp32, bf16

    def __post_init__(self) -> None:
        checks = {
            "epochs": self.epochs > 0,
            "batch_size": self.batch_size >= 1,
            "tta_level": self.tta_level in (0, 1, 2),
            "precision": self.precision in SPEEDRUN_PRECISIONS,
            "widths": len(self.widths) == 3 and all(w >= 1 for w in self.widths),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ImgbenchError(
                f"speed-run recipe: {bad[0]} = {getattr(self, bad[0])!r} is out of range (epochs > 0, batch_size >= 1, "
                "tta_level 0-2, precision auto/fp32/bf16, three widths >= 1)"
            )

    def to_dict(self) -> dict:
        """The recipe as plain data (lists for tuples), for config.yaml."""
        d = asdict(self)
        d["widths"] = list(self.widths)
        return d


class _BatchNorm(nn.BatchNorm2d):
    """BatchNorm with its scale frozen at one (only the bias learns)."""

    def __init__(self, channels: int, momentum: float):
        super().__init__(channels, eps=1e-12, momentum=1 - momentum)
        self.weight.requires_grad = False


class _Conv(nn.Conv2d):
    """3x3 'same' convolution without bias, Dirac-initialised on its first ``in_channels`` filters."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int = 3, padding: str | int = "same", bias: bool = False):
        super().__init__(c_in, c_out, kernel_size=kernel_size, padding=padding, bias=bias)

    def reset_parameters(self) -> None:
        super().reset_parameters()  # PyTorch's default (Kaiming-uniform) for the filters the identity leaves
        if self.bias is not None:
            self.bias.data.zero_()
        w = self.weight.data
        nn.init.dirac_(w[: w.size(1)])


class _ConvGroup(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, bn_momentum: float):
        super().__init__(
            _Conv(c_in, c_out),
            nn.MaxPool2d(2),
            _BatchNorm(c_out, bn_momentum),
            nn.GELU(),
            _Conv(c_out, c_out),
            _BatchNorm(c_out, bn_momentum),
            nn.GELU(),
        )


class _Scale(nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


def speedrun_net(recipe: SpeedrunRecipe, num_classes: int = 10, in_channels: int = 3) -> nn.Sequential:
    """The recipe's network: a 2x2 whitening conv, GELU, three conv groups, max-pool 3, linear, scale."""
    w1, w2, w3 = recipe.widths
    whiten_width = 2 * in_channels * 2 * 2
    net = nn.Sequential(
        _Conv(in_channels, whiten_width, kernel_size=2, padding=0, bias=True),
        nn.GELU(),
        _ConvGroup(whiten_width, w1, recipe.batchnorm_momentum),
        _ConvGroup(w1, w2, recipe.batchnorm_momentum),
        _ConvGroup(w2, w3, recipe.batchnorm_momentum),
        nn.MaxPool2d(3),
        nn.Flatten(),
        nn.Linear(w3, num_classes, bias=False),
        _Scale(recipe.logit_scale),
    )
    net[0].weight.requires_grad = False  # the whitening filters are set from data, never trained
    return net


def init_whitening(conv: nn.Conv2d, images: torch.Tensor, eps: float = 5e-4) -> None:
    """Set ``conv``'s filters to whiten its k x k patches of ``images`` (N, C, H, W float, normalised).

    With the patch covariance ``S = V diag(l) V^T`` the filters are the rows of ``diag(l + eps)^-1/2 V^T``
    (largest eigenvalue first) and their negatives: the outputs are decorrelated with unit variance.
    """
    c, (kh, kw) = images.shape[1], conv.weight.shape[2:]
    patches = images.unfold(2, kh, 1).unfold(3, kw, 1).transpose(1, 3).reshape(-1, c, kh, kw).double()
    flat = patches.reshape(len(patches), -1)
    eigenvalues, eigenvectors = torch.linalg.eigh(flat.T @ flat / len(flat))  # ascending
    eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.T.flip(0)
    filters = (eigenvectors / torch.sqrt(eigenvalues + eps)[:, None]).reshape(-1, c, kh, kw)
    conv.weight.data[:] = torch.cat((filters, -filters)).to(conv.weight.dtype)


def sgd_groups(net: nn.Module, recipe: SpeedrunRecipe, batch_size: int) -> tuple[list[dict], float]:
    """Parameter groups for ``torch.optim.SGD`` from the recipe's decoupled hyperparameters.

    With Nesterov momentum ``m`` and a constant gradient, a step is ``1 + 1/(1 - m)`` times the gradient step;
    dividing the rate by that (and by 1024 examples, as the loss is summed) lets momentum and batch size change
    without retuning the rate.  PyTorch multiplies weight decay by the rate, so it is divided back out.
    Returns the groups and the base learning rate (the schedule multiplies it).
    """
    per_step = 1024 * (1 + 1 / (1 - recipe.momentum))
    lr = recipe.lr / per_step
    wd = recipe.weight_decay * batch_size / per_step
    lr_bias = lr * recipe.bias_scaler
    norm = [p for m in net.modules() if isinstance(m, _BatchNorm) for p in m.parameters() if p.requires_grad]
    ids = {id(p) for p in norm}
    other = [p for p in net.parameters() if id(p) not in ids]  # the whitening bias too (frozen later)
    groups = [
        {"params": norm, "lr": lr_bias, "weight_decay": wd / lr_bias, "base_lr": lr_bias},
        {"params": other, "lr": lr, "weight_decay": wd / lr, "base_lr": lr},
    ]
    return groups, lr


def lr_factor(step: int, total: int, recipe: SpeedrunRecipe) -> float:
    """The schedule: linear from 0.2 to 1 over the warm-up fraction, then linear down to ``final_lr_fraction``."""
    warmup = int(total * recipe.warmup_fraction)
    if step < warmup:
        frac = step / warmup
        return 0.2 * (1 - frac) + frac
    frac = (step - warmup) / max(total - warmup, 1)
    return (1 - frac) + recipe.final_lr_fraction * frac


class Lookahead:
    """An exponential average of every float tensor of the state (weights and BatchNorm statistics).

    ``update(decay)`` moves the average towards the weights by ``1 - decay`` and copies it back into the model.
    """

    def __init__(self, net: nn.Module):
        self.average = {k: v.detach().clone() for k, v in net.state_dict().items()}

    @torch.no_grad()
    def update(self, net: nn.Module, decay: float) -> None:
        """Average in the current weights with weight ``1 - decay``, then set the model to the average."""
        for avg, current in zip(self.average.values(), net.state_dict().values(), strict=True):
            if current.is_floating_point():
                avg.lerp_(current, 1 - decay)
                current.copy_(avg)


def lookahead_decays(total: int) -> torch.Tensor:
    """Decay for step 0..total: ``0.95**5 * (step / total)**3`` (little averaging early, most at the end)."""
    return 0.95**5 * (torch.arange(total + 1, dtype=torch.float64) / total) ** 3


@dataclass
class Augmentation:
    """Alternating flips and random translations of a whole epoch, from one seeded generator."""

    translate: int
    flip: bool
    generator: torch.Generator
    _flip_mask: torch.Tensor | None = field(default=None, repr=False)

    def epoch(self, images: torch.Tensor, epoch: int) -> torch.Tensor:
        """The epoch's augmented copy of ``images`` (N, C, H, W)."""
        out = images
        if self.flip:
            if self._flip_mask is None:  # each image's half: flipped in even epochs or in odd ones
                self._flip_mask = (torch.rand(len(images), generator=self.generator) < 0.5).to(images.device)
            mask = self._flip_mask if epoch % 2 == 0 else ~self._flip_mask
            out = torch.where(mask.view(-1, 1, 1, 1), images.flip(-1), images)
        if self.translate > 0:
            out = random_translate(out, self.translate, self.generator)
        return out


def random_translate(images: torch.Tensor, r: int, generator: torch.Generator) -> torch.Tensor:
    """Each image shifted by up to ``r`` pixels each way, the edge reflected (crops of the reflect-padded image)."""
    n, c, h, w = images.shape
    padded = F.pad(images, (r,) * 4, mode="reflect")
    shifts = torch.randint(0, 2 * r + 1, (n, 2), generator=generator).to(images.device)
    out = torch.empty_like(images)
    for dy in range(2 * r + 1):  # (2r+1)^2 masked copies: vectorised, unlike a crop per image
        for dx in range(2 * r + 1):
            mask = (shifts[:, 0] == dy) & (shifts[:, 1] == dx)
            if mask.any():
                out[mask] = padded[mask, :, dy : dy + h, dx : dx + w]
    return out


def tta_logits(net: nn.Module, images: torch.Tensor, level: int, batch_size: int = 1000) -> torch.Tensor:
    """Logits (float32) of ``images``, averaged over test-time augmentations up to ``level``.

    Level 1 averages each image with its mirror; level 2 adds one-pixel shifts up-left and down-right (reflect
    padding), each with its mirror, weighted so the untranslated pair counts half.
    """

    def mirror(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * net(x).float() + 0.5 * net(x.flip(-1)).float()

    def views(x: torch.Tensor) -> torch.Tensor:
        if level == 0:
            return net(x).float()
        if level == 1:
            return mirror(x)
        h, w = x.shape[-2:]
        padded = F.pad(x, (1,) * 4, mode="reflect")
        shifted = (mirror(padded[:, :, 0:h, 0:w]) + mirror(padded[:, :, 2 : h + 2, 2 : w + 2])) / 2
        return 0.5 * mirror(x) + 0.5 * shifted

    net.eval()
    with torch.no_grad():
        return torch.cat([views(x) for x in images.split(batch_size)])


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


def use_bf16(precision: str, device: torch.device | None = None) -> bool:
    """Whether to train in bfloat16 autocast: asked for, or 'auto' on CUDA or a CPU with native bf16 instructions."""
    if precision == "auto":
        if device is not None and device.type == "cuda":
            return True
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return precision == "bf16"


def train_speedrun(
    recipe: SpeedrunRecipe,
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    seed: int,
    on_epoch: Callable[[dict], None] = lambda row: None,
    device: torch.device | None = None,
) -> nn.Module:
    """Train the recipe's network on normalised ``train_images`` (N, C, H, W float32); returns the trained net.

    ``on_epoch`` gets one row per epoch: epoch, train_loss, train_acc (of the augmented batches, as trained),
    lr (the last step's, of the non-BatchNorm group) and seconds.  ``device`` (default the CPU) holds the
    network and the images; the random draws come from a seeded CPU generator, so they do not depend on it.
    """
    device = device or torch.device("cpu")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    num_classes = int(train_labels.max()) + 1
    net = speedrun_net(recipe, num_classes, train_images.shape[1]).to(device)
    net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # (stubs lack the keyword)
    train_images, train_labels = train_images.to(device), train_labels.to(device)
    bf16 = use_bf16(recipe.precision, device)
    n = len(train_images)
    batch_size = min(recipe.batch_size, n)  # the rates are per example: a smaller batch needs no retuning
    steps_per_epoch = n // batch_size  # full batches only; each epoch leaves out other images
    total = math.ceil(steps_per_epoch * recipe.epochs)
    groups, _ = sgd_groups(net, recipe, batch_size)
    optimizer = torch.optim.SGD(groups, momentum=recipe.momentum, nesterov=True)
    decays = lookahead_decays(total)
    augment = Augmentation(recipe.translate, recipe.flip, generator)
    whiten = net[0]
    # A random sample: the first images of a folder dataset are all of its first class.
    sample = torch.randperm(n, generator=generator)[: recipe.whitening_images].to(device)
    init_whitening(whiten, train_images[sample])
    lookahead = Lookahead(net)
    step = 0
    for epoch in range(math.ceil(recipe.epochs)):
        t0 = time.perf_counter()
        whiten.bias.requires_grad = epoch < recipe.whiten_bias_epochs
        net.train()
        images = augment.epoch(train_images, epoch)
        order = torch.randperm(n, generator=generator).to(device)
        # Sums stay on the device: reading a number back each step would make a GPU wait for it.
        loss_sum, hits, seen = torch.zeros((), device=device), torch.zeros((), device=device), 0
        for batch in _batches(order, batch_size):
            x, y = _channels_last(images[batch]), train_labels[batch]
            factor = lr_factor(step, total, recipe)
            for g in optimizer.param_groups:
                g["lr"] = g["base_lr"] * factor
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = net(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=recipe.label_smoothing, reduction="sum")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            loss_sum += loss.detach()
            hits += (logits.argmax(1) == y).sum()
            seen += len(y)
            if step % recipe.lookahead_every == 0:
                lookahead.update(net, float(decays[step]))
            if step >= total:
                lookahead.update(net, 1.0)  # the last weights are the average's
                break
        if device.type == "cuda":
            torch.cuda.synchronize()  # the epoch's time includes its queued GPU work
        on_epoch(
            {
                "epoch": epoch + 1,
                "train_loss": float(loss_sum) / seen,
                "train_acc": float(hits) / seen,
                "lr": optimizer.param_groups[1]["lr"],
                "seconds": time.perf_counter() - t0,
            }
        )
    return net


def _batches(order: torch.Tensor, batch_size: int) -> Iterator[torch.Tensor]:
    for start in range(0, len(order) - batch_size + 1, batch_size):
        yield order[start : start + batch_size]


def predict_logits(net: nn.Module, images: torch.Tensor, recipe: SpeedrunRecipe) -> np.ndarray:
    """Test-time-augmented logits of normalised ``images`` as a float32 NumPy array (on the network's device)."""
    device = next(net.parameters()).device
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16(recipe.precision, device)):
        return tta_logits(net, _channels_last(images.to(device)), recipe.tta_level).cpu().numpy()

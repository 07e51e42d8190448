"""The PyTorch engine behind the common adapter protocol used by the training loop."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ...errors import ImgbenchError
from ...specs import is_convolutional
from ..base import (
    DEVICES,
    EngineOptions,
    engine_options,
    in_layers,
    pick_optimizer,
    reading_weights,
    resolve_precision,
    zero_logits,
)
from .model import (
    attention_layers,
    attention_probabilities,
    build_torch_model,
    load_numpy_state,
    numpy_state,
)


def pick_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; an explicit choice must be available."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ImgbenchError("--device cuda: no CUDA device is available to PyTorch here")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ImgbenchError("--device mps: Apple's MPS backend is not available here")
    if device not in DEVICES:
        raise ImgbenchError(f"unknown device '{device}': expected {', '.join(DEVICES)}")
    return torch.device(device)


# One constructor per name in engines.base.OPTIMIZERS: the torch.optim twins of the NumPy engine's.
_OPTIMIZERS = {
    "sgd": lambda params, o: torch.optim.SGD(
        params, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov, weight_decay=o.weight_decay
    ),
    "adam": lambda params, o: torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay),
    "adamw": lambda params, o: torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay),
}


def make_optimizer(params: Any, options: EngineOptions) -> torch.optim.Optimizer:
    """The torch.optim optimiser ``options.optimizer`` over ``params``."""
    return pick_optimizer(_OPTIMIZERS, options.optimizer)(params, options)


AMP_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class TorchEngine:
    """The PyTorch engine behind :class:`~imgbench.engines.base.Engine`; it honours every engine option.

    Convolutional models run channels-last (NHWC) on the CPU and on CUDA:
    oneDNN's and cuDNN's convolutions are faster in that layout (resnet-small
    trains 1.36x faster on 2 CPU cores; ``benchmarks/torch_cpu.py``), and it
    is the same fp32 arithmetic up to the order of sums.  ``channels_last=False``
    keeps NCHW (for benchmarks; the engine's own option).  ``precision`` is ``fp32``, ``bf16`` or
    ``fp16`` autocast; ``auto`` means bf16 on CUDA and fp32 elsewhere, so CPU
    runs stay comparable with the NumPy engine unless bf16 is asked for.
    ``deterministic`` asks PyTorch for deterministic kernels; ``threads``
    sets the CPU thread count.
    """

    name = "torch"

    def __init__(
        self, spec: dict, options: EngineOptions | None = None, *, channels_last: bool | None = None, **overrides: Any
    ):
        options = engine_options(options, overrides)
        seed, precision, device = options.seed, options.precision, options.device
        if options.threads:
            torch.set_num_threads(int(options.threads))
        if options.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        self.device = pick_device(device)
        self.spec = spec
        self.model = build_torch_model(spec, seed=seed).to(self.device)
        if channels_last is None:
            channels_last = self.device.type in ("cpu", "cuda")
        self.channels_last = bool(channels_last) and is_convolutional(spec)
        if self.channels_last:
            # memory_format is a documented keyword of Module.to that torch's overload stubs leave out.
            self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        precision = resolve_precision(precision, on_gpu=self.device.type == "cuda")
        self.amp_dtype = AMP_DTYPES[precision]
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype is torch.float16 else None
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=options.label_smoothing)
        self.options = options  # freeze() builds a fresh optimiser from them
        self.optimizer = make_optimizer(self.model.parameters(), options)
        self.frozen_norms: list[nn.Module] = []  # BatchNorm modules kept in eval() while the model trains

    def _to_device(self, X: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(X)).to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.ndim == 4 else x

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = float(lr)

    def freeze(self, layers) -> None:
        """``requires_grad`` off for the named layers' parameters, which a fresh optimiser leaves out;
        their BatchNorm modules stay in ``eval()`` mode while the model trains."""
        for name, p in self.model.named_parameters():
            p.requires_grad_(not in_layers(name.rpartition(".")[0], layers))
        self.frozen_norms = [
            m
            for n, m in self.model.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and in_layers(n, layers)
        ]
        self.optimizer = make_optimizer([p for p in self.model.parameters() if p.requires_grad], self.options)

    def fit_batch(self, X: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        """One optimisation step; returns the batch's mean loss and number of correct predictions."""
        self.model.train()
        for module in self.frozen_norms:
            module.eval()
        xt, yt = self._to_device(X), torch.from_numpy(y).to(self.device)
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            logits = self.model(xt)
            loss = self.loss_fn(logits.float(), yt)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        return float(loss.detach()), int((logits.detach().argmax(1) == yt).sum())

    @torch.no_grad()
    def predict_logits(self, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Logits in evaluation mode, as float32 NumPy."""
        self.model.eval()
        out = []
        for i in range(0, len(X), batch_size):
            with self._autocast():
                out.append(self.model(self._to_device(X[i : i + batch_size])).float().cpu().numpy())
        return np.concatenate(out) if out else zero_logits(self.spec["num_classes"])

    @torch.no_grad()
    def activations(self, X: np.ndarray, layer_names=None) -> dict[str, np.ndarray]:
        """Outputs of the named top-level layers (all if None), NCHW / (N, F) NumPy arrays."""
        self.model.eval()
        x = self._to_device(X)
        out = {}
        for name in self.model.order:
            x = getattr(self.model, name)(x)
            if layer_names is None or name in layer_names:
                out[name] = x.float().contiguous().cpu().numpy()
        return out

    @torch.no_grad()
    def attention_maps(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Each attention's probabilities ``(N, heads, T, T)``, in float32 (no autocast): forward pre-hooks
        keep the input of every attention layer and transformer block, from which they are recomputed."""
        self.model.eval()
        layers = attention_layers(self.model)
        if not layers:
            return {}
        inputs: dict[str, torch.Tensor] = {}
        hooks = [
            module.register_forward_pre_hook(lambda _, args, key=key: inputs.__setitem__(key, args[0]))
            for key, module in layers.items()
        ]
        try:
            self.model(self._to_device(X))
        finally:
            for hook in hooks:
                hook.remove()
        return {key: attention_probabilities(m, inputs[key]).float().cpu().numpy() for key, m in layers.items()}

    def input_gradient(self, X: np.ndarray, classes) -> np.ndarray:
        """``d logits[n, classes[n]] / d X[n]`` in evaluation mode (saliency), shaped like ``X``."""
        self.model.eval()
        x = self._to_device(X).detach().requires_grad_(True)
        logits = self.model(x).float()
        idx = torch.as_tensor(np.asarray(classes), device=logits.device)
        logits.gather(1, idx[:, None]).sum().backward()
        self.model.zero_grad(set_to_none=True)
        assert x.grad is not None  # x requires grad and the logits depend on it
        return x.grad.float().contiguous().cpu().numpy()

    def param_count(self) -> int:
        return int(sum(p.numel() for p in self.model.parameters()))

    def state_dict(self) -> dict[str, np.ndarray]:
        return numpy_state(self.model)

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        load_numpy_state(self.model, dict(state))

    def save(self, path) -> None:
        """The model's ``state_dict`` as ``.pt`` (tensors only), written atomically."""
        from ...fileio import atomic_write

        with atomic_write(path, "wb") as fh:
            torch.save(self.model.state_dict(), fh)

    def reseed(self, seed: int, epoch: int) -> None:
        """Dropout masks depend only on (seed, epoch), so a resumed run repeats them."""
        torch.manual_seed(seed * 100_003 + epoch)

    def save_checkpoint(self, path) -> None:
        """Model and optimiser state (tensors and numbers only), atomically, for ``--resume``."""
        from ...fileio import atomic_write

        with atomic_write(path, "wb") as fh:
            torch.save({"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}, fh)

    def load_checkpoint(self, path) -> None:
        """Restore what :meth:`save_checkpoint` wrote (``weights_only=True``)."""
        with reading_weights(path, "a PyTorch checkpoint for this model"):
            state = torch.load(path, map_location=self.device, weights_only=True)
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])

    def load(self, path) -> None:
        """Load a ``.pt`` state_dict safely (``weights_only=True``: tensors, never arbitrary objects)."""
        with reading_weights(path, "PyTorch weights for this model"):
            state = torch.load(path, map_location=self.device, weights_only=True)
            self.model.load_state_dict(state, strict=True)


if TYPE_CHECKING:  # mypy holds the class to the adapter protocol
    from ..base import Engine

    def _conforms(engine: TorchEngine) -> Engine:
        return engine

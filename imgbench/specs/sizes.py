"""The model zoo sized for a named dataset: what ``imgbench models`` lists."""

from __future__ import annotations

from typing import Any

from ..data.catalog import CATALOG, DatasetInfo
from ..data.load import resolve_name
from ..errors import ImgbenchError
from . import ZOO, SpecError, build_spec, param_count


def zoo_sizes(dataset: str) -> tuple[DatasetInfo, list[dict[str, Any]]]:
    """The named ``dataset`` and, for every zoo model, its parameter count on that input shape.

    A model that does not fit the shape gets ``params`` None and the reason in ``note``.
    """
    name = resolve_name(dataset)
    if name not in CATALOG:
        raise ImgbenchError("--dataset takes a named dataset (mnist, fashion-mnist, cifar10, digits)")
    info = CATALOG[name]
    rows: list[dict[str, Any]] = []
    for model in ZOO:
        n: int | None
        try:
            n, note = param_count(build_spec(model, info.image_shape, len(info.class_names))), ""
        except SpecError as exc:
            n, note = None, str(exc)
        rows.append(
            {"model": model, "params": n, "doc": (ZOO[model].__doc__ or "").strip().split("\n")[0], "note": note}
        )
    return info, rows

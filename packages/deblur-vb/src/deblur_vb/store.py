"""The shipped weights of deblur-vb on core's :class:`~deblur.weights.WeightStore`.

``weights/kf-{size}``: Deblur-Net and Kernel-Net trained by the kernel-free ELBO (Eq. 13);
``weights/kd-{size}``: the kernel-dependent pair (Eq. 14). Each file holds one
:class:`~deblur_vb.model.VBModel` (``deblur.*`` and ``kernel.*`` tensors).
"""

from __future__ import annotations

from pathlib import Path

import torch

from deblur.errors import InputError
from deblur.weights import WeightStore

__all__ = ["STORE", "STRUCTURES", "load_model"]

#: The two posterior structures of Sec. 3.2: kernel-free (Eq. 8-9) and kernel-dependent (Eq. 10-11).
STRUCTURES = ("kf", "kd")

STORE = WeightStore("deblur_vb", {"kf": "vb-kf", "kd": "vb-kd"}, owner="deblur-vb")


def load_model(
    structure: str, size: int, weights: str | Path | None = None, device: torch.device | str = "cpu"
):
    """``(model, card)``: the frozen :class:`~deblur_vb.model.VBModel` of ``structure`` (``"kf"`` or
    ``"kd"``) for ``size`` px kernels, shipped (the smallest covering size) or from the stem ``weights``."""
    from deblur_vb.model import VBConfig, VBModel

    if structure not in STRUCTURES:
        raise InputError(f"structure must be one of {', '.join(STRUCTURES)}, got {structure!r}")
    native = int(size) if weights is not None else STORE.covering(structure, int(size))
    model, card = STORE.load_network(structure, native, lambda a: VBModel(VBConfig(**a)), weights, device)
    if model.config.structure != structure:
        raise STORE.error(structure, native, f"hold the {model.config.structure} structure", card, weights)
    if model.config.size < size:
        raise STORE.error(
            structure, native, f"are for {model.config.size} px kernels, not {size}", card, weights
        )
    return model, card

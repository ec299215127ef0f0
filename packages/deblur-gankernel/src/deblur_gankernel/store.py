"""The shipped weights: the networks built from them, on core's :class:`~deblur.weights.WeightStore`.

``weights/generator-{size}.safetensors`` holds the kernel generator of one kernel size (its card's
``architecture`` is a :class:`~deblur_gankernel.generator.GeneratorConfig`) and the tensor
``average_z``, the GAN inversion of the uniform kernel (Table 4's "average" initialisation);
``weights/initializer-{size}.safetensors`` holds the encoder trained against that generator (card
``architecture``: :class:`~deblur_gankernel.encoder.EncoderConfig`; ``extra.generator_sha256`` names the
generator file it belongs to). :data:`STORE` finds them (``STORE.sizes(kind)``, ``STORE.stem(kind,
size)``, ``STORE.command(kind, size)``) and verifies every load's SHA-256 against the card; every error
names the file and the ``deblur train`` command that recreates it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from deblur.weights import WeightStore
from deblur_gankernel.encoder import EncoderConfig, KernelEncoder
from deblur_gankernel.generator import GeneratorConfig, KernelGenerator

__all__ = ["STORE", "LoadedGenerator", "load_encoder", "load_generator"]

STORE = WeightStore(
    "deblur_gankernel",
    {"generator": "gankernel-generator", "initializer": "gankernel-initializer"},
    owner="deblur-gankernel",
)
"""The package's weights: kinds ``generator`` and ``initializer``, one file per kernel size."""


class LoadedGenerator:
    """A shipped generator with what came with it: ``network`` (eval mode, frozen), ``average_z``
    (1, latent), the ``card`` and the weight file's ``sha256``."""

    def __init__(self, network: KernelGenerator, average_z: torch.Tensor, card: dict[str, Any]) -> None:
        self.network, self.average_z, self.card = network, average_z, card

    @property
    def sha256(self) -> str:
        return str(self.card.get("sha256", ""))


def load_generator(
    size: int, path: str | Path | None = None, device: torch.device | str = "cpu"
) -> LoadedGenerator:
    """The kernel generator of ``size`` (shipped, or the weight stem ``path``), frozen in eval mode.

    Raises:
        WeightsError: no weights for ``size``, or a missing, corrupt or mismatching file (the message
            names the file and the command that recreates it).
    """
    tensors, card = STORE.load("generator", size, path, device)
    try:
        config = GeneratorConfig(**card["architecture"])
        network = KernelGenerator(config)
        average_z = tensors.pop("average_z")
        network.load_state_dict(tensors)
    except (KeyError, TypeError, RuntimeError, ValueError) as exc:
        problem = f"do not fit their card ({str(exc).splitlines()[0]})"
        raise STORE.error("generator", size, problem, card, path) from exc
    if config.size != size:
        raise STORE.error("generator", size, f"are for {config.size} px kernels, not {size}", card, path)
    network.to(device).eval().requires_grad_(False)
    return LoadedGenerator(network, average_z.to(device), card)


def load_encoder(
    size: int,
    path: str | Path | None = None,
    device: torch.device | str = "cpu",
    *,
    generator: LoadedGenerator | None = None,
) -> tuple[KernelEncoder, dict[str, Any]]:
    """The initializer of ``size`` (shipped, or the weight stem ``path``), frozen in eval mode, and its card.

    With ``generator``, refuse an encoder trained against another generator file (its latent codes would
    mean nothing there).
    """

    def build(arch: dict[str, Any]) -> KernelEncoder:
        return KernelEncoder(EncoderConfig(**{**arch, "blocks": tuple(arch.get("blocks", (2, 2, 2, 2)))}))

    network, card = STORE.load_network("initializer", size, build, path, device)
    trained_for = card.get("extra", {}).get("generator_sha256")
    if generator is not None and trained_for != generator.sha256:
        problem = (
            f"were trained for another generator (sha256 {str(trained_for)[:12]}..., "
            f"loaded {generator.sha256[:12]}...)"
        )
        raise STORE.error("initializer", size, problem, card, path)
    return network, card

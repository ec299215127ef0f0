"""The shipped weights: where they live, how they load, and the commands that recreate them.

``weights/generator-{size}.safetensors`` holds the kernel generator of one kernel size (its card's
``architecture`` is a :class:`~deblur_gankernel.generator.GeneratorConfig`) and the tensor
``average_z``, the GAN inversion of the uniform kernel (Table 4's "average" initialisation);
``weights/initializer-{size}.safetensors`` holds the encoder trained against that generator (card
``architecture``: :class:`~deblur_gankernel.encoder.EncoderConfig`; ``extra.generator_sha256`` names the
generator file it belongs to). Every load verifies the SHA-256 against the card (core's
:func:`deblur.weights.load_weights`), and every error names the file and the ``deblur train`` command that
recreates it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from deblur.errors import WeightsError
from deblur.weights import card_path, load_weights
from deblur_gankernel.encoder import EncoderConfig, KernelEncoder
from deblur_gankernel.generator import GeneratorConfig, KernelGenerator

__all__ = [
    "WEIGHTS",
    "LoadedGenerator",
    "default_stem",
    "load_encoder",
    "load_generator",
    "shipped_sizes",
    "train_command",
]

WEIGHTS = Path(__file__).resolve().parent / "weights"
"""Folder of the shipped weights (package data)."""

TRAINERS = {"generator": "gankernel-generator", "initializer": "gankernel-initializer"}


def default_stem(kind: str, size: int) -> Path:
    """``weights/{kind}-{size}`` (without suffix) for ``kind`` ``"generator"`` or ``"initializer"``."""
    return WEIGHTS / f"{kind}-{size}"


def train_command(kind: str, size: int) -> str:
    """The command that trains the shipped ``kind`` weights of ``size``."""
    return f"deblur train {TRAINERS[kind]} --size {size}"


def shipped_sizes(kind: str = "generator") -> list[int]:
    """Kernel sizes with a shipped ``kind`` card, ascending."""
    sizes = []
    for card in WEIGHTS.glob(f"{kind}-*.json"):
        tail = card.stem.rpartition("-")[2]
        if tail.isdigit():
            sizes.append(int(tail))
    return sorted(sizes)


def _load(kind: str, size: int, path: str | Path | None, device: torch.device | str) -> tuple[dict, dict]:
    stem = default_stem(kind, size) if path is None else Path(path)
    card = card_path(stem)
    weights = card.with_suffix(".safetensors")
    if path is None and not card.is_file() and not weights.is_file():
        have = ", ".join(map(str, shipped_sizes(kind))) or "none"
        raise WeightsError(
            f"gan-latent has {kind} weights for kernel sizes {have}, not {size}; pick one of those with "
            f"--kernel-size, or train them with `{train_command(kind, size)}`"
        )
    if not card.is_file():
        command = train_command(kind, size) + ("" if path is None else f" --out {stem}")
        raise WeightsError(f"weight card {card} is missing; run `{command}` to recreate it")
    return load_weights(card, device)


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
    tensors, card = _load("generator", size, path, device)
    try:
        config = GeneratorConfig(**card["architecture"])
        network = KernelGenerator(config)
        average_z = tensors.pop("average_z")
        network.load_state_dict(tensors)
    except (KeyError, TypeError, RuntimeError, ValueError) as exc:
        raise WeightsError(
            f"generator weights {card_path(path or default_stem('generator', size))} do not fit their card "
            f"({str(exc).splitlines()[0]}); run `{card.get('command', train_command('generator', size))}`"
        ) from exc
    if config.size != size:
        raise WeightsError(f"generator weights {path} are for {config.size} px kernels, not {size}")
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
    tensors, card = _load("initializer", size, path, device)
    try:
        arch = dict(card["architecture"])
        config = EncoderConfig(**{**arch, "blocks": tuple(arch.get("blocks", (2, 2, 2, 2)))})
        network = KernelEncoder(config)
        network.load_state_dict(tensors)
    except (KeyError, TypeError, RuntimeError, ValueError) as exc:
        command = card.get("command", train_command("initializer", size))
        raise WeightsError(
            f"initializer weights {card_path(path or default_stem('initializer', size))} do not fit their "
            f"card ({str(exc).splitlines()[0]}); run `{command}`"
        ) from exc
    trained_for = card.get("extra", {}).get("generator_sha256")
    if generator is not None and trained_for != generator.sha256:
        raise WeightsError(
            f"initializer {card_path(path or default_stem('initializer', size))} was trained for another "
            f"generator (sha256 {str(trained_for)[:12]}..., loaded {generator.sha256[:12]}...); "
            f"run `{card.get('command', train_command('initializer', size))}`"
        )
    network.to(device).eval().requires_grad_(False)
    return network, card

"""Shipped network weights: ``name.safetensors`` plus a ``name.json`` card, verified on loading.

The card records how to recreate the file (the ``deblur train ...`` command, seed, data), what it is
(architecture config), how good it is (metrics), when it was made and the SHA-256 of the
``.safetensors`` file. :func:`load_weights` refuses a file whose hash differs from its card, and every
error names the file and the command that recreates it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from deblur.errors import WeightsError
from deblur.io import atomic_write

__all__ = ["WeightCard", "card_path", "load_weights", "save_weights", "sha256_file"]


@dataclass
class WeightCard:
    """The JSON card stored next to a weight file.

    Attributes:
        command: the command that recreates the weights, e.g. ``"deblur train vb-kernel --seed 0"``.
        architecture: constructor config of the network (enough to rebuild it).
        seed: seed of the training run.
        data: what it was trained on.
        metrics: figures reached (name -> value).
        sha256: hex digest of the ``.safetensors`` file (filled by :func:`save_weights`).
        created: ISO 8601 UTC time (filled by :func:`save_weights`).
        extra: anything else worth keeping.
    """

    command: str
    architecture: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    data: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    sha256: str = ""
    created: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _paths(path: str | Path) -> tuple[Path, Path]:
    """``(name.safetensors, name.json)`` for ``name``, ``name.safetensors`` or ``name.json``."""
    p = Path(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


def card_path(path: str | Path) -> Path:
    """The card file that belongs to a weight path."""
    return _paths(path)[1]


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_weights(
    path: str | Path, tensors: dict[str, torch.Tensor], card: WeightCard | dict[str, Any]
) -> Path:
    """Write ``name.safetensors`` and its ``name.json`` card; returns the ``.safetensors`` path.

    ``card`` is a :class:`WeightCard` or a dict with at least ``command``; ``sha256`` and ``created``
    are filled in. Both files are written atomically (the card last).
    """
    from safetensors.torch import save_file

    info = asdict(card) if isinstance(card, WeightCard) else dict(card)
    if not str(info.get("command", "")).strip():
        raise WeightsError("a weight card needs the 'command' that recreates the weights")
    weights, card_file = _paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    cpu = {name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}
    with atomic_write(weights) as tmp:
        save_file(cpu, str(tmp))
    info["sha256"] = sha256_file(weights)
    info["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    text = json.dumps(info, indent=2, sort_keys=True) + "\n"
    with atomic_write(card_file) as tmp:
        tmp.write_text(text)
    return weights


def load_weights(
    path: str | Path, device: torch.device | str = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load ``(tensors, card)`` after checking the file's SHA-256 against the card.

    Raises:
        WeightsError: the card or the weights are missing, unreadable, or do not match; the message
            names the file and the card's command that recreates it.
    """
    from safetensors.torch import load_file

    weights, card_file = _paths(path)
    if not card_file.is_file():
        raise WeightsError(f"weight card {card_file} is missing; reinstall the package that ships it")
    try:
        card = json.loads(card_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"weight card {card_file} is unreadable ({exc})") from exc
    hint = f"run `{card.get('command', 'deblur train ...')}` to recreate it"
    if not weights.is_file():
        raise WeightsError(f"weights {weights} are missing; {hint}")
    digest = sha256_file(weights)
    if digest != card.get("sha256"):
        raise WeightsError(f"weights {weights} do not match their card (sha256 {digest[:12]}...); {hint}")
    try:
        tensors = load_file(str(weights), device=str(device))
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise WeightsError(f"weights {weights} are corrupt ({exc}); {hint}") from exc
    return tensors, card

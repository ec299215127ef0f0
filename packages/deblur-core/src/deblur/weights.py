"""Shipped network weights: ``name.safetensors`` plus a ``name.json`` card, verified on loading.

The card records how to recreate the file (the ``deblur train ...`` command, seed, data), what it is
(architecture config), how good it is (metrics), when it was made and the SHA-256 of the
``.safetensors`` file. :func:`load_weights` refuses a file whose hash differs from its card, and every
error names the file and the command that recreates it.

A package that ships such files as package data declares one :class:`WeightStore` for them: it finds the
folder, lists the sizes on offer, names the default stem and the ``deblur train`` command of each kind and
size, and loads them with errors that name the file, the sizes on offer and the command to run.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import importlib.resources
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from deblur.errors import WeightsError
from deblur.io import atomic_write

__all__ = ["WeightCard", "WeightStore", "card_path", "load_weights", "save_weights", "sha256_file"]


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


class WeightStore:
    """The weights a package ships as package data, one file per kind and size.

    Declare it once, in the package that ships the files::

        STORE = WeightStore(
            "deblur_gankernel",
            {"generator": "gankernel-generator", "initializer": "gankernel-initializer"},
        )
        tensors, card = STORE.load("generator", 31)  # weights/generator-31.safetensors, hash checked

    Args:
        package: import name of the package whose data folder holds the files.
        trainers: kind -> name of the ``deblur train`` trainer that writes it (``--size`` is the size).
        folder: the data folder inside ``package``.
        pattern: file stem of a kind and size; needs ``{size}``, and ``{kind}`` when there are several.
        owner: who the files belong to in messages (default: ``package``).
    """

    def __init__(
        self,
        package: str,
        trainers: Mapping[str, str],
        *,
        folder: str = "weights",
        pattern: str = "{kind}-{size}",
        owner: str | None = None,
    ) -> None:
        if "{size}" not in pattern or ("{kind}" not in pattern and len(trainers) > 1):
            raise ValueError(
                f"weight stem pattern {pattern!r} needs {{size}}, and {{kind}} for several kinds"
            )
        self.package, self.folder, self.pattern = package, folder, pattern
        self.trainers = dict(trainers)
        self.owner = owner or package

    def __repr__(self) -> str:
        return f"WeightStore({self.package!r}, {self.trainers!r}, folder={self.folder!r})"

    @functools.cached_property
    def root(self) -> Path:
        """The data folder (``folder`` inside the installed ``package``)."""
        base = importlib.resources.files(self.package)
        if not isinstance(base, Path):
            raise WeightsError(
                f"package {self.package} is not installed as a folder; its weights cannot be found"
            )
        return base / self.folder

    def _trainer(self, kind: str) -> str:
        if kind not in self.trainers:
            raise ValueError(
                f"{self.owner} has no weights of kind {kind!r}; kinds: {', '.join(self.trainers)}"
            )
        return self.trainers[kind]

    def stem(self, kind: str, size: int) -> Path:
        """Default location (without suffix) of the ``kind`` weights of ``size``; trainers write there."""
        self._trainer(kind)
        return self.root / self.pattern.format(kind=kind, size=size)

    def command(self, kind: str, size: int, out: str | Path | None = None) -> str:
        """The ``deblur train`` command that writes the ``kind`` weights of ``size`` (to ``out`` if given)."""
        command = f"deblur train {self._trainer(kind)} --size {size}"
        return command if out is None else f"{command} --out {out}"

    def sizes(self, kind: str) -> list[int]:
        """Sizes with a ``kind`` card in the data folder, ascending."""
        self._trainer(kind)
        head, tail = (re.escape(part.format(kind=kind)) for part in self.pattern.split("{size}", 1))
        name = re.compile(f"{head}([0-9]+){tail}\\.json")
        found = (name.fullmatch(card.name) for card in self.root.glob("*.json"))
        return sorted(int(match.group(1)) for match in found if match)

    def covering(self, kind: str, size: int) -> int:
        """The smallest shipped ``kind`` size of at least ``size`` (a network of that size whose kernels,
        centred and cropped, serve ``size``); none that large: a one-line :class:`WeightsError`."""
        sizes = self.sizes(kind)
        larger = [s for s in sizes if s >= size]
        if not larger:
            have = ", ".join(map(str, sizes)) or "none"
            raise WeightsError(
                f"{self.owner} has {kind} weights for sizes {have}, none of at least {size} px; train them "
                f"with `{self.command(kind, size)}`"
            )
        return larger[0]

    def load(
        self, kind: str, size: int, path: str | Path | None = None, device: torch.device | str = "cpu"
    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """``(tensors, card)`` of the ``kind`` weights of ``size``, from the data folder or the stem ``path``.

        The SHA-256 is checked against the card (:func:`load_weights`).

        Raises:
            WeightsError: no weights of ``size`` (naming the sizes on offer), or a missing, corrupt or
                mismatching file; the message names the file and the command that recreates it.
        """
        weights, card = _paths(self.stem(kind, size) if path is None else path)
        if path is None and not card.is_file() and not weights.is_file():
            have = ", ".join(map(str, self.sizes(kind))) or "none"
            raise WeightsError(
                f"{self.owner} has {kind} weights for sizes {have}, not {size} ({weights} is missing); "
                f"use one of those, or train them with `{self.command(kind, size)}`"
            )
        if not card.is_file():
            command = self.command(kind, size, None if path is None else weights.with_suffix(""))
            raise WeightsError(f"weight card {card} is missing; run `{command}` to recreate it")
        return load_weights(weights, device)

    def load_network(
        self,
        kind: str,
        size: int,
        build: Callable[[dict[str, Any]], torch.nn.Module],
        path: str | Path | None = None,
        device: torch.device | str = "cpu",
    ) -> tuple[Any, dict[str, Any]]:
        """``(network, card)``: ``build(card["architecture"])`` holding the ``kind`` weights of ``size``
        (:meth:`load`), frozen, in eval mode on ``device``.

        Raises:
            WeightsError: as :meth:`load`, or weights that do not fit the architecture their card names.
        """
        tensors, card = self.load(kind, size, path, device)
        try:
            network = build(dict(card["architecture"]))
            network.load_state_dict(tensors)
        except (KeyError, TypeError, RuntimeError, ValueError) as exc:
            problem = f"do not fit their card ({str(exc).splitlines()[0]})"
            raise self.error(kind, size, problem, card, path) from exc
        network.to(device).eval().requires_grad_(False)
        return network, card

    def error(
        self, kind: str, size: int, problem: str, card: Mapping[str, Any], path: str | Path | None = None
    ) -> WeightsError:
        """The error for loaded weights with a ``problem`` (e.g. ``"do not fit their card (...)"``).

        It names the weight file (the default one, or the stem ``path``) and the card's command.
        """
        weights = _paths(self.stem(kind, size) if path is None else path)[0]
        command = card.get("command") or self.command(kind, size)
        return WeightsError(f"{kind} weights {weights} {problem}; run `{command}`")

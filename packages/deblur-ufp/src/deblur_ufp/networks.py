"""Loading the shipped networks of deblur-ufp, each checked against the stage it was trained on.

An estimator's card records the SHA-256 of the flow it was trained through (``extra.flow_sha256``) and a
deblurring network's card that of its estimator (``extra.estimator_sha256``): loading a stage with
another parent than the one it was trained on is refused, naming the command that retrains it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from deblur_ufp.deblurnet import DeblurConfig, DeblurNet
from deblur_ufp.estimator import EstimatorConfig, KernelEstimator
from deblur_ufp.flow import FlowConfig, KernelFlow
from deblur_ufp.store import STORE

__all__ = ["check_parent", "load_deblur", "load_estimator", "load_flow"]


def _path(path: str | Path | None) -> str | None:
    return None if path is None else str(path)


def _load(
    kind: str, size: int, build: Callable[[dict], Any], path: str | None, device: str
) -> tuple[Any, dict]:
    """:meth:`WeightStore.load_network`, refusing weights for another kernel size than ``size``."""
    network, card = STORE.load_network(kind, size, build, path, device)
    if network.config.size != size:
        raise STORE.error(kind, size, f"are for {network.config.size} px kernels, not {size} px", card, path)
    return network, card


@functools.lru_cache(maxsize=8)
def _flow(size: int, path: str | None, device: str) -> tuple[KernelFlow, dict[str, Any]]:
    return _load("flow", size, lambda a: KernelFlow(FlowConfig(**a)), path, device)


def load_flow(
    size: int, path: str | Path | None = None, device: torch.device | str = "cpu"
) -> tuple[KernelFlow, dict[str, Any]]:
    """``(flow, card)``: the frozen flow of ``size`` px kernels (shipped, or the stem ``path``); cached."""
    return _flow(int(size), _path(path), str(device))


def check_parent(
    kind: str, size: int, card: dict[str, Any], parent: str, parent_card: dict[str, Any]
) -> None:
    """Refuse a ``kind`` network whose card names another ``parent`` (by SHA-256) than ``parent_card``."""
    want = card.get("extra", {}).get(f"{parent}_sha256")
    if want != parent_card.get("sha256"):
        have = str(parent_card.get("sha256", ""))[:12]
        raise STORE.error(
            kind, size, f"were trained on the {parent} {str(want)[:12]}..., not on this one ({have}...)", card
        )


@functools.lru_cache(maxsize=8)
def _estimator(size: int, path: str | None, flow_path: str | None, device: str):
    network, card = _load(
        "estimator", size, lambda a: KernelEstimator(EstimatorConfig.from_dict(a)), path, device
    )
    flow = None
    if network.config.head == "flow":
        flow, flow_card = load_flow(size, flow_path, device)
        check_parent("estimator", size, card, "flow", flow_card)
    return network, flow, card


def load_estimator(
    size: int,
    path: str | Path | None = None,
    flow_path: str | Path | None = None,
    device: torch.device | str = "cpu",
) -> tuple[KernelEstimator, KernelFlow | None, dict[str, Any]]:
    """``(estimator, flow, card)``: the frozen estimator and the flow it was trained through (``None`` for
    the direct head); a flow it was not trained on is refused. Cached."""
    return _estimator(int(size), _path(path), _path(flow_path), str(device))


def load_deblur(
    size: int,
    estimator_card: dict[str, Any],
    path: str | Path | None = None,
    device: torch.device | str = "cpu",
) -> tuple[DeblurNet, dict[str, Any]]:
    """``(network, card)``: the frozen deblurring network, refused unless it was trained on the estimator
    whose card is ``estimator_card``."""
    network, card = _load(
        "deblur", int(size), lambda a: DeblurNet(DeblurConfig.from_dict(a)), _path(path), str(device)
    )
    check_parent("deblur", int(size), card, "estimator", estimator_card)
    return network, card

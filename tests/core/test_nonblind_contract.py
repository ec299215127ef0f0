"""Every registered non-blind solver keeps the contract in docs/writing-plugins.md.

``(y, k) -> x``: x has y's shape, dtype and device, is finite, and estimates the latent's window aligned
with y (for a ``valid`` blur, the latent's centre window), not the latent itself. The checks are
:func:`deblur.testing.check_nonblind`, the ones plugin authors run.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable

import pytest
import torch

from deblur.operators.padding import kernel_pads, pad
from deblur.pipeline import resolve_solver
from deblur.registry import Registry
from deblur.testing import NONBLIND_CASES, check_nonblind, registry_with

PLUGINS = ("deblur_dipmc.plugin", "deblur_gankernel.plugin", "deblur_fixture.plugin")
DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]

Solver = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _registry() -> Registry:
    """Core plus every plugin named above that is installed."""
    modules = []
    for name in PLUGINS:
        with contextlib.suppress(ImportError):
            modules.append(importlib.import_module(name))
    return registry_with(*modules)


REGISTRY = _registry()
SOLVERS = REGISTRY.fitting("solver", {"non-blind"})
ONLY = {"float64": False, "unclipped": False}  # check_nonblind's extra checks, off


def _solver(name: str) -> Solver:
    return resolve_solver(REGISTRY, name, need="non-blind").build()


def test_core_solvers_are_found() -> None:
    assert {"wiener", "hqs", "richardson-lucy"} <= set(SOLVERS)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", list(NONBLIND_CASES))
@pytest.mark.parametrize("name", SOLVERS)
def test_output_is_the_window_aligned_with_y(name: str, case: str, device: str) -> None:
    check_nonblind(_solver(name), name=name, cases=[case], device=device, **ONLY)


@pytest.mark.parametrize("name", SOLVERS)
def test_dtype_follows_the_input(name: str) -> None:
    check_nonblind(_solver(name), name=name, cases=[], float64=True, unclipped=False)


@pytest.mark.parametrize("name", SOLVERS)
def test_output_is_not_clipped(name: str) -> None:
    """An observation reaching 2 gives an estimate above 1: the pipeline clips once, at output."""
    check_nonblind(_solver(name), name=name, cases=[], float64=False, unclipped=True)


@pytest.mark.parametrize(
    "name", [n for n in SOLVERS if "differentiable-kernel" in REGISTRY.get("solver", n).record.provides]
)
def test_differentiable_kernel(name: str) -> None:
    check_nonblind(_solver(name), name=name, cases=[], differentiable_kernel=True, **ONLY)


def _latent_sized(solver: Solver) -> Solver:
    return lambda y, k: pad(solver(y, k), kernel_pads(*k.shape[-2:]), "replicate")


def _shifted(solver: Solver) -> Solver:
    return lambda y, k: torch.roll(solver(y, k), 1, dims=-1)


def _clipped(solver: Solver) -> Solver:
    return lambda y, k: solver(y, k).clamp(0, 1)


def _single(solver: Solver) -> Solver:
    return lambda y, k: solver(y, k).float()


def _detached(solver: Solver) -> Solver:
    return lambda y, k: solver(y, k.detach())


BROKEN = {
    "latent-sized": (
        _latent_sized,
        {},
        r"returned \(1, 1, 38, 38\): x must have y's shape, not the latent's",
    ),
    "shifted": (_shifted, {}, r"closer to the latent's window shifted by \(0, -1\)"),
    "clipped": (_clipped, {"cases": []}, "clips its estimate"),
    "float32": (_single, {"cases": []}, r"returned torch.float32 \(1, 1, 32, 32\) for a float64 y"),
    "detached": (_detached, {"cases": [], "differentiable_kernel": True}, "does not depend on k"),
}


@pytest.mark.parametrize("broken", list(BROKEN))
def test_the_contract_check_catches_a_broken_solver(broken: str) -> None:
    wrap, options, message = BROKEN[broken]
    with pytest.raises(AssertionError, match=f"^solver 'broken-hqs'.*{message}"):
        check_nonblind(wrap(_solver("hqs")), name="solver 'broken-hqs'", **options)

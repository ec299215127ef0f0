"""The learned non-blind solver ``dwdn`` (DWDN, Dong et al. 2020) and its trainer ``kdiff-dwdn``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from deblur_kdiff.dwdn import DWDN, DWDNConfig, DWDNDeconvolver, load_dwdn
from deblur_kdiff.train_dwdn import train

from deblur.context import torch_threads
from deblur.errors import WeightsError
from deblur.operators import UniformBlur
from deblur.training import TrainSpec
from deblur.weights import load_weights

SIZE = 9
TINY = {"crop": 24, "batch": 2, "eval_images": 2, "features": 4, "widths": [4, 8], "sources": ["dead_leaves"]}


class Interrupt(Exception):
    pass


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with torch_threads(1):
        yield


def _train(out: Path, steps: int = 3, **settings) -> Path:
    return train(TrainSpec("kdiff-dwdn", out=out, size=SIZE, steps=steps, params={**TINY, **settings}))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with torch_threads(1):
        return _train(tmp_path_factory.mktemp("dwdn") / "dwdn-9").with_suffix("")


def _kernel(n: int = 1, size: int = 5) -> torch.Tensor:
    k = torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(1)) + 0.1
    return k / k.sum((-2, -1), keepdim=True)


def test_network_keeps_the_shape_for_any_size_and_kernel() -> None:
    net = DWDN(DWDNConfig(features=4, widths=(4, 8))).eval()
    for H, W, h in ((20, 33, 5), (17, 17, 7), (25, 18, 3)):
        x = net(torch.rand(2, 1, H, W), _kernel(2, h))
        assert x.shape == (2, 1, H, W) and torch.isfinite(x).all()
    assert net(torch.rand(1, 1, 16, 16), _kernel(), boundary="circular").shape == (1, 1, 16, 16)


def test_gradient_flows_to_the_kernel() -> None:
    net = DWDN(DWDNConfig(features=4, widths=(4, 8))).eval().requires_grad_(False)
    k = _kernel(1, 5).requires_grad_(True)
    net(torch.rand(1, 1, 24, 24), k).square().mean().backward()
    assert k.grad is not None and torch.isfinite(k.grad).all() and k.grad.abs().sum() > 0


def test_trainer_writes_a_card_and_the_solver_loads_it(tiny: Path) -> None:
    _, card = load_weights(tiny)
    assert card["command"].startswith("deblur train kdiff-dwdn --size 9 --steps 3 --seed 0")
    assert {"psnr_dwdn", "psnr_wiener", "psnr_hqs", "loss", "train_seconds"} <= set(card["metrics"])
    assert card["architecture"]["features"] == 4 and card["extra"]["preset"] == "fast"
    network, _ = load_dwdn(SIZE, tiny)
    assert not network.training and not any(p.requires_grad for p in network.parameters())

    solver = DWDNDeconvolver(size=SIZE, weights=tiny)
    gray = solver(torch.rand(2, 1, 20, 26), _kernel())
    assert gray.shape == (2, 1, 20, 26) and gray.dtype == torch.float32
    colour = torch.rand(2, 3, 20, 26, dtype=torch.float64)
    out = solver(colour, _kernel(2))
    assert out.shape == colour.shape and out.dtype == torch.float64
    # colour channels go through the gray network one by one
    torch.testing.assert_close(out[:, 1:2], solver(colour[:, 1:2], _kernel(2)))
    assert solver(colour, UniformBlur(_kernel(), boundary="same")).shape == colour.shape


def test_solver_keeps_autograd_to_the_kernel(tiny: Path) -> None:
    solver = DWDNDeconvolver(size=SIZE, weights=tiny)
    k = _kernel().requires_grad_(True)
    solver(torch.rand(1, 3, 20, 20), k).mean().backward()
    assert k.grad is not None and torch.isfinite(k.grad).all() and k.grad.abs().sum() > 0


def test_resume_continues_exactly(tmp_path: Path) -> None:
    whole = _train(tmp_path / "whole", steps=4)

    def stop(stage: str, step: int, total: int, /, **metrics: float) -> None:
        if stage == "dwdn" and step == 3:
            raise Interrupt

    params = {**TINY, "checkpoint_every": 2}
    with pytest.raises(Interrupt):
        train(TrainSpec("kdiff-dwdn", tmp_path / "cut", SIZE, 4, params=params, progress=stop))
    checkpoint = tmp_path / "cut.ckpt"
    assert checkpoint.is_file()
    resumed = train(TrainSpec("kdiff-dwdn", tmp_path / "cut", SIZE, 4, resume=True, params=params))
    assert not checkpoint.exists()
    a, _ = load_weights(whole)
    b, _ = load_weights(resumed)
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)


def test_corrupt_weights_name_the_file_and_the_command(tmp_path: Path, tiny: Path) -> None:
    stem = tmp_path / "dwdn-9"
    for suffix in (".safetensors", ".json"):
        stem.with_suffix(suffix).write_bytes(tiny.with_suffix(suffix).read_bytes())
    data = bytearray(stem.with_suffix(".safetensors").read_bytes())
    data[-1] ^= 0xFF
    stem.with_suffix(".safetensors").write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=r"dwdn-9\.safetensors do not match.*deblur train kdiff-dwdn"):
        DWDNDeconvolver(size=SIZE, weights=stem)
    stem.with_suffix(".json").unlink()
    with pytest.raises(WeightsError, match=r"dwdn-9\.json is missing.*deblur train kdiff-dwdn"):
        load_dwdn(SIZE, stem)

"""``ufp-flow-latent``: the flow's latent as the only parameter, in DIP-MC through the CLI."""

from __future__ import annotations

import time
from pathlib import Path

import deblur_kdiff.plugin
import deblur_ufp
import deblur_ufp.plugin
import pytest
import torch
from click.testing import CliRunner
from deblur_ufp.representation import FlowLatentKernel, flow_latent

import deblur_dipmc.plugin
from deblur.cli import main
from deblur.data import blur_image, dead_leaves
from deblur.errors import InputError, WeightsError
from deblur.io import read_kernel, write_image
from deblur.kernels import center, fit_support, motion_kernel
from deblur.pipeline import resolve_method
from deblur.testing import check_kernel, registry_with
from tests.ufp.conftest import SIZE, random_flow

SHIPPED = Path(deblur_ufp.__file__).parent / "weights" / "flow-19.safetensors"


def test_the_latent_is_the_only_parameter_and_the_flow_stays_frozen() -> None:
    flow = random_flow(dtype=torch.float32)
    rep = FlowLatentKernel(flow)
    params = list(rep.parameters())
    assert len(params) == 1 and params[0] is rep.z and rep.z.shape == (1, SIZE * SIZE)
    assert not rep.z.any(), "the mean start is z = 0"
    rep.train()
    assert rep.training and not rep.flow.training and not any(m.training for m in rep.flow.modules())
    k = rep()
    assert k.shape == (1, 1, SIZE, SIZE) and (k >= 0).all() and torch.allclose(k.sum(), torch.tensor(1.0))
    assert torch.allclose(k, flow.decode(torch.zeros(1, SIZE * SIZE)))
    weights = torch.rand(1, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    (rep() * weights).sum().backward()
    assert rep.z.grad is not None and rep.z.grad.abs().sum() > 0, "the kernel is differentiable in z"
    rep.constrain()
    assert torch.equal(rep(), k), "nothing to restore"
    assert rep.flow is not flow and rep.flow.mean.data_ptr() != flow.mean.data_ptr(), "a frozen copy"


def test_stochastic_draws_perturb_the_latent_reproducibly() -> None:
    torch.manual_seed(0)
    rep = FlowLatentKernel(random_flow(dtype=torch.float32), init="random")
    assert rep.z.abs().sum() > 0
    plain = rep()
    rep.dropout, rep.input_noise = 0.3, 0.1
    assert torch.equal(rep(), plain), "randomisation is off unless stochastic"
    rep.stochastic = True
    draws = []
    for seed in (1, 1, 2):
        rep.generator = torch.Generator().manual_seed(seed)
        draws.append(rep())
    assert torch.equal(draws[0], draws[1]) and not torch.allclose(draws[0], draws[2])
    assert not torch.allclose(draws[0], plain)
    for k in draws:
        assert (k >= 0).all() and torch.allclose(k.sum(), torch.tensor(1.0), atol=1e-5)
    rep.dropout, rep.input_noise = 0.5, 0.0  # dropout alone
    rep.generator = torch.Generator().manual_seed(3)
    assert not torch.allclose(rep(), plain)


def test_the_factory_builds_from_a_stem_and_checks_init(tiny_weights: dict[str, Path]) -> None:
    build = flow_latent(flow=str(tiny_weights["flow"]))
    rep = build(SIZE)
    assert isinstance(rep, FlowLatentKernel) and rep.size == SIZE
    k = rep()
    assert k.shape == (1, 1, SIZE, SIZE) and torch.allclose(k.sum(), torch.tensor(1.0), atol=1e-5)
    with pytest.raises(InputError, match="init must be one of mean, random"):
        flow_latent(init="zeros")
    with pytest.raises(InputError, match="init must be one of mean, random"):
        FlowLatentKernel(random_flow(), init="zeros")


def test_it_fills_dipmcs_kernel_slot_and_ufp_flow_fills_kdiffs_density_slot() -> None:
    registry = registry_with(deblur_dipmc.plugin, deblur_ufp.plugin)
    plan = resolve_method(registry, "dipmc", {"estimator.kernel_rep": "ufp-flow-latent"})
    assert {n.path: n.entry.name for n in plan.root.walk()}["estimator.kernel_rep"] == "ufp-flow-latent"
    registry = registry_with(deblur_kdiff.plugin, deblur_ufp.plugin)
    plan = resolve_method(registry, "kdiff", {"estimator.kernel_prior": "ufp-flow"})
    assert {n.path: n.entry.name for n in plan.root.walk()}["estimator.kernel_prior"] == "ufp-flow"


def _shipped_flow() -> Path:
    """The shipped 19 px flow; it may still be training when the tests start (waits up to 15 minutes)."""
    deadline = time.monotonic() + 900
    while not (SHIPPED.is_file() and SHIPPED.with_suffix(".json").is_file()):
        if time.monotonic() > deadline:
            pytest.fail(f"{SHIPPED} is missing: run `deblur train ufp-flow --size 19`")
        time.sleep(60)
    return SHIPPED


def test_dipmc_searches_the_shipped_flows_latent_space_from_the_cli(tmp_path: Path) -> None:
    _shipped_flow()
    g = torch.Generator().manual_seed(0)
    y = blur_image(dead_leaves(40 + 18, g), motion_kernel(19, generator=g), noise_sigma=0.005, generator=g)
    write_image(tmp_path / "photo.png", y)
    out = tmp_path / "out"
    tiny = {
        "estimator.steps": 2,
        "estimator.mc_samples": 1,
        "estimator.image_net.width": 4,
        "estimator.image_net.levels": 2,
        "estimator.image_net.skip": 2,
        "solver.crop": "null",
    }
    args = ["run", "dipmc", str(tmp_path / "photo.png"), "-o", str(out), "--kernel-size", "19", "-q"]
    args += ["--kernel-rep", "ufp-flow-latent", "--use", "refiner=none"]
    args += [f"--set={key}={value}" for key, value in tiny.items()]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    kernel = read_kernel(out / "photo-kernel.npy")
    assert kernel.shape[-2:] == (19, 19) and (kernel >= 0).all()
    assert abs(float(kernel.sum()) - 1) < 1e-4
    assert "ufp-flow-latent" in (out / "photo-report.json").read_text()


def test_a_size_without_its_own_flow_is_the_centred_crop_of_the_covering_flow() -> None:
    rep = flow_latent()(23)
    assert (rep.size, rep.flow.size) == (23, 31), "23 px decodes on the shipped 31 px flow"
    with torch.no_grad():
        rep.z.normal_(generator=torch.Generator().manual_seed(0))
        k = rep()
        assert torch.allclose(k, fit_support(center(rep.flow.decode(rep.z)), 23))
    check_kernel(k, 23)
    rep().sum().backward()
    assert rep.z.grad is not None
    assert flow_latent()(19).flow.size == 19, "a shipped size is used as it is"
    with pytest.raises(WeightsError, match="flow weights for sizes 19, 31, none of at least 33 px"):
        flow_latent()(33)
    with pytest.raises(InputError, match="a 31 px flow cannot give 35 px kernels"):
        FlowLatentKernel(rep.flow, size=35)

"""The ELBO's gradients, the trainers (resumable, both objectives) and their weight files."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from deblur_vb.elbo import Hyper, elbo_terms, mse_terms
from deblur_vb.model import VBConfig, VBModel
from deblur_vb.store import load_model

from deblur.cli import main
from deblur.data import BlurredCrops, dead_leaves
from deblur.errors import InputError
from deblur.io import write_image
from deblur.weights import load_weights
from tests.vb.conftest import SIZE, TINY, train_tiny


def _model(kd: bool) -> VBModel:
    torch.manual_seed(0)
    return VBModel(
        VBConfig(size=SIZE, width=4, scales=2, blocks=1, kernel_code=4 if kd else 0, kernel_width=4,
                 kernel_stages=2, kernel_blocks=1, kernel_max_width=8)
    )  # fmt: skip


def _batch():
    y, k, sharp = BlurredCrops(SIZE, 24, sources=["dead_leaves"]).triples(2, torch.Generator().manual_seed(0))
    return y, sharp, k


@pytest.mark.parametrize("kd", [False, True])
def test_elbo_gradient_reaches_both_networks(kd):
    model = _model(kd)
    y, sharp, k = _batch()
    terms = elbo_terms(y, sharp, k, model.deblur, model.kernel, Hyper(), draws=2)
    assert set(terms) == {"nll", "kl_image", "kl_kernel"}
    assert all(bool(torch.isfinite(v).all()) for v in terms.values())
    sum(v.mean() for v in terms.values()).backward()
    for net in (model.deblur, model.kernel):
        grads = [p.grad for p in net.parameters() if p.grad is not None]
        assert grads and any(float(g.abs().sum()) > 0 for g in grads), type(net).__name__
    if kd:  # the likelihood reaches Kernel-Net too (through the draws' mean)
        model.zero_grad()
        terms = elbo_terms(y, sharp, k, model.deblur, model.kernel, Hyper(), draws=2)
        terms["nll"].mean().backward()
        assert float(model.kernel.taps.bias.grad.abs().sum()) > 0


def test_mse_baseline_terms():
    model = _model(True)
    y, sharp, k = _batch()
    terms = mse_terms(y, sharp, k, model.deblur, model.kernel)
    assert set(terms) == {"mse_image", "mse_kernel"} and all(v.shape == (2,) for v in terms.values())


@pytest.mark.parametrize("structure", ["kf", "kd"])
def test_resumed_training_equals_uninterrupted(tmp_path, structure):
    whole = train_tiny(structure, tmp_path / "whole", steps=3)
    part = train_tiny(structure, tmp_path / "part", steps=2, checkpoint_every=1)
    assert not (tmp_path / "part.ckpt").exists()  # removed once the weights are written
    # an interrupted run: keep the checkpoint of step 2 of a 3-step run
    from deblur_vb.train import train

    from deblur.training import TrainSpec

    spec = TrainSpec(f"vb-{structure}", out=tmp_path / "resumed", size=SIZE, steps=3,
                     params={**TINY, "checkpoint_every": 1})  # fmt: skip
    import deblur_vb.train as trainer

    real_fit = trainer.fit

    def interrupted(run, steps, spec_, checkpoint, stage):
        real_fit(run, 2, spec_, checkpoint, stage)
        raise KeyboardInterrupt

    trainer.fit = interrupted
    try:
        with pytest.raises(KeyboardInterrupt):
            train(spec)
    finally:
        trainer.fit = real_fit
    assert (tmp_path / "resumed.ckpt").exists()
    resumed = train(TrainSpec(spec.name, out=spec.out, size=SIZE, steps=3, resume=True, params=spec.params))
    a, card = load_weights(whole)
    b, _ = load_weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[n], b[n]) for n in a)
    assert part.exists()
    assert card["command"].startswith(f"deblur train vb-{structure} --size {SIZE} --steps 3 --seed 0")
    for name in ("heldout_psnr", "heldout_kernel_mnc", "heldout_image_coverage_2std", "kl_kernel", "nll"):
        assert name in card["metrics"]
    assert card["architecture"]["kernel_code"] == (4 if structure == "kd" else 0)


def test_mse_objective_switch(tmp_path):
    stem = train_tiny("kf", tmp_path / "mse", steps=2, objective="mse").with_suffix("")
    _, card = load_weights(stem)
    assert card["extra"]["objective"].startswith("MSE") and "mse_image" in card["metrics"]
    with pytest.raises(InputError, match="objective must be one of elbo, mse"):
        train_tiny("kf", tmp_path / "bad", objective="l1")


def test_corrupt_weights_give_one_line_naming_the_command(tmp_path, tiny_weights):
    stem = tmp_path / "kf-9"
    for suffix in (".safetensors", ".json"):
        (stem.parent / (stem.name + suffix)).write_bytes(
            (tiny_weights["kf"].parent / (tiny_weights["kf"].name + suffix)).read_bytes()
        )
    blob = stem.with_name(stem.name + ".safetensors")
    blob.write_bytes(blob.read_bytes()[:-100] + b"\0" * 100)
    image = tmp_path / "in.png"
    write_image(image, dead_leaves(48, 0))
    result = CliRunner().invoke(
        main, ["run", "vb", str(image), "-o", str(tmp_path / "out"), "--set", f"solver.weights={stem}"]
    )
    assert result.exit_code == 2
    line = result.output.strip()
    assert len(line.splitlines()) == 1 and "deblur train vb-kf --size 9" in line, line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_loading_refuses_the_other_structure(tiny_weights):
    with pytest.raises(Exception, match="kd structure"):
        load_model("kf", SIZE, tiny_weights["kd"])
    json.loads(tiny_weights["kd"].with_name(tiny_weights["kd"].name + ".json").read_text())

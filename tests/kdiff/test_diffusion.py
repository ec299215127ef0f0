"""The DDPM of the kernel: codec, schedule, denoiser, and the ``kdiff-diffusion`` trainer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from deblur_kdiff.diffusion import Schedule, decode, encode
from deblur_kdiff.network import DenoiserConfig, KernelDenoiser, load_denoiser
from deblur_kdiff.train_diffusion import train

from deblur.errors import InputError, WeightsError
from deblur.kernels import motion_kernel
from deblur.training import TrainSpec
from deblur.weights import load_weights
from tests.kdiff.conftest import SIZE, TINY_DIFFUSION, train_diffusion


def _kernels(n: int = 3, size: int = 15) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    return torch.cat([motion_kernel(size, generator=g) for _ in range(n)])


def test_codec_round_trip_keeps_kernels_without_flip_or_shift() -> None:
    k = _kernels()
    u = encode(k)
    assert u.amax((-2, -1)).allclose(torch.ones(3, 1)) and u.amin() >= -1
    assert torch.allclose(decode(u), k, atol=1e-7)
    # an off-centre, asymmetric kernel comes back where it was
    one = torch.zeros(1, 1, 7, 7)
    one[0, 0, 1, 5], one[0, 0, 2, 4] = 0.75, 0.25
    assert torch.equal(decode(encode(one)).nonzero(), one.nonzero())


def test_decode_maps_any_sample_onto_the_simplex() -> None:
    k = decode(torch.randn(4, 1, 9, 9) * 3)
    assert (k >= 0).all() and torch.allclose(k.sum((-2, -1)), torch.ones(4, 1))
    delta = decode(torch.full((1, 1, 5, 5), -2.0))
    assert delta[0, 0, 2, 2] == 1 and delta.sum() == 1


def test_noising_then_predicting_with_the_true_noise_returns_the_kernel() -> None:
    schedule = Schedule.linear()
    assert len(schedule) == 1000
    assert torch.allclose(schedule.beta[[0, -1]], torch.tensor([1e-4, 0.02], dtype=torch.float64))
    u0 = encode(_kernels())
    eps = torch.randn(u0.shape, generator=torch.Generator().manual_seed(0))
    for i in (0, 10, 500, 999):
        index = torch.full((3,), i)
        ut = schedule.noise(u0, index, eps)
        assert torch.allclose(schedule.predict_u0(ut, index, eps), u0, atol=1e-4)


def test_respacing_keeps_the_chosen_steps_and_ends_at_the_noisiest() -> None:
    full = Schedule.linear()
    short = full.respaced(50)
    assert len(short) == 50 and int(short.steps[0]) == 0 and int(short.steps[-1]) == 999
    assert torch.equal(short.alpha_bar, full.alpha_bar[short.steps])
    assert torch.allclose(full.respaced(1000).beta, full.beta)
    with pytest.raises(InputError, match="1 to 1000 steps"):
        full.respaced(0)


def test_the_posterior_step_with_the_true_clean_kernel_lands_on_it() -> None:
    schedule = Schedule.linear().respaced(20)
    u0 = encode(_kernels())
    u = torch.randn(u0.shape, generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(2)
    for i in reversed(range(len(schedule))):
        u = schedule.step(u, i, u0, g)
    assert torch.equal(u, u0)


def test_denoiser_shapes_and_a_condition_computed_once_for_any_image_size() -> None:
    net = KernelDenoiser(DenoiserConfig(SIZE, (8, 16), 4)).eval()
    for H, W in ((24, 24), (40, 31)):
        cond = net.condition(torch.rand(1, 1, H, W))
        assert cond.shape == (1, 8, SIZE, SIZE)
        out = net(torch.randn(3, 1, SIZE, SIZE), torch.tensor([0, 10, 999]), cond)
        assert out.shape == (3, 1, SIZE, SIZE)


def test_trainer_writes_a_card_with_the_conditioning_check(tmp_path: Path) -> None:
    path = train_diffusion(tmp_path / "diffusion-9")
    _, card = load_weights(path)
    assert card["command"].startswith("deblur train kdiff-diffusion --size 9 --steps 3 --seed 0")
    assert {"heldout_loss", "conditioned_mnc", "shuffled_mnc", "loss", "train_seconds"} <= set(
        card["metrics"]
    )
    assert card["architecture"] == DenoiserConfig(SIZE, (8, 16), 4).as_dict()
    network, _ = load_denoiser(SIZE, path.with_suffix(""))
    assert not network.training and not any(p.requires_grad for p in network.parameters())


def test_a_resumed_run_continues_where_the_checkpoint_stopped(tmp_path: Path) -> None:
    whole = load_weights(train_diffusion(tmp_path / "a" / "diffusion-9", steps=4))[0]
    stem = tmp_path / "b" / "diffusion-9"

    class Interrupt(Exception):
        pass

    def stop(stage: str, done: int, total: int, **_: float) -> None:
        if stage == "diffusion" and done == 3:
            raise Interrupt

    params = {**TINY_DIFFUSION, "checkpoint_every": 2}
    with pytest.raises(Interrupt):
        train(TrainSpec("kdiff-diffusion", out=stem, size=SIZE, steps=4, params=params, progress=stop))
    assert stem.with_suffix(".ckpt").is_file()
    resumed = train(TrainSpec("kdiff-diffusion", out=stem, size=SIZE, steps=4, params=params, resume=True))
    assert not stem.with_suffix(".ckpt").exists()
    for name, tensor in load_weights(resumed)[0].items():
        assert torch.allclose(tensor, whole[name], atol=1e-6), name


def test_bad_settings_are_refused_before_training(tmp_path: Path) -> None:
    for params, match in (
        ({"preset": "huge"}, "preset must be one of fast, paper"),
        ({"widths": [8, -1]}, "widths must be a list of positive integers"),
        ({"noise": [0.1]}, "noise must be a pair"),
    ):
        with pytest.raises(InputError, match=match):
            train(TrainSpec("kdiff-diffusion", out=tmp_path / "x", size=SIZE, steps=1, params=params))
    with pytest.raises(InputError, match="odd"):
        train(TrainSpec("kdiff-diffusion", out=tmp_path / "x", size=8, steps=1, params=TINY_DIFFUSION))


def test_a_corrupt_weight_file_names_the_file_and_the_command(tmp_path: Path) -> None:
    path = train_diffusion(tmp_path / "diffusion-9", steps=1)
    path.write_bytes(b"not safetensors")
    with pytest.raises(WeightsError) as info:
        load_denoiser(SIZE, path.with_suffix(""))
    message = str(info.value)
    assert "\n" not in message and str(path) in message and "deblur train kdiff-diffusion" in message
    with pytest.raises(WeightsError, match="sizes"):
        load_denoiser(7)

"""The three trainers: cards (metrics, parents' SHA-256), resuming, and settings refused up front."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from deblur_ufp import train_deblur, train_estimator, train_flow

from deblur.errors import InputError
from deblur.training import TrainSpec
from deblur.weights import load_weights, sha256_file
from tests.ufp.conftest import SIZE, TINY_DEBLUR, TINY_ESTIMATOR, TINY_FLOW


class Interrupt(Exception):
    pass


def _stages(weights: dict[str, Path]) -> dict[str, tuple[Callable[[TrainSpec], Path], dict]]:
    """Per trainer: its function and tiny settings (the parents the session's tiny weights)."""
    return {
        "ufp-flow": (train_flow.train, dict(TINY_FLOW)),
        "ufp-estimator": (train_estimator.train, {**TINY_ESTIMATOR, "flow": str(weights["flow"])}),
        "ufp-deblur": (
            train_deblur.train,
            {**TINY_DEBLUR, "estimator": str(weights["estimator"]), "flow": str(weights["flow"])},
        ),
    }


@pytest.mark.parametrize("name", ["ufp-flow", "ufp-estimator", "ufp-deblur"])
def test_a_resumed_run_gives_the_weights_of_an_uninterrupted_one(
    name: str, tmp_path: Path, tiny_weights: dict[str, Path]
) -> None:
    train, settings = _stages(tiny_weights)[name]
    stage = name.removeprefix("ufp-")
    params = {**settings, "checkpoint_every": 2}
    whole = load_weights(
        train(TrainSpec(name, out=tmp_path / "a" / stage, size=SIZE, steps=3, params=params))
    )[0]
    stem = tmp_path / "b" / stage

    def stop(at: str, done: int, total: int, **_: float) -> None:
        if at == stage and done == 3:  # after the checkpoint of step 2
            raise Interrupt

    with pytest.raises(Interrupt):
        train(TrainSpec(name, out=stem, size=SIZE, steps=3, params=params, progress=stop))
    checkpoint = stem.with_suffix(".ckpt")
    assert checkpoint.is_file()
    assert int(torch.load(checkpoint, weights_only=False)["step"]) == 2
    resumed = train(TrainSpec(name, out=stem, size=SIZE, steps=3, params=params, resume=True))
    assert not checkpoint.exists(), "the checkpoint is removed at the end"
    tensors = load_weights(resumed)[0]
    assert tensors.keys() == whole.keys()
    for key, tensor in tensors.items():
        assert torch.allclose(tensor, whole[key], atol=1e-6), key
    fresh = load_weights(
        train(TrainSpec(name, out=tmp_path / "c" / stage, size=SIZE, steps=3, seed=1, params=params))
    )[0]
    assert any(not torch.allclose(t, whole[k]) for k, t in fresh.items()), "another seed, other weights"


def test_the_flow_card_compares_against_the_gaussian_baseline(tiny_weights: dict[str, Path]) -> None:
    path = tiny_weights["flow"].with_suffix(".safetensors")
    _, card = load_weights(path)
    assert card["command"].startswith("deblur train ufp-flow --size 5 --steps 3 --seed 0")
    assert card["sha256"] == sha256_file(path)
    metrics = card["metrics"]
    assert {"heldout_nll", "gaussian_nll", "sample_haze", "data_haze", "roundtrip_error", "nll"} <= set(
        metrics
    )
    assert metrics["roundtrip_error"] < 1e-4
    assert (
        card["architecture"]["size"] == SIZE and card["architecture"]["couplings"] == TINY_FLOW["couplings"]
    )


def test_the_estimator_and_deblur_cards_record_their_parents(tiny_weights: dict[str, Path]) -> None:
    _, flow_card = load_weights(tiny_weights["flow"].with_suffix(".safetensors"))
    path = tiny_weights["estimator"].with_suffix(".safetensors")
    _, card = load_weights(path)
    assert card["command"].startswith("deblur train ufp-estimator --size 5 --steps 2 --seed 0")
    assert card["sha256"] == sha256_file(path)
    assert {"reblur_psnr", "reblur_psnr_true", "field_mnc", "mean_sigma", "reblur_l1"} <= set(card["metrics"])
    assert -1 <= card["metrics"]["field_mnc"] <= 1
    assert card["extra"]["flow_sha256"] == flow_card["sha256"]
    assert card["extra"]["flow_command"] == flow_card["command"]
    path = tiny_weights["deblur"].with_suffix(".safetensors")
    _, deblur_card = load_weights(path)
    assert deblur_card["command"].startswith("deblur train ufp-deblur --size 5 --steps 2 --seed 0")
    assert deblur_card["sha256"] == sha256_file(path)
    assert {"heldout_psnr", "heldout_psnr_blurry", "loss"} <= set(deblur_card["metrics"])
    assert deblur_card["extra"]["estimator_sha256"] == card["sha256"]


def test_another_flow_stem_changes_the_recorded_parent(tiny_weights: dict[str, Path], tmp_path: Path) -> None:
    _, other = load_weights(tiny_weights["other_flow"].with_suffix(".safetensors"))
    _, flow_card = load_weights(tiny_weights["flow"].with_suffix(".safetensors"))
    assert other["sha256"] != flow_card["sha256"], "two seeds, two flows"
    params = {**TINY_ESTIMATOR, "flow": str(tiny_weights["other_flow"])}
    path = train_estimator.train(
        TrainSpec("ufp-estimator", out=tmp_path / "e", size=SIZE, steps=1, params=params)
    )
    assert load_weights(path)[1]["extra"]["flow_sha256"] == other["sha256"]


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("ufp-flow", {"wings": 2}, "wings"),
        ("ufp-flow", {"preset": "huge"}, "preset must be one of fast, paper"),
        ("ufp-flow", {"length": [0.5]}, "length must be a pair"),
        ("ufp-estimator", {"wings": 2}, "wings"),
        ("ufp-estimator", {"preset": "huge"}, "preset must be one of fast, paper"),
        ("ufp-estimator", {"crop": 9}, r"crop must be at least twice the kernel size \(10\)"),
        ("ufp-estimator", {"widths": [4, 0]}, "widths must be a list of positive integers"),
        ("ufp-estimator", {"uncertainty": "yes"}, "uncertainty must be true or false"),
        ("ufp-estimator", {"latent_weight": -1}, "latent_weight"),
        ("ufp-deblur", {"wings": 2}, "wings"),
        ("ufp-deblur", {"preset": "huge"}, "preset must be one of fast, paper"),
        ("ufp-deblur", {"crop": 18, "enc_blocks": [1, 1]}, "crop must be a multiple of 4"),
        ("ufp-deblur", {"enc_blocks": []}, "enc_blocks must be a list of positive integers"),
    ],
)
def test_bad_settings_are_refused_before_training(
    name: str, params: dict, match: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = {"ufp-flow": train_flow, "ufp-estimator": train_estimator, "ufp-deblur": train_deblur}[name]

    def no_fit(*_a: object, **_k: object) -> None:
        raise AssertionError("training started before the refusal")

    monkeypatch.setattr(module, "fit", no_fit)
    with pytest.raises(InputError, match=match):
        module.train(TrainSpec(name, out=tmp_path / "x", size=SIZE, steps=1, params=params))
    assert not list(tmp_path.iterdir()), "nothing written"


@pytest.mark.parametrize("name", ["ufp-flow", "ufp-estimator"])
def test_an_even_or_tiny_kernel_size_is_refused(name: str, tmp_path: Path) -> None:
    module = {"ufp-flow": train_flow, "ufp-estimator": train_estimator}[name]
    for size in (4, 1):
        with pytest.raises(InputError, match="odd and at least 3"):
            module.train(TrainSpec(name, out=tmp_path / "x", size=size, steps=1))


def test_the_deblur_trainer_refuses_an_even_kernel_size(
    tmp_path: Path, tiny_weights: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(train_deblur, "fit", lambda *_a, **_k: pytest.fail("training started"))
    params = {**TINY_DEBLUR, "estimator": str(tiny_weights["estimator"]), "flow": str(tiny_weights["flow"])}
    with pytest.raises(InputError, match="odd"):
        train_deblur.train(TrainSpec("ufp-deblur", out=tmp_path / "x", size=4, steps=1, params=params))


def test_a_missing_parent_is_a_weights_error_naming_the_stem(tmp_path: Path) -> None:
    from deblur.errors import WeightsError

    params = {**TINY_ESTIMATOR, "flow": str(tmp_path / "nowhere-5")}
    with pytest.raises(WeightsError, match="nowhere-5"):
        train_estimator.train(
            TrainSpec("ufp-estimator", out=tmp_path / "e", size=SIZE, steps=1, params=params)
        )


def test_the_latent_term_pulls_the_codes_towards_the_flows_base_density(tmp_path: Path) -> None:
    from deblur_ufp.networks import load_estimator

    from tests.ufp import conftest

    flow = conftest.train_flow(tmp_path / "flow")
    energy = {}
    for weight in (0.0, 10.0):
        stem = tmp_path / f"est{int(weight)}"
        conftest.train_estimator(stem, flow, steps=3, latent_weight=weight)
        assert json.loads(stem.with_suffix(".json").read_text())["extra"]["latent_weight"] == weight
        estimator, f, _ = load_estimator(SIZE, stem, flow)
        y = torch.rand(2, 1, 24, 24, generator=torch.Generator().manual_seed(0))
        energy[weight] = float(estimator(y, f).codes.square().mean())
    assert energy[10.0] < energy[0.0]

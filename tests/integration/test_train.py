"""``deblur train`` end to end with the fixture plugin's trainer: listing, weights + card, resume, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from deblur.training import TrainSpec
from deblur.weights import load_weights
from deblur_fixture.training import train_box_kernel


def test_train_lists_and_runs_the_fixture_trainer(deblur_cli, tmp_path) -> None:
    listing = deblur_cli("train")
    assert listing.returncode == 0 and "fixture-box-kernel" in listing.stdout
    done = deblur_cli(
        "train", "fixture-box-kernel", "--steps", "80", "--set", "lr=0.1", "--out", str(tmp_path / "w")
    )
    assert done.returncode == 0, done.stderr
    tensors, card = load_weights(tmp_path / "w")
    assert card["command"] == "deblur train fixture-box-kernel --steps 80 --seed 0 --set lr=0.1"
    assert torch.allclose(tensors["kernel"], torch.full((1, 1, 3, 3), 1 / 9), atol=0.03)
    assert not (tmp_path / "w.ckpt").exists(), "the checkpoint is removed once the weights are written"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-trainer"], "unknown trainer 'no-such-trainer'"),
        (["fixture-box-kernel", "--set", "width=3"], "has no setting 'width'; settings: batch, lr"),
        (["fixture-box-kernel", "--steps", "0"], "steps must be an integer >= 1"),
        (["fixture-box-kernel", "--device", "tpu"], "unknown device"),
    ],
)
def test_bad_train_requests_are_one_line_errors(deblur_cli, tmp_path, args, message) -> None:
    done = deblur_cli("train", *args, "--out", str(tmp_path / "w"))
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir()), "nothing written"


def test_resume_without_a_checkpoint_trains_from_the_start(deblur_cli, tmp_path) -> None:
    done = deblur_cli("train", "fixture-box-kernel", "--steps", "5", "--resume", "--out", str(tmp_path / "w"))
    assert done.returncode == 0, done.stderr
    assert f"deblur: no checkpoint at {tmp_path / 'w.ckpt'}: training from step 0" in done.stderr
    assert (tmp_path / "w.safetensors").is_file()


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path: Path) -> None:
    train_box_kernel(TrainSpec("fixture-box-kernel", out=tmp_path / "straight", steps=30))

    def interrupt(stage: str, step: int, total: int, **metrics: float) -> None:
        if step == 25:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_box_kernel(TrainSpec("fixture-box-kernel", out=tmp_path / "cut", steps=30, progress=interrupt))
    saved = torch.load(tmp_path / "cut.ckpt", weights_only=True)
    assert saved["step"] == 20, "checkpoints every 10 steps"
    train_box_kernel(TrainSpec("fixture-box-kernel", out=tmp_path / "cut", steps=30, resume=True))
    straight, _ = load_weights(tmp_path / "straight")
    resumed, card = load_weights(tmp_path / "cut")
    assert torch.equal(straight["kernel"], resumed["kernel"])
    assert json.loads((tmp_path / "cut.json").read_text())["metrics"] == card["metrics"]

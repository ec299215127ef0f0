"""TrainSpec (the reproducing command, settings) and Checkpoint (atomic, resumable, checked)."""

from __future__ import annotations

import pytest
import torch

from deblur.errors import InputError
from deblur.training import Checkpoint, TrainSpec, check_params


def test_command_reproduces_the_run_without_output_or_device() -> None:
    spec = TrainSpec("gen", size=31, steps=100, seed=3, params={"width": 32, "name": "a b"})
    assert spec.command == "deblur train gen --size 31 --steps 100 --seed 3 --set 'name=a b' --set width=32"
    assert TrainSpec("gen").command == "deblur train gen --seed 0"


def test_generator_is_seeded() -> None:
    a, b = TrainSpec("t", seed=5).generator(), TrainSpec("t", seed=5).generator()
    assert torch.equal(torch.rand(3, generator=a), torch.rand(3, generator=b))


@pytest.mark.parametrize("field", ["size", "steps"])
def test_sizes_and_steps_must_be_positive_integers(field: str) -> None:
    with pytest.raises(InputError, match=f"{field} must be an integer >= 1"):
        TrainSpec("t", **{field: 0})


def test_check_params_merges_and_refuses_unknown_keys() -> None:
    assert check_params(TrainSpec("t", params={"lr": 0.1}), {"lr": 1.0, "batch": 4}) == {
        "lr": 0.1,
        "batch": 4,
    }
    with pytest.raises(InputError, match="trainer 't' has no setting 'lrr'; settings: batch, lr"):
        check_params(TrainSpec("t", params={"lrr": 0.1}), {"lr": 1.0, "batch": 4})


def test_checkpoint_round_trip_interval_and_removal(tmp_path) -> None:
    ckpt = Checkpoint(tmp_path / "sub" / "run.ckpt", every=5)
    assert ckpt.load() is None
    ckpt.maybe_save(3, lambda: pytest.fail("saved off the interval"))
    ckpt.maybe_save(5, lambda: {"step": 5, "w": torch.ones(2)})
    state = ckpt.load()
    assert state is not None and state["step"] == 5 and torch.equal(state["w"], torch.ones(2))
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["run.ckpt"], "no temporary left behind"
    ckpt.remove()
    assert ckpt.load() is None


@pytest.mark.parametrize("content", [b"not a checkpoint", None])
def test_unreadable_or_foreign_checkpoints_are_errors(tmp_path, content: bytes | None) -> None:
    path = tmp_path / "run.ckpt"
    if content is None:
        torch.save({"weights": torch.ones(1)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(InputError, match="delete it to start over"):
        Checkpoint(path, every=1).load()

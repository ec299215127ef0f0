"""TrainSpec (the reproducing command, settings) and Checkpoint (atomic, resumable, checked)."""

from __future__ import annotations

import pytest
import torch

from deblur.errors import InputError
from deblur.training import Checkpoint, TrainSpec, check_params, final_losses, fit


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


class Counter:
    """A Resumable whose 'loss' after step n is 1 / n."""

    def __init__(self) -> None:
        self.step_count = 0
        self.history: dict[str, list[float]] = {"loss": []}
        self.restored_from = None

    def step(self) -> None:
        self.step_count += 1
        self.history["loss"].append(1 / self.step_count)

    def state(self) -> dict:
        return {}

    def restore(self, state: dict, source) -> None:
        self.restored_from = source


def test_fit_reports_checkpoints_and_resumes(tmp_path) -> None:
    seen = []
    spec = TrainSpec("t", progress=lambda stage, step, total, **m: seen.append((stage, step, total, m)))
    ckpt = Checkpoint.beside(tmp_path / "w", every=4)
    assert ckpt.path == tmp_path / "w.ckpt"
    run = Counter()
    assert fit(run, 6, spec, ckpt, "fit") >= 0
    assert seen[0] == ("fit", 1, 6, {"loss": 1.0}) and [s[1] for s in seen] == [1, 2, 3, 4, 5, 6]
    saved = ckpt.load()
    assert saved["step"] == 4 and saved["elapsed"] >= 0, "saved on the interval, with the clock"

    resumed = Counter()
    fit(resumed, 6, TrainSpec("t", resume=True), ckpt, "fit")
    assert resumed.restored_from == ckpt.path and resumed.history == run.history
    fresh = Counter()
    fit(fresh, 6, TrainSpec("t"), ckpt, "fit")
    assert fresh.restored_from is None, "without --resume the checkpoint is ignored"


def test_resume_without_a_checkpoint_starts_over_and_says_so(tmp_path, caplog) -> None:
    run = Counter()
    fit(run, 3, TrainSpec("t", resume=True), Checkpoint.beside(tmp_path / "w", every=10), "fit")
    assert run.restored_from is None and run.step_count == 3
    assert f"no checkpoint at {tmp_path / 'w.ckpt'}: training from step 0" in caplog.text


def test_final_losses_average_the_last_tenth() -> None:
    assert final_losses({"a": [9.0] * 90 + [1.0] * 10, "b": [2.0]}) == {"a": 1.0, "b": 2.0}
    assert final_losses({"a": [float(i) for i in range(2000)]})["a"] == 1949.5, "at most 100 steps"
    with pytest.raises(InputError, match="loss 'a' has no values"):
        final_losses({"a": []})

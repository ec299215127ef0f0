"""The loop driver: stop criteria, their combinations, history and progress."""

from __future__ import annotations

import pytest

from deblur.loop import MaxSteps, Plateau, RelativeChange, WallClock, iterate


def test_max_steps_runs_exactly_and_reports_progress() -> None:
    calls = []
    outcome = iterate(
        lambda t: {"loss": 1.0 / (t + 1)},
        MaxSteps(4),
        stage="fit",
        progress=lambda stage, step, total, **m: calls.append((stage, step, total, m["loss"])),
    )
    assert (outcome.steps, outcome.reason) == (4, "4 steps")
    assert outcome.history == {"loss": [1.0, 0.5, 1 / 3, 0.25]}
    assert calls[0] == ("fit", 1, 4, 1.0) and calls[-1][:3] == ("fit", 4, 4)


def test_either_criterion_stops_the_loop() -> None:
    losses = [10.0, 5.0, 4.0] + [3.0] * 60
    outcome = iterate(lambda t: {"loss": losses[t]}, MaxSteps(50) | RelativeChange(1e-6))
    assert outcome.steps == 5 and "changed by less than" in outcome.reason
    both = iterate(lambda t: {"loss": 1.0}, (MaxSteps(5) & RelativeChange(1e-6)) | MaxSteps(20))
    assert both.steps == 5 and both.reason.startswith("5 steps and loss changed")


def test_plateau_compares_windows_after_its_start() -> None:
    # falls fast for 10 steps, then flat: windows of 3 are compared from step 4 on, every 3 steps
    losses = [2.0**-t for t in range(10)] + [1e-3] * 50
    outcome = iterate(lambda t: {"loss": losses[t]}, MaxSteps(60) | Plateau(0.1, window=3, start=4))
    assert outcome.steps == 16 and "plateaued" in outcome.reason
    assert (outcome.steps - 4) % 3 == 0


def test_wall_clock_budget_bounds_a_loop_without_a_step_limit() -> None:
    outcome = iterate(lambda t: {}, WallClock(0.05))
    assert outcome.steps >= 1 and "budget spent" in outcome.reason


def test_history_is_shared_across_loops_and_unbounded_loops_are_refused() -> None:
    history: dict[str, list[float]] = {"loss": [9.0]}
    iterate(lambda t: {"loss": float(t)}, MaxSteps(2), history=history)
    assert history == {"loss": [9.0, 0.0, 1.0]}
    for unbounded in (RelativeChange(1e-3), MaxSteps(5) & RelativeChange(1e-3)):
        with pytest.raises(ValueError, match="MaxSteps or WallClock"):
            iterate(lambda t: {"loss": 1.0}, unbounded)
    assert iterate(lambda t: {"loss": 1.0}, MaxSteps(0)).steps == 0

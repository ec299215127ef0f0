"""One driver for iterative inference: a step function, composable stop criteria, progress and history.

A solver writes what one iteration does and says when to stop::

    outcome = iterate(step, MaxSteps(2500) | Plateau(0.01, window=50, start=1750), stage="dip-mc",
                      progress=ctx.progress)

``step(t)`` takes the 0-based iteration and returns its metrics (``{"loss": 0.12}``); the driver appends
them to the history, reports them to the progress callback and asks the criterion after each step.
Criteria combine with ``|`` (stop when either says so) and ``&`` (stop when both do), as pyxu's
``MaxIter(50) | RelError(1e-4)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from deblur.checks import count, fraction, positive
from deblur.context import Progress, silent

__all__ = [
    "LoopOutcome",
    "LoopState",
    "MaxSteps",
    "Plateau",
    "RelativeChange",
    "StopCriterion",
    "WallClock",
    "iterate",
]


@dataclass
class LoopState:
    """What a stop criterion sees after each step."""

    steps: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def series(self, metric: str) -> list[float]:
        return self.history.get(metric, [])


class StopCriterion:
    """Says, after each step, why to stop (a short reason) or ``None`` to go on."""

    def __call__(self, state: LoopState) -> str | None:
        raise NotImplementedError

    def limit(self) -> int | None:
        """The most steps this criterion allows (for progress bars), ``None`` if unbounded."""
        return None

    def __or__(self, other: StopCriterion) -> StopCriterion:
        return _Any(self, other)

    def __and__(self, other: StopCriterion) -> StopCriterion:
        return _All(self, other)


@dataclass(frozen=True)
class _Any(StopCriterion):
    first: StopCriterion
    second: StopCriterion

    def __call__(self, state: LoopState) -> str | None:
        return self.first(state) or self.second(state)

    def limit(self) -> int | None:
        limits = [n for n in (self.first.limit(), self.second.limit()) if n is not None]
        return min(limits) if limits else None


@dataclass(frozen=True)
class _All(StopCriterion):
    first: StopCriterion
    second: StopCriterion

    def __call__(self, state: LoopState) -> str | None:
        a, b = self.first(state), self.second(state)
        return f"{a} and {b}" if a and b else None

    def limit(self) -> int | None:
        limits = [self.first.limit(), self.second.limit()]
        return None if None in limits else max(n for n in limits if n is not None)


@dataclass(frozen=True)
class MaxSteps(StopCriterion):
    """Stop after ``steps`` steps."""

    steps: int

    def __post_init__(self) -> None:
        count("steps", self.steps, 0)

    def __call__(self, state: LoopState) -> str | None:
        return f"{self.steps} steps" if state.steps >= self.steps else None

    def limit(self) -> int | None:
        return self.steps


@dataclass(frozen=True)
class RelativeChange(StopCriterion):
    """Stop when ``|m_t - m_{t-1}| <= tol * |m_{t-1}|`` for the metric ``metric``."""

    tol: float
    metric: str = "loss"

    def __post_init__(self) -> None:
        positive("tol", self.tol)

    def __call__(self, state: LoopState) -> str | None:
        values = state.series(self.metric)
        if len(values) < 2:
            return None
        before, now = values[-2], values[-1]
        if abs(now - before) <= self.tol * abs(before):
            return f"{self.metric} changed by less than {self.tol:g} of its value"
        return None


@dataclass(frozen=True)
class Plateau(StopCriterion):
    """Stop when the mean of ``metric`` over the last ``window`` steps fell by less than ``min_drop`` of the
    mean over the ``window`` steps before it.

    Checked every ``window`` steps once ``2 * window`` steps have passed since step ``start``.
    """

    min_drop: float
    window: int
    start: int = 0
    metric: str = "loss"

    def __post_init__(self) -> None:
        fraction("min_drop", self.min_drop)
        count("window", self.window, 1)
        count("start", self.start, 0)

    def __call__(self, state: LoopState) -> str | None:
        done, n = state.steps - self.start, self.window
        if done < 2 * n or done % n:
            return None
        values = state.series(self.metric)
        recent, before = sum(values[-n:]), sum(values[-2 * n : -n])
        if before - recent < self.min_drop * before:
            return f"{self.metric} plateaued (fell by less than {self.min_drop:g} over {n} steps)"
        return None


@dataclass(frozen=True)
class WallClock(StopCriterion):
    """Stop once ``seconds`` of wall-clock time have passed since the loop started."""

    seconds: float

    def __post_init__(self) -> None:
        positive("seconds", self.seconds)

    def __call__(self, state: LoopState) -> str | None:
        spent = time.monotonic() - state.started
        return f"{self.seconds:g} s budget spent" if spent >= self.seconds else None


@dataclass(frozen=True)
class LoopOutcome:
    """How a loop ended: the steps taken, the reason, and the metric history."""

    steps: int
    reason: str
    history: dict[str, list[float]]


def iterate(
    step: Callable[[int], Mapping[str, float]],
    stop: StopCriterion,
    *,
    stage: str = "",
    progress: Progress = silent,
    history: dict[str, list[float]] | None = None,
) -> LoopOutcome:
    """Run ``step(t)`` for ``t = 0, 1, ...`` until ``stop`` says so.

    Args:
        step: one iteration; returns its metrics, appended to ``history`` and shown by ``progress``.
        stop: when to stop; it must bound the loop (contain a :class:`MaxSteps` or :class:`WallClock`).
        stage: the progress label.
        progress: the progress callback, called once per step with ``(stage, t + 1, limit)``.
        history: a history to append to (e.g. shared by several loops of one run); default a new one.
    """
    limit = stop.limit()
    if limit is None and not _bounded(stop):
        raise ValueError("the stop criterion must contain MaxSteps or WallClock")
    state = LoopState(history=history if history is not None else {})
    total = limit if limit is not None else 0
    reason = stop(state)
    while reason is None:
        metrics = step(state.steps)
        state.steps += 1
        for name, value in metrics.items():
            state.history.setdefault(name, []).append(value)
        progress(stage, state.steps, max(total, state.steps), **metrics)
        reason = stop(state)
    return LoopOutcome(state.steps, reason, state.history)


def _bounded(stop: StopCriterion) -> bool:
    if isinstance(stop, (MaxSteps, WallClock)):
        return True
    if isinstance(stop, _Any):
        return _bounded(stop.first) or _bounded(stop.second)
    if isinstance(stop, _All):
        return _bounded(stop.first) and _bounded(stop.second)
    return False

"""Parameter checks shared by every component: each raises a one-line :class:`InputError` naming it."""

from __future__ import annotations

import math

from deblur.errors import InputError

__all__ = ["count", "fraction", "odd_size", "positive", "within"]


def positive(name: str, value: float, allow_zero: bool = False) -> float:
    """``value`` as a finite float ``> 0`` (``>= 0`` with ``allow_zero``)."""
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise InputError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0, got {value}")
    return value


def fraction(name: str, value: float) -> float:
    """``value`` as a float in ``[0, 1]``."""
    value = float(value)
    if not 0 <= value <= 1:
        raise InputError(f"{name} must be in [0, 1], got {value}")
    return value


def within(name: str, value: float, low: float, high: float) -> float:
    """``value`` as a finite float in ``(low, high]``."""
    value = float(value)
    if not (math.isfinite(value) and low < value <= high):
        raise InputError(f"{name} must be in ({low:g}, {high:g}], got {value}")
    return value


def odd_size(size: int) -> int:
    """``size`` as an odd positive integer (a kernel side)."""
    if isinstance(size, bool) or int(size) != size or size < 1 or size % 2 == 0:
        raise InputError(f"kernel size must be an odd positive integer, got {size!r}")
    return int(size)


def count(name: str, value: int, minimum: int) -> int:
    """``value`` as an integer ``>= minimum`` (booleans and non-integral numbers refused)."""
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)

"""Parameter checks shared by every component: each raises a one-line :class:`InputError` naming it."""

from __future__ import annotations

import math

from deblur.errors import InputError

__all__ = ["count", "fraction", "odd_size", "positive", "positive_ints", "value_range", "within"]


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


def value_range(name: str, pair: object, *, open_low: bool = False) -> tuple[float, float]:
    """``pair`` ``[low, high]`` as a float tuple with ``0 <= low <= high`` (``0 < low`` with ``open_low``)."""
    ok = isinstance(pair, (list, tuple)) and len(pair) == 2
    if ok:
        low, high = pair
        ok = (low > 0 if open_low else low >= 0) and low <= high
    if not ok:
        raise InputError(
            f"{name} must be a pair [low, high] with 0 {'<' if open_low else '<='} low <= high, got {pair!r}"
        )
    return float(pair[0]), float(pair[1])


def positive_ints(name: str, value: object) -> tuple[int, ...]:
    """``value`` as a non-empty tuple of positive integers (network widths, blocks per level)."""
    if not (isinstance(value, (list, tuple)) and value and all(isinstance(v, int) and v > 0 for v in value)):
        raise InputError(f"{name} must be a list of positive integers, got {value!r}")
    return tuple(value)

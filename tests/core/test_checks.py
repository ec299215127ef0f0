"""Core's shared parameter checks for ranges and integer lists."""

from __future__ import annotations

import pytest

from deblur.checks import positive_ints, value_range
from deblur.errors import InputError


def test_value_range_accepts_ordered_non_negative_pairs_and_refuses_the_rest() -> None:
    assert value_range("noise", [0, 0.02]) == (0.0, 0.02)
    for bad in ([0.1], [0.2, 0.1], [-0.1, 0.1], "0,1"):
        with pytest.raises(InputError, match=r"noise must be a pair \[low, high\] with 0 <= low <= high"):
            value_range("noise", bad)
    with pytest.raises(InputError, match="with 0 < low <= high"):
        value_range("length", [0, 1], open_low=True)


def test_positive_ints_refuses_empty_lists_zeros_and_fractions() -> None:
    assert positive_ints("widths", [8, 16]) == (8, 16)
    for bad in ([], [8, 0], [8, 1.5], 8):
        with pytest.raises(InputError, match="widths must be a list of positive integers"):
            positive_ints("widths", bad)

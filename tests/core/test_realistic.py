"""The realistic benchmark set: seeded, large, every category, valid and same formation, 8-bit."""

from __future__ import annotations

import pytest
import torch

from deblur.bench import load_dataset
from deblur.data.realistic import CATEGORIES, realistic_case, realistic_cases
from deblur.errors import InputError


@pytest.fixture(scope="module")
def cases():
    return realistic_cases(4)


def test_each_category_in_turn_with_its_kernel_sizes(cases) -> None:
    assert [c.category for c in cases] == list(CATEGORIES)
    for c in cases:
        h, w = c.blurry.shape[-2:]
        assert 600 <= h <= 1000 and 600 <= w <= 1000 and c.sharp.shape == c.blurry.shape
        size = c.kernel.shape[-1]
        assert size % 2 == 1 and (51 <= size <= 75 if c.category == "large" else 15 <= size <= 45)
        assert float(c.kernel.sum()) == pytest.approx(1.0, abs=1e-5)
        assert 0.005 <= c.noise <= 0.02 and c.formation == "valid"
        assert torch.allclose(c.blurry * 255, torch.round(c.blurry * 255), atol=1e-3), "8-bit values"
        assert float(c.sharp.min()) >= 0 and float(c.sharp.max()) <= 1


def test_lights_are_clipped_and_text_is_dark_on_light(cases) -> None:
    plain, saturated, text, _ = cases
    assert float((saturated.blurry >= 1).float().mean()) > 5 * float((plain.blurry >= 1).float().mean())
    assert float(text.sharp.median()) > 0.75 and float(text.sharp.min()) < 0.35


def test_the_set_is_seeded_and_each_case_its_own_stream(cases) -> None:
    again = realistic_case(2)
    assert torch.equal(again.blurry, cases[2].blurry) and torch.equal(again.kernel, cases[2].kernel)
    later = realistic_case(12)  # group 1 of eight: colour, same formation
    assert later.formation == "same" and later.blurry.shape[1] == 3 and later.category == "plain"


def test_bench_loads_it_with_the_categories() -> None:
    items = load_dataset("realistic:3", images=["realistic001-saturated"])
    assert [(i.name, i.category) for i in items] == [("realistic001-saturated", "saturated")]
    assert items[0].kernel_size == items[0].kernel.shape[-1]
    with pytest.raises(InputError, match="realistic:N needs a positive integer"):
        load_dataset("realistic:zero")

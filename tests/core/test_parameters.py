"""Component parameters are read by their declared types, from Python values or command-line text."""

from __future__ import annotations

import pytest
import torch

from deblur.errors import CompositionError
from deblur.parameters import check_params, convert, describe
from deblur.pipeline import resolve_method, run
from deblur.registry import Registry


def factory(
    *,
    steps: int = 5,
    rate: float = 0.1,
    flag: bool = False,
    size: int | None = None,
    noise: float | str = "auto",
    milestones: tuple[float, ...] = (0.5,),
    mode: str = "fast",
) -> None:
    """A component factory with one parameter of each annotation the components use."""


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("steps", "12", 12),
        ("steps", " -3 ", -3),
        ("rate", "2e-3", 0.002),
        ("rate", "4", 4.0),
        ("flag", "true", True),
        ("flag", "off", False),
        ("size", "none", None),
        ("size", "31", 31),
        ("noise", "0.05", 0.05),
        ("noise", "auto", "auto"),
        ("milestones", "[0.4, 0.6]", (0.4, 0.6)),
        ("milestones", "0.4,0.8", (0.4, 0.8)),
        ("mode", "12", "12"),
    ],
)
def test_text_is_read_by_the_declared_type(name: str, text: str, value: object) -> None:
    checked = check_params(factory, {name: text}, path="solver", component="solver 'toy'")
    assert checked == {name: value} and type(checked[name]) is type(value)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("steps", "abc", "int"),
        ("steps", "2.5", "int"),
        ("steps", 2.5, "int"),
        ("steps", True, "int"),
        ("rate", "fast", "float"),
        ("rate", "nan", "float"),
        ("rate", float("inf"), "float"),
        ("flag", "maybe", "bool"),
        ("size", "big", "int or None"),
        ("milestones", "[0.4, x]", "tuple of float"),
        ("mode", 3, "str"),
    ],
)
def test_values_that_do_not_fit_name_parameter_value_and_type(
    name: str, value: object, expected: str
) -> None:
    with pytest.raises(CompositionError) as info:
        check_params(factory, {name: value}, path="nonblind", component="solver 'toy'")
    assert str(info.value) == f"nonblind.{name}={value!r}: solver 'toy' expects {expected}"


def test_python_values_of_the_right_type_pass_and_ints_widen_to_float() -> None:
    checked = check_params(
        factory, {"steps": 3, "rate": 1, "milestones": [0.2]}, path="solver", component="x"
    )
    assert checked == {"steps": 3, "rate": 1.0, "milestones": (0.2,)} and type(checked["rate"]) is float


def test_unannotated_parameters_take_json_text_or_the_text_itself() -> None:
    def untyped(a=1, b="x"):
        return a, b

    assert check_params(untyped, {"a": "[1, 2]", "b": "word"}, path="solver", component="x") == {
        "a": [1, 2],
        "b": "word",
    }


def test_describe_and_convert() -> None:
    assert describe(int | None) == "int or None" and describe(tuple[int, int]) == "tuple of int"
    assert convert("3,4", tuple[int, int]) == (3, 4)
    with pytest.raises(ValueError, match="expects tuple of int"):
        convert("3,4,5", tuple[int, int])


def test_a_method_refuses_a_bad_value_before_running(registry: Registry) -> None:
    plan = resolve_method(registry, "classic", params={"solver": {"iterations": "2.5"}})
    with pytest.raises(CompositionError, match=r"solver.iterations='2.5': solver 'classic' expects int"):
        plan.check()
    with pytest.raises(CompositionError, match="solver 'classic' expects int"):
        run(torch.rand(1, 1, 40, 40), "classic", registry=registry, solver={"iterations": 2.5})


def test_checked_values_are_what_the_report_records(registry: Registry) -> None:
    plan = resolve_method(registry, "classic", params={"solver": {"iterations": "2"}}).check()
    assert plan.config()["solver"]["params"]["iterations"] == 2
    params = {"nonblind.prior": {"weight": "3e-4"}}
    result = run(torch.rand(1, 1, 40, 40), "classic", registry=registry, kernel_size=5, params=params)
    assert result.config["solver"]["slots"]["nonblind"]["slots"]["prior"]["params"] == {"weight": 3e-4}

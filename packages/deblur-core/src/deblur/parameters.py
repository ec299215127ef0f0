"""Component parameters checked against the factory's signature and converted to its declared types.

Values come from Python (``params={"solver": {"iterations": 50}}``) or as text from the command line
(``--set solver.iterations=50``). Text is parsed by the annotation of the parameter it sets
(``int``, ``float``, ``bool``, ``None``, ``str``, tuples and lists of those, ``Literal`` and unions of
these); other values must already be of the declared type. A value that does not fit is a
:class:`~deblur.errors.CompositionError` naming the parameter, the value and the type expected, raised
before any factory is called. Unannotated parameters take Python values as given and JSON-decode text.
"""

from __future__ import annotations

import inspect
import json
import math
import numbers
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from deblur.errors import CompositionError

__all__ = ["check_params", "convert", "describe"]

_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}
_INT = re.compile(r"[+-]?\d+")


class _Mismatch(Exception):
    """A value that does not fit an annotation."""


def _signature(factory: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(factory)
    except (TypeError, ValueError):
        return None


def _hints(factory: Callable[..., Any]) -> dict[str, Any]:
    """The resolved annotations of ``factory`` (a class: of its ``__init__``); none if they do not resolve."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        return typing.get_type_hints(target)
    except Exception:  # an annotation naming what its module cannot resolve: leave the values unchecked
        return {}


def describe(hint: Any) -> str:
    """``int | None`` -> ``"int or None"``, ``tuple[float, ...]`` -> ``"tuple of float"``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is type(None) or hint is None:
        return "None"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (tuple, list):
        items = [a for a in args if a is not Ellipsis]
        if len(set(items)) == 1:
            return f"{origin.__name__} of {describe(items[0])}"
        return f"{origin.__name__} of ({', '.join(describe(a) for a in items)})" if items else origin.__name__
    return getattr(hint, "__name__", str(hint))


def _union_order(member: Any) -> int:
    """Text is tried against the stricter readings first: ``"none"``, a bool, an int, a float, then str."""
    order = {type(None): 0, bool: 1, int: 2, float: 3, str: 9}
    return order.get(member, 5)


def _sequence(value: Any, origin: type, args: tuple[Any, ...]) -> Any:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text) if text.startswith("[") else [p for p in text.split(",") if p.strip()]
        except json.JSONDecodeError:
            raise _Mismatch from None
    if not isinstance(value, (list, tuple)):
        raise _Mismatch
    if not args:
        return origin(value)
    if origin is tuple and (len(args) != 2 or args[1] is not Ellipsis):
        if len(args) != len(value):
            raise _Mismatch
        return tuple(convert(v, a) for v, a in zip(value, args, strict=True))
    return origin(convert(v, args[0]) for v in value)


def _scalar(value: Any, hint: type) -> Any:
    text = value.strip() if isinstance(value, str) else None
    if hint is type(None):
        if value is None or (text is not None and text.lower() in {"none", "null"}):
            return None
    elif hint is bool:
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
    elif hint is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
        if text is not None and _INT.fullmatch(text):
            return int(text)
    elif hint is float:
        number: float | None = None
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            number = float(value)
        elif text is not None:
            try:
                number = float(text)
            except ValueError:
                number = None
        if number is not None and math.isfinite(number):
            return number
    elif hint is str:
        if isinstance(value, str):
            return value
    elif isinstance(value, hint):
        return value
    raise _Mismatch


def convert(value: Any, hint: Any) -> Any:
    """``value`` as the annotation ``hint`` reads it; raises ``ValueError`` if it does not fit."""
    try:
        return _convert(value, hint)
    except _Mismatch:
        raise ValueError(f"expects {describe(hint)}") from None


def _convert(value: Any, hint: Any) -> Any:
    if hint is Any or hint is inspect.Parameter.empty:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return value
        return value
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        members = sorted(args, key=_union_order) if isinstance(value, str) else args
        for member in members:
            try:
                return _convert(value, member)
            except _Mismatch:
                continue
        raise _Mismatch
    if origin is typing.Literal:
        for option in args:
            if value == option or (isinstance(value, str) and value.strip() == str(option)):
                return option
        raise _Mismatch
    if origin in (tuple, list):
        return _sequence(value, origin, args)
    if hint is None or isinstance(hint, type):
        return _scalar(value, type(None) if hint is None else hint)
    return value  # a Protocol, Callable or other annotation that says nothing checkable about the value


def check_params(
    factory: Callable[..., Any],
    params: Mapping[str, Any],
    *,
    path: str,
    component: str,
    slots: Iterable[str] = (),
) -> dict[str, Any]:
    """``params`` converted to the types ``factory`` declares.

    Args:
        factory: the component's factory (a class or a function).
        params: parameter values by name, as given in Python or as command-line text.
        path: the slot path of the component (``"solver"``, ``"nonblind.prior"``), for errors.
        component: names the component in errors, e.g. ``"solver 'classic'"``.
        slots: the factory's arguments that are filled with components, not parameters.

    Raises:
        CompositionError: a parameter the factory does not take (naming those it does), or a value
            that does not fit its type (naming the parameter, the value and the type).
    """
    signature = _signature(factory)
    if signature is None:
        return dict(params)
    slots = set(slots)
    accepted = {
        name: p
        for name, p in signature.parameters.items()
        if name not in slots and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    open_ended = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    unknown = sorted(set(params) - set(accepted))
    if unknown and not open_ended:
        raise CompositionError(
            f"{component} at {path!r} does not take {', '.join(unknown)}; "
            f"it takes: {', '.join(accepted) or 'no parameters'}"
        )
    hints = _hints(factory)
    checked = {}
    for name, value in params.items():
        hint = hints.get(name, Any) if name in accepted else Any
        try:
            checked[name] = convert(value, hint)
        except ValueError as exc:
            raise CompositionError(f"{path}.{name}={value!r}: {component} {exc}") from None
    return checked

"""The ``KEY=VALUE`` options of the command line, read into what the pipeline, bench and trainers take.

- ``--set SLOT.PARAM=VALUE`` (``run``, ``bench``): :func:`parse_settings` gives parameters by slot path;
  ``bench`` also takes ``METHOD:SLOT.PARAM=VALUE`` for one of its methods (:func:`bench_settings`).
  Values stay text: the pipeline reads each by the type its component declares (:mod:`deblur.parameters`).
- ``--use SLOT=COMPONENT`` (``run``, ``bench``): :func:`parse_uses` gives component names by slot path;
  ``bench`` also takes ``METHOD:SLOT=COMPONENT`` (:func:`bench_uses`).
- ``--set KEY=VALUE`` (``train``): :func:`parse_train_settings`, values JSON-decoded where they parse
  (trainers merge them over their defaults as they are, :func:`deblur.training.check_params`).

Each splits its items with :func:`split_assignment`. Nothing here imports torch, numpy or pluggy.
"""

from __future__ import annotations

import json
from typing import Any

from deblur.errors import InputError

__all__ = [
    "bench_settings",
    "bench_uses",
    "parse_settings",
    "parse_train_settings",
    "parse_uses",
    "split_assignment",
]


def split_assignment(
    item: str, option: str, form: str, *, dotted: bool = False, need_value: bool = False
) -> tuple[str, str]:
    """``"KEY=VALUE"`` -> ``("KEY", "VALUE")``, both stripped.

    An :class:`InputError` ``OPTION 'ITEM': expected FORM`` when ``item`` has no ``=`` or no key, a
    ``dotted`` key does not end in ``.NAME``, or ``need_value`` and the value is empty.
    """
    key, sep, value = item.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key or (dotted and ("." not in key or key.endswith("."))) or (need_value and not value):
        raise InputError(f"{option} {item!r}: expected {form}")
    return key, value


def parse_settings(settings: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """``("solver.iterations=500", "nonblind.prior.weight=2e-3")`` -> params by slot path.

    Values stay text: the pipeline reads each by the type its component declares
    (:mod:`deblur.parameters`), so ``iterations=2.5`` is refused rather than run as 2.
    """
    params: dict[str, dict[str, str]] = {}
    for item in settings:
        key, value = split_assignment(
            item, "--set", "SLOT.PARAM=VALUE, e.g. solver.iterations=500", dotted=True
        )
        path, _, name = key.rpartition(".")
        params.setdefault(path, {})[name] = value
    return params


def _by_method(items: tuple[str, ...], methods: tuple[str, ...], option: str) -> dict[str, list[str]]:
    """``METHOD:ITEM`` for one benchmarked method, ``ITEM`` for all: the items that apply to each."""
    shared, own = [], {m: [] for m in methods}
    for item in items:
        method, colon, _ = item.partition("=")[0].rpartition(":")
        if not colon:
            shared.append(item)
        elif method in own:
            own[method].append(item[len(method) + 1 :])
        else:
            raise InputError(f"{option} {item!r}: {method!r} is not one of the methods benchmarked")
    return {m: [*shared, *own[m]] for m in methods}


def bench_settings(
    settings: tuple[str, ...], methods: tuple[str, ...]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Parameters by slot path for each method: ``SLOT.PARAM=V`` for all, ``METHOD:SLOT.PARAM=V`` for one."""
    return {m: parse_settings(tuple(items)) for m, items in _by_method(settings, methods, "--set").items()}


def bench_uses(uses: tuple[str, ...], methods: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Components by slot path for each method: ``SLOT=NAME`` for all, ``METHOD:SLOT=NAME`` for one."""
    return {m: parse_uses(tuple(items)) for m, items in _by_method(uses, methods, "--use").items()}


def parse_uses(uses: tuple[str, ...], **shortcuts: str | None) -> dict[str, str]:
    """``("nonblind.prior=tv",)`` plus shortcut options -> component names by slot path."""
    components = {slot: name for slot, name in shortcuts.items() if name}
    for item in uses:
        path, name = split_assignment(
            item, "--use", "SLOT=COMPONENT, e.g. nonblind.prior=tv", need_value=True
        )
        components[path] = name
    return components


def parse_train_settings(settings: tuple[str, ...]) -> dict[str, Any]:
    """``("width=64", "preset=paper")`` -> trainer settings (values JSON-decoded when they parse)."""
    params: dict[str, Any] = {}
    for item in settings:
        key, value = split_assignment(item, "--set", "KEY=VALUE, e.g. width=64")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params

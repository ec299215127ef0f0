"""deblur: a pluggable toolkit for blind image deblurring on PyTorch.

``import deblur`` is light (no torch, no plugin machinery): every other name loads on first use.

    >>> import deblur
    >>> result = deblur.run("photo.png", method="classic", kernel_size=31)   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deblur.errors import CompositionError, DeblurError, InputError, PluginError, WeightsError

if TYPE_CHECKING:
    from deblur.context import RunContext
    from deblur.pipeline import deconvolve, run
    from deblur.plugins.hookspecs import hookimpl
    from deblur.result import Result

    __version__: str

_LAZY = {
    "hookimpl": "deblur.plugins.hookspecs",
    "run": "deblur.pipeline",
    "deconvolve": "deblur.pipeline",
    "Result": "deblur.result",
    "RunContext": "deblur.context",
}

__all__ = [
    "CompositionError",
    "DeblurError",
    "InputError",
    "PluginError",
    "Result",
    "RunContext",
    "WeightsError",
    "__version__",
    "deconvolve",
    "hookimpl",
    "run",
]


def __getattr__(name: str) -> Any:
    import importlib

    if name == "__version__":
        return importlib.import_module("deblur.plugins.manager").core_version()
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'deblur' has no attribute {name!r}")

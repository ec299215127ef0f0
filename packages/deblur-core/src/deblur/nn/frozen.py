"""A pre-trained network held inside a module that is optimised: its weights as buffers."""

from __future__ import annotations

import copy

from torch import nn

__all__ = ["frozen"]


def frozen(module: nn.Module) -> nn.Module:
    """A copy of ``module`` whose parameters are buffers (they move with ``.to()`` but are never
    ``parameters()``, so no optimiser sees them), in eval mode."""
    module = copy.deepcopy(module)
    for sub in module.modules():
        for name, p in list(sub.named_parameters(recurse=False)):
            delattr(sub, name)
            sub.register_buffer(name, p.detach())
    return module.eval()

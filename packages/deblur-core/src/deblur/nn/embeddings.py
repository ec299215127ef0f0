"""Sinusoidal embedding of a scalar time / noise level (Vaswani et al. 2017; Ho et al. 2020)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SinusoidalTimeEmbedding"]


class SinusoidalTimeEmbedding(nn.Module):
    r"""Map times ``t`` (B,) to (B, dim) features :math:`[\cos(t\,\omega_j), \sin(t\,\omega_j)]_{j < n}`.

    :math:`n = \lfloor dim/2 \rfloor`, :math:`\omega_j = P^{-j/n}` with ``P = max_period``; an odd ``dim``
    gets a zero last entry.
    """

    def __init__(self, dim: int, max_period: float = 10_000.0) -> None:
        super().__init__()
        if dim < 2:
            raise ValueError(f"embedding dim must be at least 2, got {dim}")
        self.dim = dim
        half = dim // 2
        self.register_buffer(
            "freqs",
            torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half),
            persistent=False,
        )

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = t.reshape(-1, 1).to(self.freqs.dtype) * self.freqs
        emb = torch.cat([angles.cos(), angles.sin()], dim=-1)
        return F.pad(emb, (0, self.dim % 2))

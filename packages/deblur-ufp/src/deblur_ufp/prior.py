r"""The kernel prior ``ufp-flow``: the trained flow (Sec. 3.1) as a density other packages can use.

:class:`FlowKernelPrior` offers, for kernels ``(B, 1, s, s)`` of every size with shipped (or given) flow
weights:

- ``log_prob(k)``: the exact, differentiable log density of Eq. 2 on ``R^{s^2}`` (the logit's Jacobian
  included; :meth:`deblur_ufp.flow.KernelFlow.log_prob`), taps clamped to ``[0, 1]`` first;
- ``score(k)``: its gradient with respect to the taps (autograd through the flow);
- ``penalty(k)``: ``-weight * sum_b log_prob(k_b)``;
- ``sample(n, size, generator)``, ``encode(k)`` (``z = f(k)``) and ``decode(z, size)`` (``k = f^{-1}(z)``,
  on the simplex).

Capabilities: ``kernel``, ``penalty``, ``log_prob``, ``score``, ``sample``, ``latent``, ``pretrained``;
it fills a ``kernel_prior`` slot that asks for ``log_prob`` (deblur-kdiff's sampler, for one).
"""

from __future__ import annotations

import torch

from deblur.checks import count, positive
from deblur.errors import InputError
from deblur_ufp.flow import KernelFlow
from deblur_ufp.networks import load_flow

__all__ = ["FlowKernelPrior"]


class FlowKernelPrior:
    """The flow motion prior (see the module docstring).

    Args:
        weight: scale of :meth:`penalty`.
        flow: a weight stem to use instead of the shipped flows (then only its size works).
    """

    def __init__(self, weight: float = 1.0, flow: str | None = None) -> None:
        self.weight = positive("ufp-flow weight", weight, allow_zero=True)
        self.path = flow

    def __repr__(self) -> str:
        return f"FlowKernelPrior(weight={self.weight:g})"

    def flow(self, size: int, device: torch.device | str = "cpu") -> KernelFlow:
        """The frozen flow of ``size`` px kernels."""
        return load_flow(int(size), self.path, device)[0]

    def _flow_of(self, k: torch.Tensor) -> KernelFlow:
        if not isinstance(k, torch.Tensor) or k.ndim != 4 or k.shape[1] != 1 or k.shape[-1] != k.shape[-2]:
            shape = tuple(k.shape) if isinstance(k, torch.Tensor) else type(k).__name__
            raise InputError(f"ufp-flow needs square (B, 1, s, s) kernels, got {shape}")
        return self.flow(k.shape[-1], k.device)

    def log_prob(self, k: torch.Tensor) -> torch.Tensor:
        """Exact log density ``(B,)`` of Eq. 2 (differentiable in ``k``)."""
        flow = self._flow_of(k)
        return flow.log_prob(k.clamp(0, 1).to(flow.mean.dtype)).to(k.dtype)

    def score(self, k: torch.Tensor) -> torch.Tensor:
        """``grad_k log_prob(k)`` ``(B, 1, s, s)``."""
        with torch.enable_grad():
            leaf = k.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.log_prob(leaf).sum(), leaf)
        return grad

    def penalty(self, k: torch.Tensor) -> torch.Tensor:
        """``-weight * sum_b log_prob(k_b)`` (scalar)."""
        return -self.weight * self.log_prob(k).sum()

    def encode(self, k: torch.Tensor) -> torch.Tensor:
        """Latents ``z = f(k)`` ``(B, s^2)``."""
        return self._flow_of(k).encode(k.clamp(0, 1))

    def decode(self, z: torch.Tensor, size: int) -> torch.Tensor:
        """Kernels ``(B, 1, size, size)`` on the simplex from latents ``(B, size^2)``."""
        return self.flow(size, z.device).decode(z)

    def sample(
        self,
        n: int,
        size: int = 19,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
        temperature: float = 1.0,
    ) -> torch.Tensor:
        """``n`` kernels ``(n, 1, size, size)`` decoded from ``z ~ N(0, temperature^2 I)``."""
        with torch.no_grad():
            return self.flow(size, device).sample(count("n", n, 1), generator, temperature)

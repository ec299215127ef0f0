r"""The prior ``gan-kernel-prior``: the pre-trained kernel generator as a prior other solvers can use.

A GAN gives no density, so the prior is the generator's manifold :math:`\{G_k(z)\}` (Sec. 3.3, the
"deep generative prior" of blur kernels). :class:`GanKernelPrior` offers, for kernels ``(B, 1, s, s)``
of any size with shipped (or given) generator weights:

- ``sample(n, size, generator=None)``: kernels :math:`G_k(z)`, :math:`z \sim \mathcal N(0, I)`;
- ``project(k)``: the closest kernel on the manifold, :math:`G_k(z^*)` with
  :math:`z^* = \arg\min_z \|G_k(z) - k\|_1` (GAN inversion, Eq. 4's inner problem);
- ``penalty(k)``: ``weight`` times the L1 distance of ``k`` to the manifold,
  :math:`\sum_b \|k_b - G_k(z_b^*)\|_1`, differentiable in ``k`` (the projection is held fixed, which by
  the envelope theorem is the gradient of the distance);
- ``network(size)``: the frozen generator itself (with ``g1`` and ``synthesis`` to work in its
  feature space).

Capabilities: ``kernel``, ``penalty``, ``generator``, ``projection``, ``sample``.
"""

from __future__ import annotations

import torch

from deblur.checks import count, positive
from deblur.errors import InputError
from deblur.kernels import normalize
from deblur_gankernel.generator import KernelGenerator
from deblur_gankernel.inversion import invert, l1_distance
from deblur_gankernel.store import LoadedGenerator, load_generator

__all__ = ["GanKernelPrior"]


class GanKernelPrior:
    """The generator's manifold as a kernel prior (see the module docstring).

    Args:
        weight: scale of :meth:`penalty`.
        steps: Adam steps of the projection (GAN inversion).
        lr: its learning rate.
        generator: weight stem to use instead of the shipped generator (then only its size works).
    """

    def __init__(self, weight: float = 1.0, steps: int = 200, lr: float = 0.05, generator: str | None = None):
        self.weight = positive("gan-kernel-prior weight", weight, allow_zero=True)
        self.steps = count("gan-kernel-prior steps", steps, 1)
        self.lr = positive("gan-kernel-prior lr", lr)
        self.path = generator
        self._loaded: dict[tuple[int, str], LoadedGenerator] = {}

    def __repr__(self) -> str:
        return f"GanKernelPrior(weight={self.weight:g}, steps={self.steps})"

    def _generator(self, size: int, device: torch.device) -> LoadedGenerator:
        key = (int(size), str(device))
        if key not in self._loaded:
            self._loaded[key] = load_generator(int(size), self.path, device)
        return self._loaded[key]

    def network(self, size: int, device: torch.device | str = "cpu") -> KernelGenerator:
        """The frozen generator of ``size`` px kernels (eval mode)."""
        return self._generator(size, torch.device(device)).network

    def sample(
        self,
        n: int,
        size: int = 31,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> torch.Tensor:
        """``n`` kernels ``(n, 1, size, size)`` from :math:`G_k(z)`, ``z`` drawn with ``generator``."""
        network = self.network(size, device)
        z = torch.randn(count("n", n, 1), network.config.latent, generator=generator)
        with torch.no_grad():
            return network(z.to(device))

    def _check(self, k: torch.Tensor) -> int:
        if not isinstance(k, torch.Tensor) or k.ndim != 4 or k.shape[1] != 1 or k.shape[-1] != k.shape[-2]:
            shape = tuple(k.shape) if isinstance(k, torch.Tensor) else type(k).__name__
            raise InputError(f"gan-kernel-prior needs square (B, 1, s, s) kernels, got {shape}")
        return int(k.shape[-1])

    def project(self, k: torch.Tensor) -> torch.Tensor:
        """The manifold's closest kernels :math:`G_k(z^*)` to ``k`` (B, 1, s, s), no gradient."""
        network = self.network(self._check(k), k.device)
        target = normalize(k.detach().clamp_min(0))
        z = invert(network, target, steps=self.steps, lr=self.lr)
        with torch.no_grad():
            return network(z).to(k.dtype)

    def penalty(self, k: torch.Tensor) -> torch.Tensor:
        """``weight * sum_b ||k_b - project(k)_b||_1`` (scalar; its gradient holds the projection fixed)."""
        return self.weight * l1_distance(k, self.project(k)).sum()

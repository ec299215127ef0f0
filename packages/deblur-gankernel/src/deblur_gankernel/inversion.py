r"""GAN inversion: the latent code whose kernel is closest to a given one (Eq. 4's inner problem).

.. math:: z^* = \arg\min_z \| G_k(z) - k \|_1

solved by Adam steps on ``z`` from a starting code (the encoder's prediction in Algorithm 1, line 4;
zero, the mode of the prior :math:`\mathcal N(0, I)`, otherwise). The generator stays fixed: only the
codes receive gradients. Each kernel of a batch is inverted independently (the loss is a sum over the
batch and Adam acts element-wise).
"""

from __future__ import annotations

import torch

from deblur_gankernel.generator import KernelGenerator

__all__ = ["invert", "l1_distance"]


def l1_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-kernel L1 distance ``(B,)`` of kernels ``(B, 1, h, w)`` (in [0, 2] on the simplex)."""
    return (a - b).abs().flatten(1).sum(1)


def invert(
    generator: KernelGenerator,
    kernels: torch.Tensor,
    *,
    steps: int = 200,
    lr: float = 0.05,
    z: torch.Tensor | None = None,
) -> torch.Tensor:
    """Codes ``(B, latent)`` minimising the L1 distance of ``generator(z)`` to ``kernels`` (B, 1, s, s).

    Args:
        generator: the kernel generator (used as it is: keep it in eval mode).
        kernels: target kernels of the generator's size.
        steps: Adam steps.
        lr: Adam learning rate.
        z: starting codes (default zeros).
    """
    if z is None:
        z = kernels.new_zeros(kernels.shape[0], generator.config.latent)
    z = z.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            loss = l1_distance(generator(z), kernels).sum()
            (z.grad,) = torch.autograd.grad(loss, z)
            opt.step()
    return z.detach()

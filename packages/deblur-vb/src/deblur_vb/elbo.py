r"""The evidence lower bounds of Eq. 13 (kernel-free) and Eq. 14 (kernel-dependent), and the MSE baselines.

:func:`elbo_terms` returns the negative ELBO's three terms per batch item, divided by the number of
valid pixels (the scale does not move the optimum and keeps Adam's steps comparable across crop sizes):

- ``nll``: minus the expected log-likelihood, :math:`-E_q \log p(y \mid h, z)` (Eq. 2). Kernel-free: in
  closed form over both posteriors (:func:`~deblur_vb.distributions.expected_sq_error`). Kernel-dependent:
  the image posterior depends on the kernel, so the expectation over :math:`h` is taken with ``draws``
  Dirichlet samples and the one over :math:`z \mid h` in closed form. The paper differentiates the
  samples by reparameterisation; the Dirichlet's implicit reparameterisation gradient at the
  concentrations of a kernel's empty taps (1e-3) made the kernel KL diverge in two 10 000-step runs here
  (to 1.7e4 nats per pixel), so the likelihood reaches Kernel-Net through the posterior mean instead
  (a straight-through path: the forward value is the sample, the gradient that of the mean; not in the
  paper). Deblur-Net sees the samples as they are;
- ``kl_image``: Eq. 15 (for KD, averaged over the same kernel draws: the middle term of Eq. 14);
- ``kl_kernel``: Eq. 16.

The MSE baselines of Table 1 (``MSE_KF``, ``MSE_KD``) train the same networks on the mean squared error
of the image mean alone (:func:`mse_terms`); the KD baseline's Deblur-Net is conditioned on the true
kernel, as Kaufman & Fattal's network trained by MSE is, and its Kernel-Net on the MSE of the kernel.
"""

from __future__ import annotations

import math

import torch

from deblur_vb.distributions import (
    EPS0_SQ,
    PRIOR_FLOOR,
    SIGMA_SQ,
    C,
    dirichlet_kl,
    dirichlet_mean,
    expected_sq_error,
    gaussian_kl,
    gaussian_nll,
    prior_concentration,
)
from deblur_vb.networks import DeblurNet, KernelNet

__all__ = ["Hyper", "elbo_terms", "mse_terms", "sample_kernels"]


class Hyper:
    """The model's hyper-parameters (Sec. 4.1 defaults) and the kernel prior's floor."""

    def __init__(
        self, sigma_sq: float = SIGMA_SQ, eps0_sq: float = EPS0_SQ, c: float = C, floor: float = PRIOR_FLOOR
    ) -> None:
        self.sigma_sq, self.eps0_sq, self.c, self.floor = sigma_sq, eps0_sq, c, floor

    def as_dict(self) -> dict[str, float]:
        return {"sigma_sq": self.sigma_sq, "eps0_sq": self.eps0_sq, "c": self.c, "prior_floor": self.floor}


def sample_kernels(xi: torch.Tensor, draws: int) -> torch.Tensor:
    """``draws`` kernels per row of ``xi`` (B, s * s): (draws * B, 1, s, s), draw-major, drawn in float64."""
    h = torch.distributions.Dirichlet(xi.double()).sample((draws,))
    s = math.isqrt(xi.shape[1])
    return h.to(xi.dtype).reshape(-1, 1, s, s)


def elbo_terms(
    y: torch.Tensor,
    sharp: torch.Tensor,
    k: torch.Tensor,
    deblur: DeblurNet,
    kernel_net: KernelNet,
    hyper: Hyper,
    draws: int = 1,
) -> dict[str, torch.Tensor]:
    """Negative ELBO terms (see the module docstring) of blurry crops ``y``, sharp crops ``sharp`` (both
    (B, 1, H, W)) and true kernels ``k`` (B, 1, s, s)."""
    s = k.shape[-1]
    pixels = (y.shape[-2] - s + 1) * (y.shape[-1] - s + 1)
    xi = kernel_net(y)
    kl_kernel = dirichlet_kl(xi, prior_concentration(k, hyper.c, hyper.floor))
    if not deblur.config.kernel_code:
        mu, log_var = deblur(y)
        var = log_var.exp()
        nll = gaussian_nll(expected_sq_error(y, mu, var, xi), pixels, hyper.sigma_sq)
        kl_image = gaussian_kl(mu, var, sharp, hyper.eps0_sq)
    else:
        B = len(y)
        mean = dirichlet_mean(xi).repeat(draws, 1, 1, 1)
        h = sample_kernels(xi, draws) + mean - mean.detach()
        ys = y.repeat(draws, 1, 1, 1)
        mu, log_var = deblur(ys, h)
        var = log_var.exp()
        sq = expected_sq_error(ys, mu, var, None, kernel=h)
        nll = gaussian_nll(sq, pixels, hyper.sigma_sq).reshape(draws, B).mean(0)
        kl_image = gaussian_kl(mu, var, sharp.repeat(draws, 1, 1, 1), hyper.eps0_sq).reshape(draws, B).mean(0)
    return {"nll": nll / pixels, "kl_image": kl_image / pixels, "kl_kernel": kl_kernel / pixels}


def mse_terms(
    y: torch.Tensor, sharp: torch.Tensor, k: torch.Tensor, deblur: DeblurNet, kernel_net: KernelNet
) -> dict[str, torch.Tensor]:
    """Per-item MSE of the image mean (KD: conditioned on the true kernel) and of the kernel mean."""
    xi = kernel_net(y)
    kbar = dirichlet_mean(xi)
    mu, _ = deblur(y, k if deblur.config.kernel_code else None)
    return {
        "mse_image": (mu - sharp).square().flatten(1).mean(1),
        "mse_kernel": (kbar - k).square().flatten(1).sum(1),
    }

r"""The probabilistic model of Wang, Yue, Zhao & Meng (Sec. 3.1-3.3, appendix A) as tensors.

Generative model of one training tuple :math:`(x, y, k)` (Sec. 3.1):

- likelihood (Eq. 2): :math:`p(y \mid z, h) = \prod_i \mathcal N(y_i; (h * z)_i, \sigma^2)`, true
  convolution; here on the *valid* pixels of :math:`h * z` (those the image on ``y``'s grid determines:
  no boundary is invented), so an ``s`` px kernel leaves out ``s // 2`` px on each side;
- image prior (Eq. 3): :math:`p(z) = \prod_i \mathcal N(z_i; x_i, \varepsilon_0^2)`;
- kernel prior (Eq. 6): :math:`p(h) = \mathrm{Dir}(h; c k)`. A camera-shake kernel is zero on most of its
  support and a Dirichlet needs positive concentrations, so the prior is :math:`\mathrm{Dir}(c k + a)`
  with a small floor :math:`a` (:data:`PRIOR_FLOOR`; not in the paper, which does not say how it handles
  the zeros).

Variational posteriors (Eq. 9, 11): :math:`q(z) = \prod_i \mathcal N(\mu_i, m_i^2)` and
:math:`q(h) = \mathrm{Dir}(\xi)`. Their KL divergences to the priors are Eq. 15 and Eq. 16; the Dirichlet
one is a difference of log-gamma values of order :math:`c \log c` and is computed in float64 whatever
the input precision (float32 loses it to cancellation at :math:`c = 2 \cdot 10^4`).

Expected squared error :math:`E_q \lVert y - h * z \rVert^2` (the likelihood's data term) in closed form
for the mean-field posterior (derived here; Eq. 13 is evaluated by reparameterisation in the paper): with
:math:`\bar h = \xi / \xi_0` and :math:`\mathrm{Cov}(h) = (\mathrm{diag}\,\bar h - \bar h \bar h^T) /
(\xi_0 + 1)`,

.. math::
    E (h * z)_i = (\bar h * \mu)_i, \qquad
    \mathrm{Var} (h * z)_i = (\bar h^2 * m^2)_i + \frac{(\bar h * \mu^2)_i - (\bar h * \mu)_i^2
        + (\bar h * m^2)_i - (\bar h^2 * m^2)_i}{\xi_0 + 1},

so :math:`E \lVert y - h * z \rVert^2 = \lVert y - \bar h * \mu \rVert^2 + \sum_i \mathrm{Var}(h * z)_i`.
"""

from __future__ import annotations

import math

import torch

from deblur.operators import convolve

__all__ = [
    "EPS0_SQ",
    "PRIOR_FLOOR",
    "SIGMA_SQ",
    "C",
    "crop_concentration",
    "dirichlet_kl",
    "dirichlet_mean",
    "dirichlet_moments",
    "expected_sq_error",
    "fit_support_crop",
    "gaussian_kl",
    "gaussian_nll",
    "prior_concentration",
]

#: The paper's hyper-parameters (Sec. 4.1): noise variance sigma^2 (Eq. 2), image prior variance eps0^2
#: (Eq. 3), kernel prior scale c (Eq. 6).
SIGMA_SQ = 1e-5
EPS0_SQ = 1e-6
C = 2e4
#: Concentration added to every tap of the kernel prior (the zeros of k; see the module docstring).
PRIOR_FLOOR = 0.05


def prior_concentration(k: torch.Tensor, c: float = C, floor: float = PRIOR_FLOOR) -> torch.Tensor:
    """Concentrations ``c k + floor`` of the kernel prior, flattened: (B, h * w) from (B, 1, h, w)."""
    return c * k.flatten(1) + floor


def gaussian_kl(
    mu: torch.Tensor, var: torch.Tensor, x: torch.Tensor, eps0_sq: float = EPS0_SQ
) -> torch.Tensor:
    r"""Eq. 15, per batch item: :math:`KL(\mathcal N(\mu, m^2) \| \mathcal N(x, \varepsilon_0^2))`."""
    ratio = var / eps0_sq
    per_pixel = (mu - x).square() / (2 * eps0_sq) + 0.5 * (ratio - torch.log(ratio) - 1)
    return per_pixel.flatten(1).sum(1)


def dirichlet_kl(xi: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    r"""Eq. 16, :math:`KL(\mathrm{Dir}(\xi) \| \mathrm{Dir}(\alpha))` per row of (B, M) concentrations.

    Computed in float64 (see the module docstring) and returned in ``xi``'s dtype; it is non-negative
    up to float64 rounding, which is clipped.
    """
    q, p = xi.double(), alpha.double()
    q0 = q.sum(1)
    kl = (
        torch.lgamma(q0)
        - torch.lgamma(p.sum(1))
        - torch.lgamma(q).sum(1)
        + torch.lgamma(p).sum(1)
        + ((q - p) * (torch.digamma(q) - torch.digamma(q0)[:, None])).sum(1)
    )
    return kl.clamp_min(0).to(xi.dtype)


def dirichlet_mean(xi: torch.Tensor) -> torch.Tensor:
    """The mean kernel (B, 1, s, s) of Dir(``xi``), ``xi`` (B, s * s) (Eq. 5)."""
    s = math.isqrt(xi.shape[1])
    return (xi / xi.sum(1, keepdim=True)).reshape(-1, 1, s, s)


def dirichlet_moments(xi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation (Eq. 5) of each coordinate of Dir(``xi``), ``xi`` (..., M)."""
    total = xi.sum(-1, keepdim=True)
    mean = xi / total
    return mean, (mean * (1 - mean) / (total + 1)).sqrt()


def crop_concentration(xi: torch.Tensor, size: int, support: int) -> torch.Tensor:
    r"""Concentrations of the kernel restricted to a centred ``support`` x ``support`` window.

    If :math:`h \sim \mathrm{Dir}(\xi)` then the renormalised sub-vector :math:`h_S / \sum_S h` is
    :math:`\mathrm{Dir}(\xi_S)` (the aggregation property): cropping the concentrations crops the
    posterior exactly. ``xi`` is (B, size * size); returns (B, support * support).
    """
    if support > size or support % 2 == 0:
        raise ValueError(f"support must be odd and at most {size}, got {support}")
    return fit_support_crop(xi.reshape(-1, size, size), support).reshape(len(xi), -1)


def fit_support_crop(k: torch.Tensor, support: int) -> torch.Tensor:
    """The centred ``support`` x ``support`` window of kernels (…, s, s) (not renormalised)."""
    lo = (k.shape[-1] - support) // 2
    return k[..., lo : lo + support, lo : lo + support]


def _valid(t: torch.Tensor, s: int) -> torch.Tensor:
    """The pixels of ``t`` (…, H, W) a ``s`` px kernel's valid convolution of ``t``'s grid lands on."""
    r = s // 2
    return t[..., r : t.shape[-2] - (s - 1 - r), r : t.shape[-1] - (s - 1 - r)]


def expected_sq_error(
    y: torch.Tensor,
    mu: torch.Tensor,
    var: torch.Tensor,
    xi: torch.Tensor | None,
    kernel: torch.Tensor | None = None,
) -> torch.Tensor:
    r""":math:`E \lVert y - h * z \rVert^2` over the valid pixels, per batch item (module docstring).

    ``y``, ``mu``, ``var``: (B, 1, H, W); either ``xi`` (B, s * s), the Dirichlet over ``h`` (closed
    form over both), or ``kernel`` (B, 1, s, s), a fixed draw of ``h`` (the expectation over ``z`` alone,
    the inner term of Eq. 14).
    """
    if kernel is None:
        kbar = dirichlet_mean(xi)
        s = kbar.shape[-1]
        spread = 1.0 / (xi.sum(1) + 1.0)
    else:
        s, kbar, spread = kernel.shape[-1], kernel, None
    blur_mu = convolve(mu, kbar)
    residual = (_valid(y, s) - blur_mu).square()
    variance = convolve(var, kbar.square())
    if spread is not None:
        excess = convolve(mu.square(), kbar) - blur_mu.square() + convolve(var, kbar) - variance
        variance = variance + spread.reshape(-1, 1, 1, 1).to(mu) * excess
    return (residual + variance).flatten(1).sum(1)


def gaussian_nll(sq_error: torch.Tensor, pixels: int, sigma_sq: float = SIGMA_SQ) -> torch.Tensor:
    r"""Minus the expected log-likelihood (Eq. 2) from :math:`E \lVert y - h * z \rVert^2` over ``pixels``."""
    return sq_error / (2 * sigma_sq) + 0.5 * pixels * math.log(2 * math.pi * sigma_sq)

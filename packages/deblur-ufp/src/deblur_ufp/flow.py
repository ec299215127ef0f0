r"""The flow-based motion prior (Sec. 3.1, Eq. 2-3): a RealNVP of masked affine couplings, as in FKP.

A kernel ``k`` of ``L = s^2`` taps (``(B, 1, s, s)``, non-negative) is mapped to ``z`` in ``R^L`` by

1. **pre-processing** (exact, elementwise): :math:`x = \mathrm{logit}(\alpha + (1 - 2\alpha) k)`, then
   standardised by the training set's per-tap mean and deviation (fixed buffers);
2. **couplings** (Dinh et al., RealNVP): with a binary mask ``m`` (a checkerboard on the ``s x s`` grid
   and its complement, alternating), :math:`x' = m x + (1 - m)(x e^{a(m x)} + b(m x))`, ``a`` bounded by
   ``tanh``, ``(a, b)`` from an MLP; each coupling is followed by a learned per-tap affine map
   (ActNorm). ``z = f(k)`` is the last output and ``k = f^{-1}(z)`` runs it backwards.

:meth:`KernelFlow.log_prob` is the exact log density of Eq. 2 on ``R^L``:
:math:`\log \mathcal N(f(k); 0, I) + \log|\det \partial f / \partial k|`, the logit's Jacobian
:math:`\sum_u \log\frac{1 - 2\alpha}{v_u (1 - v_u)}` (``v = \alpha + (1 - 2\alpha) k``) included.

**No haze on empty taps.** Empty taps sit at :math:`\mathrm{logit}(\alpha)` with :math:`\alpha = 10^{-5}`.
Training dequantises in logit space (Gaussian noise of deviation ``dequant`` added to ``x``, so the flow
never sees a point mass) instead of adding uniform noise to the taps, which would put about half the
noise's width of mass on every empty tap. Decoding inverts the logit exactly and subtracts
:math:`\alpha`, clamping at 0 (:func:`postprocess`): a tap decoded within the noise of an empty tap gets
at most :math:`\alpha (e^{3 \cdot dequant} - 1)` mass (3 deviations), about ``4e-5`` for ``dequant = 0.5``.
The card reports the measured haze of samples (their mass below 1% of each kernel's peak).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from deblur.errors import InputError

__all__ = [
    "ALPHA",
    "FlowConfig",
    "KernelFlow",
    "checkerboard",
    "dequantise",
    "gaussian_nll",
    "postprocess",
    "preprocess",
]

ALPHA = 1e-5
LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class FlowConfig:
    """Architecture of :class:`KernelFlow`.

    Attributes:
        size: kernel support ``s`` (odd); the flow has ``L = s^2`` dimensions.
        couplings: number of affine couplings (masks alternate).
        hidden: width of each coupling's MLP.
        layers: hidden layers of each coupling's MLP.
        scale_bound: ``|a| <= scale_bound`` (``a = scale_bound * tanh(.)``), for stable training.
    """

    size: int
    couplings: int = 8
    hidden: int = 256
    layers: int = 1
    scale_bound: float = 2.0

    def as_dict(self) -> dict:
        return asdict(self)


def checkerboard(size: int, parity: int) -> torch.Tensor:
    """The ``(size^2,)`` 0/1 mask of a checkerboard on the ``size x size`` grid (``parity`` 0 or 1)."""
    r = torch.arange(size)
    return (((r[:, None] + r[None, :]) % 2) == parity).flatten().float()


def preprocess(k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, log_det)``: the logit of ``alpha + (1 - 2 alpha) k`` per tap, flattened to ``(B, L)``, and the
    log-determinant of its Jacobian per item. Taps must lie in ``[0, 1]``."""
    v = ALPHA + (1 - 2 * ALPHA) * k.flatten(1)
    x = torch.log(v) - torch.log1p(-v)
    log_det = (math.log(1 - 2 * ALPHA) - torch.log(v) - torch.log1p(-v)).sum(1)
    return x, log_det


def postprocess(x: torch.Tensor, size: int) -> torch.Tensor:
    """The inverse of :func:`preprocess` on ``[0, 1]`` taps, ``(B, L) -> (B, 1, s, s)``: taps below ``alpha``
    (an empty tap's neighbourhood, see the module docstring) clamp to 0. Not normalised."""
    k = ((torch.sigmoid(x) - ALPHA) / (1 - 2 * ALPHA)).clamp_min(0)
    return k.reshape(-1, 1, size, size)


class Coupling(nn.Module):
    """One masked affine coupling: the taps where ``mask`` is 0 are scaled and shifted by an MLP of the
    others."""

    def __init__(self, mask: torch.Tensor, hidden: int, layers: int, bound: float) -> None:
        super().__init__()
        L = mask.numel()
        self.register_buffer("mask", mask)
        dims = [L, *([hidden] * layers)]
        body: list[nn.Module] = []
        for a, b in itertools.pairwise(dims):
            body += [nn.Linear(a, b), nn.ReLU()]
        self.body = nn.Sequential(*body)
        self.head = nn.Linear(dims[-1], 2 * L)
        nn.init.zeros_(self.head.weight)  # the identity map at initialisation
        nn.init.zeros_(self.head.bias)
        self.bound = bound

    def _params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = self.head(self.body(x * self.mask)).chunk(2, dim=1)
        keep = 1 - self.mask
        return self.bound * torch.tanh(a) * keep, b * keep

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = self._params(x)
        return x * torch.exp(a) + b, a.sum(1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        a, b = self._params(y)  # the masked taps pass unchanged, so the same parameters come back
        return (y - b) * torch.exp(-a)


class ActNorm(nn.Module):
    """A learned per-tap affine map ``y = x e^s + t`` (initialised to the identity)."""

    def __init__(self, L: int) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(L))
        self.shift = nn.Parameter(torch.zeros(L))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x * torch.exp(self.log_scale) + self.shift, self.log_scale.sum().expand(len(x))

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return (y - self.shift) * torch.exp(-self.log_scale)


class KernelFlow(nn.Module):
    """``z = f(k)`` and ``k = f^{-1}(z)`` for ``s x s`` kernels; see the module docstring.

    Buffers ``mean`` and ``std`` standardise the logits (set once from training kernels by
    :meth:`standardise`); they are part of the weights.
    """

    def __init__(self, config: FlowConfig) -> None:
        super().__init__()
        if config.size < 1 or config.size % 2 == 0:
            raise InputError(f"flow kernel size must be odd and positive, got {config.size}")
        self.config = config
        s, L = config.size, config.size**2
        self.register_buffer("mean", torch.zeros(L))
        self.register_buffer("std", torch.ones(L))
        layers: list[nn.Module] = []
        for i in range(config.couplings):
            layers += [
                Coupling(checkerboard(s, i % 2), config.hidden, config.layers, config.scale_bound),
                ActNorm(L),
            ]
        self.layers = nn.ModuleList(layers)

    @property
    def size(self) -> int:
        return self.config.size

    @property
    def dim(self) -> int:
        return self.config.size**2

    @torch.no_grad()
    def standardise(self, x: torch.Tensor) -> None:
        """Set the standardisation of the logits ``x`` (N, L) from a sample of training kernels."""
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0).clamp_min(1e-3))

    def check(self, k: torch.Tensor) -> None:
        s = self.size
        if not isinstance(k, torch.Tensor) or k.ndim != 4 or k.shape[1:] != (1, s, s):
            shape = tuple(k.shape) if isinstance(k, torch.Tensor) else type(k).__name__
            raise InputError(f"the {s} px flow takes (B, 1, {s}, {s}) kernels, got {shape}")

    def forward_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z, log_det)`` from pre-processed logits ``x`` (B, L): standardisation and couplings."""
        z = (x - self.mean) / self.std
        log_det = -torch.log(self.std).sum().expand(len(x))
        for layer in self.layers:
            z, ld = layer(z)
            log_det = log_det + ld
        return z, log_det

    def inverse_logits(self, z: torch.Tensor) -> torch.Tensor:
        """The logits ``x`` (B, L) of latents ``z`` (B, L)."""
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z * self.std + self.mean

    def log_prob_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Log density (B,) of logits ``x`` under the flow (the training objective, Eq. 2)."""
        z, log_det = self.forward_logits(x)
        return -0.5 * (z.square().sum(1) + self.dim * LOG_2PI) + log_det

    def encode(self, k: torch.Tensor) -> torch.Tensor:
        """``z = f(k)`` (B, L) for kernels ``(B, 1, s, s)`` with taps in ``[0, 1]`` (Eq. 3)."""
        self.check(k)
        return self.forward_logits(preprocess(k)[0])[0]

    def decode(self, z: torch.Tensor, normalise: bool = True) -> torch.Tensor:
        """``k = f^{-1}(z)`` ``(B, 1, s, s)`` for latents ``(B, L)``; normalised to sum 1 unless told not to
        (then :meth:`encode` inverts it exactly)."""
        if z.ndim != 2 or z.shape[1] != self.dim:
            raise InputError(f"the {self.size} px flow takes (B, {self.dim}) latents, got {tuple(z.shape)}")
        k = postprocess(self.inverse_logits(z), self.size)
        return k / k.sum((-2, -1), keepdim=True).clamp_min(1e-12) if normalise else k

    def log_prob(self, k: torch.Tensor) -> torch.Tensor:
        """Exact log density (B,) of kernels ``(B, 1, s, s)`` on ``R^L`` (Eq. 2, the logit's Jacobian in)."""
        self.check(k)
        x, log_det = preprocess(k)
        return self.log_prob_logits(x) + log_det

    def sample(
        self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0
    ) -> torch.Tensor:
        """``n`` kernels ``(n, 1, s, s)`` decoded from ``z ~ N(0, temperature^2 I)`` (``generator``)."""
        ref = self.mean
        z = torch.randn(n, self.dim, generator=generator, dtype=ref.dtype).to(ref.device)
        return self.decode(temperature * z)


def dequantise(x: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """Logits ``x`` plus Gaussian noise of deviation ``sigma`` (the training dequantisation)."""
    return x + sigma * torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)


def gaussian_nll(train: torch.Tensor, test: torch.Tensor) -> float:
    """Mean negative log-likelihood (nats per kernel) of ``test`` logits under a diagonal Gaussian fitted to
    ``train``: the baseline the flow's card compares against."""
    mean, var = train.mean(0), train.var(0).clamp_min(1e-6)
    return float((0.5 * ((test - mean).square() / var + var.log() + LOG_2PI)).sum(1).mean())

r"""The DDPM of the kernel (Sec. 3.3): a codec between the simplex and the network's range, the noise
schedule, its respacing for short samplers, and the reverse step.

**Codec.** The paper feeds ``2k - 1`` to the network. For a 31 px kernel summing to one, the taps are
about 1e-2 at most, so ``2k - 1`` is -1 everywhere up to a few per cent: the whole kernel is a tiny
signal under noise of unit variance, and the network learns nearly nothing about its shape. We scale by
the peak instead, :math:`u = 2 k / \max k - 1`: the brightest tap is +1, empty taps are -1, whatever
the kernel's length. Decoding clips at zero and renormalises, :math:`k = [u + 1]_+ / \sum [u + 1]_+`;
the round trip is exact on the simplex (the sum constraint fixes the scale that the peak divides out),
and it neither flips nor shifts the kernel.

**Schedule.** Ho et al.'s linear :math:`\beta_t` from 1e-4 to 0.02 over T = 1000 steps (Appendix E),
:math:`\bar\alpha_t = \prod_{s \le t} (1 - \beta_s)`. Training noises ``u`` to
:math:`u_t = \sqrt{\bar\alpha_t} u + \sqrt{1 - \bar\alpha_t} \epsilon` and regresses
:math:`\epsilon` (Eq. 17, the l2 loss). A sampler may run on a subsequence of the T steps (Nichol &
Dhariwal 2021, "respacing"): :meth:`Schedule.respaced` keeps the :math:`\bar\alpha` of the chosen steps
and recomputes each step's :math:`\beta` from them, so the same network serves 1000 or 50 steps.

**Reverse step** (Eq. 18 / Algorithm 1 line 6): the network's :math:`\epsilon` gives the clean kernel
estimate :math:`\hat u_0 = (u_t - \sqrt{1 - \bar\alpha_t}\,\epsilon) / \sqrt{\bar\alpha_t}` (Eq. 19),
and the posterior mean :math:`\mu = c_0 \hat u_0 + c_t u_t` equals the paper's
:math:`(u_t - \beta_t / \sqrt{1 - \bar\alpha_t}\,\epsilon) / \sqrt{\alpha_t}`; the noise added has the
posterior variance :math:`\tilde\beta_t = \beta_t (1 - \bar\alpha_{t-1}) / (1 - \bar\alpha_t)`. With
``clip`` the estimate :math:`\hat u_0` is clipped to [-1, 1] first (common DDPM practice; not in the
paper's equations).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from deblur.errors import InputError

__all__ = ["Schedule", "decode", "encode"]

T = 1000
BETA = (1e-4, 0.02)


def encode(k: torch.Tensor) -> torch.Tensor:
    """Kernels (B, 1, h, w) on the simplex -> the network's range: ``2 k / max k - 1``, peak +1."""
    peak = k.amax((-2, -1), keepdim=True).clamp_min(torch.finfo(k.dtype).tiny)
    return 2 * k / peak - 1


def decode(u: torch.Tensor) -> torch.Tensor:
    """The network's range -> kernels on the simplex: ``[u + 1]_+`` normalised to sum one.

    A sample with no positive tap (possible only far from the data) decodes to the centred delta.
    """
    k = (u + 1).clamp_min(0)
    mass = k.sum((-2, -1), keepdim=True)
    delta = torch.zeros_like(k)
    delta[..., k.shape[-2] // 2, k.shape[-1] // 2] = 1
    return torch.where(mass > 0, k / mass.clamp_min(torch.finfo(k.dtype).tiny), delta)


@dataclass(frozen=True)
class Schedule:
    """A DDPM noise schedule over the time steps ``steps`` (indices into the original T steps).

    ``alpha_bar[i]`` is :math:`\\bar\\alpha` at ``steps[i]``; ``beta[i] = 1 - alpha_bar[i] /
    alpha_bar[i - 1]`` (with ``alpha_bar[-1] = 1``), which for the full schedule is the original beta.
    """

    steps: torch.Tensor
    alpha_bar: torch.Tensor

    @classmethod
    def linear(cls, t: int = T, beta: tuple[float, float] = BETA) -> Schedule:
        """Ho et al.'s linear schedule (the paper's, Appendix E)."""
        betas = torch.linspace(beta[0], beta[1], t, dtype=torch.float64)
        return cls(torch.arange(t), torch.cumprod(1 - betas, 0))

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def beta(self) -> torch.Tensor:
        before = torch.cat([self.alpha_bar.new_ones(1), self.alpha_bar[:-1]])
        return 1 - self.alpha_bar / before

    def respaced(self, n: int) -> Schedule:
        """``n`` steps evenly spread over this schedule, the last (noisiest) included."""
        if not 1 <= n <= len(self):
            raise InputError(f"a sampler takes 1 to {len(self)} steps, got {n}")
        idx = torch.linspace(0, len(self) - 1, n, dtype=torch.float64).round().long().unique()
        return Schedule(self.steps[idx], self.alpha_bar[idx])

    def noise(self, u0: torch.Tensor, i: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """:math:`u_t = \\sqrt{\\bar\\alpha} u_0 + \\sqrt{1 - \\bar\\alpha} \\epsilon` at indices ``i``."""
        ab = self._at(self.alpha_bar, i, u0)
        return ab.sqrt() * u0 + (1 - ab).sqrt() * eps

    def predict_u0(self, ut: torch.Tensor, i: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """Eq. 19: the clean estimate from ``u_t`` and the predicted noise."""
        ab = self._at(self.alpha_bar, i, ut)
        return (ut - (1 - ab).sqrt() * eps) / ab.sqrt()

    def step(
        self,
        ut: torch.Tensor,
        i: int,
        u0: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """One reverse step from index ``i`` to ``i - 1`` given the clean estimate ``u0`` (Eq. 18).

        At ``i = 0`` it returns ``u0`` itself (no noise is added on the last step).
        """
        if i == 0:
            return u0
        ab, ab_prev = float(self.alpha_bar[i]), float(self.alpha_bar[i - 1])
        beta = 1 - ab / ab_prev
        c0 = ab_prev**0.5 * beta / (1 - ab)
        ct = (1 - beta) ** 0.5 * (1 - ab_prev) / (1 - ab)
        var = beta * (1 - ab_prev) / (1 - ab)
        z = torch.randn(ut.shape, generator=generator, dtype=ut.dtype, device="cpu").to(ut.device)
        return c0 * u0 + ct * ut + var**0.5 * z

    @staticmethod
    def _at(values: torch.Tensor, i: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return values.to(like.device)[i].to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))

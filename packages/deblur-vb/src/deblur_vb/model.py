r"""The amortised posterior :math:`q(z, h \mid y)` of Sec. 3.2: Deblur-Net and Kernel-Net as one module.

:meth:`VBModel.posterior` is the inference of Sec. 3.2 for one batch of gray observations: the
Dirichlet :math:`q(h \mid y) = \mathrm{Dir}(\xi)` from Kernel-Net (optionally restricted to a smaller
centred support: :func:`~deblur_vb.distributions.crop_concentration`), its mean and per-tap standard
deviation (Eq. 5), and the Gaussian :math:`q(z \mid y)` (kernel-free, Eq. 9) or
:math:`q(z \mid h, y)` (kernel-dependent, Eq. 11) from Deblur-Net. The kernel-dependent image is
conditioned on the kernel mean; with ``draws`` the kernels are sampled and each conditions its own image
draw, so the image's standard deviation then holds the kernel's uncertainty too (law of total variance).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from deblur.kernels import normalize
from deblur.observation import luminance
from deblur_vb.distributions import crop_concentration, dirichlet_mean, dirichlet_moments, fit_support_crop
from deblur_vb.elbo import sample_kernels
from deblur_vb.networks import DeblurConfig, DeblurNet, KernelConfig, KernelNet

__all__ = ["Posterior", "VBConfig", "VBModel"]


@dataclass(frozen=True)
class VBConfig:
    """Both networks' architecture (see :class:`~deblur_vb.networks.DeblurConfig`, ``KernelConfig``);
    ``kernel_code > 0`` makes the kernel-dependent structure."""

    size: int = 31
    width: int = 64
    scales: int = 4
    blocks: int = 4
    kernel_code: int = 0
    kernel_width: int = 64
    kernel_stages: int = 4
    kernel_blocks: int = 2
    kernel_max_width: int = 512
    concentration: float = 2e4
    learn_concentration: bool = True

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def structure(self) -> str:
        return "kd" if self.kernel_code else "kf"


@dataclass
class Posterior:
    """What :meth:`VBModel.posterior` infers for (B, 1, H, W) observations."""

    image_mean: torch.Tensor
    image_std: torch.Tensor
    kernel_mean: torch.Tensor  # (B, 1, s, s)
    kernel_std: torch.Tensor
    concentration: torch.Tensor  # (B, s * s)
    image_samples: torch.Tensor | None = None  # (N * B, 1, H, W), draw-major
    kernel_samples: torch.Tensor | None = None  # (N * B, 1, s, s)


class VBModel(nn.Module):
    """Deblur-Net (``deblur``) and Kernel-Net (``kernel``) of one ``VBConfig``."""

    def __init__(self, config: VBConfig) -> None:
        super().__init__()
        self.config = config
        self.deblur = DeblurNet(
            DeblurConfig(config.width, config.scales, config.blocks, config.kernel_code, config.size)
        )
        self.kernel = KernelNet(
            KernelConfig(
                config.size,
                config.kernel_width,
                config.kernel_stages,
                config.kernel_blocks,
                config.kernel_max_width,
                config.concentration,
                config.learn_concentration,
            )
        )

    def image(self, y: torch.Tensor, kernel: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Deblur-Net's ``(mean, std)`` of ``y`` (B, C, H, W); KD: given ``kernel`` (1|B, 1, s, s)."""
        mean, log_var = self.deblur(y, kernel if self.config.kernel_code else None)
        return mean, (0.5 * log_var).exp()

    def posterior(self, y: torch.Tensor, draws: int = 0, support: int | None = None) -> Posterior:
        """The posterior of observations ``y`` (B, C, H, W); see the module docstring.

        Kernel-Net reads the luminance, Deblur-Net restores every channel. ``support`` restricts the
        kernel to a centred odd window (default: the network's size); the kernel-dependent Deblur-Net is
        always conditioned on full-size kernels. Kernel draws are cropped from the full-size ones and
        renormalised, which samples the restricted Dirichlet exactly (aggregation property). Draws use
        torch's global generator.
        """
        s = self.config.size
        side = s if support is None else int(support)
        xi = self.kernel(luminance(y) if y.shape[1] > 1 else y)
        full_mean = dirichlet_mean(xi)
        shown = xi if side == s else crop_concentration(xi, s, side)
        k_mean, k_std = (t.reshape(-1, 1, side, side) for t in dirichlet_moments(shown))
        mean, std = self.image(y, full_mean)
        post = Posterior(mean, std, k_mean, k_std, shown)
        if not draws:
            return post
        B = len(y)
        h = sample_kernels(xi, draws)
        if self.config.kernel_code:
            mu, sd = self.image(y.repeat(draws, 1, 1, 1), h)
            mus, sds = mu.reshape(draws, B, *mu.shape[1:]), sd.reshape(draws, B, *sd.shape[1:])
            post.image_mean = mus.mean(0)  # law of total variance over the kernel draws
            post.image_std = (sds.square().mean(0) + mus.var(0, unbiased=False)).sqrt()
        else:
            mu, sd = mean.repeat(draws, 1, 1, 1), std.repeat(draws, 1, 1, 1)
        post.image_samples = mu + sd * torch.randn_like(mu)
        post.kernel_samples = h if side == s else normalize(fit_support_crop(h, side))
        return post

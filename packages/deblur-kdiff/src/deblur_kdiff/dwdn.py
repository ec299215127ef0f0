r"""A learned non-blind solver after DWDN (Dong, Roth & Schiele, "Deep Wiener Deconvolution: Wiener Meets
Deep Learning for Image Deblurring", NeurIPS 2020).

Three stages (Sec. 3, Fig. 2):

1. feature extraction (Sec. 3.1): a few 3x3 convolutions map the blurry gray image ``y`` to ``features``
   channels ``f_c(y)``; the image itself is kept as channel 0. For (near) linear filters
   ``f_c(k * x) = k * f_c(x)``, so every channel is a blurry observation of the same kernel.
2. Wiener deconvolution in feature space (Sec. 3.2, Eq. 6-8): every channel is extended by replication
   by twice the kernel size onto an FFT-friendly grid, edge-tapered (as core's
   :func:`~deblur.solvers.wiener.wiener_deconvolve`) and deconvolved in closed form

   .. math:: \hat Z_c = \frac{\bar K\, \hat F_c}{|K|^2 + \lambda_c}, \qquad
       \lambda_c = e^{a_c}\, \frac{\sigma^2}{P_c} + e^{b_c},

   with the noise level ``sigma`` of ``y`` estimated from the input
   (:func:`deblur.observation.noise_level`), ``P_c`` the power (variance) of the channel, i.e. the
   noise-to-signal ratio of the paper, and learned per-channel scales ``a_c`` and floors ``b_c`` (the
   floor keeps noise-free inputs stable).
3. an encoder-decoder (Sec. 3.3; a U-Net with ``widths`` levels here, the paper's coarse-to-fine
   network has 3 scales) maps the deconvolved features, cropped to ``y``'s window plus a ``margin``, to a
   residual added to the deconvolved channel 0: the output is a correction of the pixel-domain Wiener
   estimate.

Everything is differentiable w.r.t. the kernel (the diffusion sampler backpropagates a reblur loss
through it); the network is trained with one kernel size but deconvolves any odd size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deblur.context import torch_threads
from deblur.nn import UNet
from deblur.observation import noise_level
from deblur.operators.base import LinearOperator, OperatorBuilder, build_operator
from deblur.operators.fft import fast_len, psf2otf
from deblur.solvers._common import check_inputs, embed, forward_builder, uniform_kernel
from deblur.solvers.wiener import edgetaper
from deblur_kdiff.store import STORE

__all__ = ["DWDN", "DWDNConfig", "DWDNDeconvolver", "load_dwdn"]


@dataclass(frozen=True)
class DWDNConfig:
    """Architecture of :class:`DWDN`.

    Attributes:
        features: learned feature channels (the paper: 16), besides the image itself.
        feature_layers: 3x3 convolutions of the feature extractor (LeakyReLU between them).
        widths: channels per level of the decoder U-Net (its length is the number of scales).
        margin: pixels of deconvolved context around ``y``'s window the decoder sees.
        nsr_floor: initial floor ``exp(b_c)`` of the regulariser.
    """

    features: int = 16
    feature_layers: int = 2
    widths: tuple[int, ...] = (16, 32, 64)
    margin: int = 8
    nsr_floor: float = 1e-3

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if self.features < 1 or self.feature_layers < 1 or not self.widths or self.margin < 0:
            raise ValueError(f"invalid DWDN configuration {self}")
        if not self.nsr_floor > 0:
            raise ValueError(f"nsr_floor must be positive, got {self.nsr_floor}")

    @classmethod
    def paper(cls) -> DWDNConfig:
        """The paper's size: 16 feature channels and a wider 3-scale encoder-decoder."""
        return cls(features=16, feature_layers=3, widths=(32, 64, 128))

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["widths"] = list(self.widths)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DWDNConfig:
        return cls(**{**data, "widths": tuple(data.get("widths", cls.widths))})


def _noise_sigma(y: torch.Tensor) -> torch.Tensor:
    """Per-image noise standard deviation (B, 1, 1, 1) of ``y`` (B, 1, H, W), not differentiated."""
    sigmas = [noise_level(y[i : i + 1]) for i in range(y.shape[0])]
    return torch.tensor(sigmas, dtype=y.dtype, device=y.device).view(-1, 1, 1, 1)


class DWDN(nn.Module):
    """``forward(y (B, 1, H, W), k (B|1, 1, h, w)) -> x (B, 1, H, W)``: feature-space Wiener + decoder.

    The prediction is a residual on the pixel-domain Wiener estimate (the deconvolved channel 0);
    ``boundary`` "valid"/"same" pads and edge-tapers as core's Wiener, "circular" does neither.
    """

    def __init__(self, config: DWDNConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or DWDNConfig()
        layers: list[nn.Module] = []
        for i in range(config.feature_layers):
            if i:
                layers.append(nn.LeakyReLU(0.2))
            layers.append(nn.Conv2d(1 if i == 0 else config.features, config.features, 3, padding=1))
        self.extract = nn.Sequential(*layers)
        channels = config.features + 1
        self.log_scale = nn.Parameter(torch.zeros(channels))
        self.log_floor = nn.Parameter(torch.full((channels,), float(torch.tensor(config.nsr_floor).log())))
        self.decoder = UNet(channels, 1, config.widths, norm="none", act="relu")

    def features(self, y: torch.Tensor) -> torch.Tensor:
        """``[y, f(y)]`` (B, 1 + features, H, W), the image first (Sec. 3.1)."""
        return torch.cat([y, self.extract(y)], 1)

    def forward(self, y: torch.Tensor, k: torch.Tensor, boundary: str = "valid") -> torch.Tensor:
        k = check_inputs(y, k, boundary)
        if y.shape[1] != 1:
            raise ValueError(f"DWDN deconvolves gray images (B, 1, H, W), got {tuple(y.shape)}")
        H, W = y.shape[-2:]
        h, w = k.shape[-2:]
        feats = self.features(y)
        if boundary == "circular":
            top = left = margin = 0
            z = feats
        else:
            top = left = p = 2 * max(h, w)
            margin = min(self.config.margin, p)
            z = edgetaper(embed(feats, p, p, (fast_len(H + 2 * p), fast_len(W + 2 * p)), "replicate"), k)
        grid = z.shape[-2:]
        K = psf2otf(k, grid)
        power = z.var(dim=(-2, -1), keepdim=True) + 1e-6
        sigma = _noise_sigma(y)
        nsr = self.log_scale.exp().view(1, -1, 1, 1) * sigma.square() / power
        nsr = nsr + self.log_floor.exp().view(1, -1, 1, 1)
        Z = K.conj() * torch.fft.rfft2(z) / (K.abs().square() + nsr)
        deconv = torch.fft.irfft2(Z, s=grid)
        window = deconv[..., top - margin : top + H + margin, left - margin : left + W + margin]
        x = window[:, :1] + self.decoder(window)
        return x[..., margin : margin + H, margin : margin + W]


def load_dwdn(
    size: int, path: str | Path | None = None, device: torch.device | str = "cpu"
) -> tuple[DWDN, dict[str, Any]]:
    """The DWDN trained with ``size`` px kernels (shipped, or the weight stem ``path``), frozen, eval mode.

    Raises:
        WeightsError: no weights for ``size``, or a missing, corrupt or mismatching file (the message
            names the file and the command that recreates it).
    """
    return STORE.load_network("dwdn", size, lambda arch: DWDN(DWDNConfig.from_dict(arch)), path, device)


class DWDNDeconvolver:
    """The ``dwdn`` non-blind solver: ``(y (B, C, H, W), k) -> x`` with ``y``'s shape, dtype, device.

    Colour channels are folded into the batch and deconvolved one by one by the gray network; the
    output is not clipped. ``k`` is a kernel (1|B, 1, h, w) or an operator built by ``forward`` (default
    :class:`~deblur.operators.UniformBlur`), which must be uniform; its boundary selects padding + edge
    taper ("valid", "same") or none ("circular"). Autograd flows to ``k`` (and ``y``); the network's own
    parameters are frozen.

    Args:
        size: kernel size of the shipped weights (``weights/dwdn-{size}``); any kernel size deconvolves.
        weights: a weight stem overriding the shipped file.
        forward: operator builder of the ``forward`` slot.
        threads: torch threads while deconvolving (``None``: unchanged).
    """

    def __init__(
        self,
        size: int = 31,
        weights: str | Path | None = None,
        forward: OperatorBuilder | None = None,
        threads: int | None = None,
    ) -> None:
        self.size, self.weights, self.threads = int(size), weights, threads
        self.forward = forward_builder(forward, None)
        self.network, self.card = load_dwdn(self.size, weights)  # a bad file fails here, before any work

    def __call__(self, y: torch.Tensor, k: torch.Tensor | LinearOperator) -> torch.Tensor:
        op = build_operator(self.forward, k)
        kernel = check_inputs(y, uniform_kernel(op, "dwdn"), op.boundary)
        network = self.network
        param = next(network.parameters())
        if param.device != y.device:
            network.to(y.device)
            param = next(network.parameters())
        B, C, H, W = y.shape
        gray = y.reshape(B * C, 1, H, W).to(param.dtype)
        kernel = kernel.to(param.dtype)
        if C > 1:
            kernel = kernel.repeat_interleave(C, 0) if kernel.shape[0] == B else kernel
        with torch_threads(self.threads):
            x = network(gray, kernel, op.boundary)
        return x.reshape(B, C, H, W).to(y.dtype)

    def __repr__(self) -> str:
        return f"DWDNDeconvolver(size={self.size}, weights={self.weights!r}, forward={self.forward!r})"

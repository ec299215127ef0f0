"""Image sizes under each boundary model, shared by the blur operators."""

from __future__ import annotations

from deblur.errors import InputError


class BoundaryShapes:
    """``latent_shape`` / ``observation_shape`` for an operator with ``boundary`` and ``kernel_size``.

    Under ``"valid"`` the latent image is larger than the observation by ``(h - 1, w - 1)``; under every
    other boundary both have one size.
    """

    boundary: str
    kernel_size: tuple[int, int]

    def latent_shape(self, obs_hw: tuple[int, int]) -> tuple[int, int]:
        """Latent image size for an observation of size ``obs_hw``."""
        H, W = int(obs_hw[0]), int(obs_hw[1])
        if self.boundary != "valid":
            return H, W
        h, w = self.kernel_size
        return H + h - 1, W + w - 1

    def observation_shape(self, latent_hw: tuple[int, int]) -> tuple[int, int]:
        """Observation size for a latent image of size ``latent_hw``."""
        H, W = int(latent_hw[0]), int(latent_hw[1])
        h, w = self.kernel_size
        if h > H or w > W:
            raise InputError(f"kernel {h}x{w} is larger than the {H}x{W} image")
        if self.boundary != "valid":
            return H, W
        return H - h + 1, W - w + 1

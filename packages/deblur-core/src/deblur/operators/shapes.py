"""Image sizes under each boundary model, shared by the blur operators."""

from __future__ import annotations

from deblur.errors import InputError


class BoundaryShapes:
    """``latent_shape`` / ``observation_shape`` / ``window_offset`` for an operator with ``boundary`` and
    ``kernel_size`` (the grids of :class:`deblur.operators.base.LinearOperator`).

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

    def window_offset(self, obs_hw: tuple[int, int]) -> tuple[int, int]:
        """``(top, left)``: where observation pixel ``(0, 0)`` sits on the latent grid.

        Under ``"valid"`` observation pixel ``p`` sees latent pixel ``p + (h - 1 - h // 2, w - 1 - w // 2)``
        (the centre window for odd kernels); under every other boundary both grids coincide, ``(0, 0)``.
        ``latent[..., top : top + H, left : left + W]`` is the window a non-blind solver returns.
        """
        if self.boundary != "valid":
            return 0, 0
        h, w = self.kernel_size
        return h - 1 - h // 2, w - 1 - w // 2

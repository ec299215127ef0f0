"""deblur-ufp: Fang et al.'s UFPNet (CVPR 2023) for deblur: a normalizing-flow motion prior, a
self-supervised estimator of spatially varying kernels in its latent space, and a deblurring network
with kernel attention."""

__version__ = "0.1.0"

"""deblur-vb: a deep variational Bayesian framework for blind image deblurring (Wang, Yue, Zhao & Meng).

Amortised posteriors of the sharp image (Gaussian, Deblur-Net) and of the blur kernel (Dirichlet,
Kernel-Net), trained by the evidence lower bound; see ``docs/vb.md``.
"""

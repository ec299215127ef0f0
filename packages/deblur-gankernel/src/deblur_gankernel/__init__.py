"""deblur-gankernel: blind deconvolution with a GAN kernel prior and a latent-code kernel initializer.

Zhang, Yue, Wang, Zhao & Meng, "Blind image deconvolution by generative-based kernel prior and
initializer via latent encoding", ECCV 2024. The components register through
:mod:`deblur_gankernel.plugin`; this package imports nothing at import time.
"""

"""deblur-dipmc: blind deconvolution by Monte-Carlo MAP_k with a randomized deep image prior.

Li, Nan & Ji, "Un-supervised learning for blind image deconvolution via Monte-Carlo sampling",
Inverse Problems 2022. The components register through :mod:`deblur_dipmc.plugin`; this package
imports nothing at import time.
"""

"""deblur-kdiff: blind deconvolution by a conditional kernel diffusion model guided by a non-blind solver
(Sanghvi, Chi & Chan, "Kernel diffusion: an alternate approach to blind deconvolution").

The hooks are in :mod:`deblur_kdiff.plugin`; the networks, sampler and trainers in the other modules.
"""

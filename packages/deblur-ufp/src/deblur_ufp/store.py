"""The shipped weights of deblur-ufp on core's :class:`~deblur.weights.WeightStore`.

``weights/flow-{size}``: the motion prior (:class:`~deblur_ufp.flow.KernelFlow`, Sec. 3.1);
``weights/estimator-{size}``: the kernel estimation network (Sec. 3.2), trained through the flow of the
same size whose SHA-256 its card records; ``weights/deblur-{size}``: the deblurring network with kernel
attention (Sec. 3.3), trained on that estimator (its SHA-256 in the card).
"""

from __future__ import annotations

from deblur.weights import WeightStore

__all__ = ["STORE"]

STORE = WeightStore(
    "deblur_ufp",
    {"flow": "ufp-flow", "estimator": "ufp-estimator", "deblur": "ufp-deblur"},
    owner="deblur-ufp",
)

"""Network building blocks shared by the learned methods: blocks, U-Net, DIP generator, time embedding,
frozen copies of pre-trained networks."""

from __future__ import annotations

from deblur.nn.blocks import ConvBlock, ResidualBlock, activation, norm_layer
from deblur.nn.dip import DIPGenerator, dip_input
from deblur.nn.embeddings import SinusoidalTimeEmbedding
from deblur.nn.frozen import frozen
from deblur.nn.unet import UNet

__all__ = [
    "ConvBlock",
    "DIPGenerator",
    "ResidualBlock",
    "SinusoidalTimeEmbedding",
    "UNet",
    "activation",
    "dip_input",
    "frozen",
    "norm_layer",
]

"""Generators and discriminators."""

from lightning_gans.nets.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init
from lightning_gans.nets.mlp import MLPDiscriminator, MLPGenerator

__all__ = ["DCGANDiscriminator", "DCGANGenerator", "MLPDiscriminator", "MLPGenerator", "dcgan_init"]

"""Generators and discriminators."""

from lightning_gans.nets.dcgan import DCGANDiscriminator, DCGANEncoder, DCGANGenerator, dcgan_init
from lightning_gans.nets.mlp import MLPDiscriminator, MLPGenerator

__all__ = ["DCGANDiscriminator", "DCGANEncoder", "DCGANGenerator", "MLPDiscriminator", "MLPGenerator", "dcgan_init"]

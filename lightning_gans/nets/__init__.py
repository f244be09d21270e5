"""Generators and discriminators: noise -> image (DCGAN, MLP) and image -> image (U-Net, ResNet, SRResNet)."""

from lightning_gans.nets.dcgan import DCGANDiscriminator, DCGANEncoder, DCGANGenerator, dcgan_init
from lightning_gans.nets.mlp import MLPDiscriminator, MLPGenerator
from lightning_gans.nets.patchgan import PatchGANDiscriminator
from lightning_gans.nets.progan import ProGANDiscriminator, ProGANGenerator
from lightning_gans.nets.r3gan import R3GANDiscriminator, R3GANGenerator
from lightning_gans.nets.resnet import ResNetGenerator
from lightning_gans.nets.srresnet import SRGANDiscriminator, SRResNet
from lightning_gans.nets.unet import UNetGenerator

__all__ = [
    "DCGANDiscriminator",
    "DCGANEncoder",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "PatchGANDiscriminator",
    "ProGANDiscriminator",
    "ProGANGenerator",
    "R3GANDiscriminator",
    "R3GANGenerator",
    "ResNetGenerator",
    "SRGANDiscriminator",
    "SRResNet",
    "UNetGenerator",
    "dcgan_init",
]

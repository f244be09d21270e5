"""Generators and discriminators: noise -> image (MLP, DCGAN, R3GAN, ProGAN, StyleGAN, BigGAN), image -> image
(U-Net, ResNet, SRResNet), and the auto-encoder energies of EBGAN."""

from lightning_gans.nets.biggan import BigGANDiscriminator, BigGANGenerator
from lightning_gans.nets.dcgan import DCGANDiscriminator, DCGANEncoder, DCGANGenerator, dcgan_init
from lightning_gans.nets.ebgan import ConvAutoencoderDiscriminator, MLPAutoencoderDiscriminator
from lightning_gans.nets.mlp import MLPDiscriminator, MLPGenerator
from lightning_gans.nets.patchgan import PatchGANDiscriminator
from lightning_gans.nets.progan import ProGANDiscriminator, ProGANGenerator
from lightning_gans.nets.r3gan import R3GANDiscriminator, R3GANGenerator
from lightning_gans.nets.resnet import ResNetGenerator
from lightning_gans.nets.srresnet import SRGANDiscriminator, SRResNet
from lightning_gans.nets.stylegan import StyleGANGenerator
from lightning_gans.nets.unet import UNetGenerator

__all__ = [
    "BigGANDiscriminator",
    "BigGANGenerator",
    "ConvAutoencoderDiscriminator",
    "DCGANDiscriminator",
    "DCGANEncoder",
    "DCGANGenerator",
    "MLPAutoencoderDiscriminator",
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
    "StyleGANGenerator",
    "UNetGenerator",
    "dcgan_init",
]

"""The decoder of the autoencoder and the VAE: Bernoulli logits per pixel (Kingma & Welling 2014,
"Auto-Encoding Variational Bayes", arXiv:1312.6114, appendix C.1), shown as the Bernoulli mean.

A registered generator of its own, not a class of the variants, so that an exported autoencoder or VAE is
rebuilt from ``config.json`` by registry name and arguments, with torch alone.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lightning_gans.nets.dcgan import DCGANGenerator


class BernoulliDecoder(nn.Module):
    """codes -> Bernoulli logits per pixel (``logits``); called on latents z, the mean image in [-1, 1].

    Called, it decodes the codes ``code_mean + code_std * z``: a buffer pair that stays N(0, I) (zeros and ones)
    for the VAE, whose prior is N(0, I), and that the autoencoder fits to its training codes, so that the net
    alone (as exported) samples what the trained model samples.

    Args:
        latent_dim: size of the code.
        channels: image channels.
        image_size: side of the image.
        width: the DCGAN generator's width, when ``net`` is not given.
        net: codes (N, latent_dim) -> logits (N, channels, image_size, image_size); default a ``DCGANGenerator``
            of the arguments above without its tanh. A given net's ``latent_dim`` must be ``latent_dim``.
    """

    code_mean: Tensor
    code_std: Tensor

    def __init__(
        self,
        latent_dim: int = 16,
        channels: int = 1,
        image_size: int = 28,
        width: int = 64,
        net: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if net is None:
            net = DCGANGenerator(latent_dim, channels, image_size, width, output_activation="none")
        elif getattr(net, "latent_dim", latent_dim) != latent_dim:
            raise ValueError(f"the decoder's net takes codes of size {net.latent_dim}, not latent_dim={latent_dim}")
        self.net = net
        self.latent_dim = latent_dim
        self.register_buffer("code_mean", torch.zeros(latent_dim))
        self.register_buffer("code_std", torch.ones(latent_dim))

    def logits(self, codes: Tensor) -> Tensor:
        return self.net(codes)  # type: ignore[no-any-return]

    def forward(self, z: Tensor) -> Tensor:
        return torch.tanh(self.logits(self.code_mean + self.code_std * z) / 2)  # = 2 * sigmoid(logits) - 1

"""Text-conditional DCGAN nets of Reed et al. 2016, "Generative Adversarial Text to Image Synthesis"
(arXiv:1605.05396), section 4 and figure 2.

    G: phi(t) -> fully connected -> leaky ReLU -> ``projected_dim`` values, concatenated to z, then DCGAN's
       generator
    D: DCGAN's discriminator convolutions down to the smallest map; phi(t) compressed the same way,
       replicated spatially and concatenated depth-wise; a 1x1 convolution with leaky ReLU; the score

Both take the caption *embedding* (N, ``text_dim``) from a text encoder (``lightning_gans.text``), not the text.

``conditioning_augmentation=True`` gives G StackGAN's conditioning augmentation (Zhang et al. 2017, "StackGAN:
Text to Photo-realistic Image Synthesis with Stacked Generative Adversarial Networks", arXiv:1612.03242,
section 3.1): the embedding parameterises a Gaussian N(mu(phi(t)), diag sigma^2(phi(t))) and G reads a sample
c = mu + sigma * eps of it instead of the fixed projection, so one caption covers a neighbourhood of
conditions; the variant adds ``conditioning_kl`` (KL to N(0, I)) to G's loss. eps is part of G's latent, the
last ``projected_dim`` values of it, so sampling stays a function of the latent: seeded, truncated, exported
and served like any other.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lightning_gans.nets.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init


def _compress(text_dim: int, projected_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(text_dim, projected_dim), nn.LeakyReLU(0.2, True))


class TextDCGANGenerator(nn.Module):
    """(z (N, latent_dim), text embedding (N, text_dim)) -> image (N, channels, image_size, image_size) in [-1, 1].

    Args:
        latent_dim: the noise z. With ``conditioning_augmentation`` the generator's latent is (z, eps), of
            ``latent_dim + projected_dim`` values (its ``latent_dim`` attribute says so).
        text_dim: the caption embedding's size.
        projected_dim: what G makes of the embedding: the projection, or the sample c.
        conditioning_augmentation: StackGAN's Gaussian conditioning (see the module docstring).
        channels, image_size, width: DCGAN's generator.
    """

    def __init__(
        self,
        latent_dim: int = 100,
        text_dim: int = 128,
        projected_dim: int = 128,
        channels: int = 1,
        image_size: int = 28,
        width: int = 64,
        conditioning_augmentation: bool = False,
    ) -> None:
        super().__init__()
        if min(latent_dim, text_dim, projected_dim) < 1:
            raise ValueError("latent_dim, text_dim and projected_dim must be >= 1")
        self.noise_dim, self.text_dim, self.projected_dim = latent_dim, text_dim, projected_dim
        self.conditioning_augmentation = conditioning_augmentation
        self.latent_dim = latent_dim + (projected_dim if conditioning_augmentation else 0)
        # StackGAN's fully connected layer gives the mean and the log-variance; the plain projection, leaky ReLU
        self.compress = (
            nn.Linear(text_dim, 2 * projected_dim) if conditioning_augmentation else _compress(text_dim, projected_dim)
        )
        self.net = DCGANGenerator(latent_dim + projected_dim, channels, image_size, width)
        self.compress.apply(dcgan_init)

    def conditioning(self, text: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, log sigma^2) of the conditioning Gaussian of each embedding."""
        mean, log_variance = self.compress(text).chunk(2, dim=1)
        return mean, log_variance

    def conditioning_kl(self, text: Tensor) -> Tensor:
        """StackGAN's regulariser: KL(N(mu, sigma^2) || N(0, I)), summed over c's values, averaged over the batch."""
        mean, log_variance = self.conditioning(text)
        return 0.5 * (mean.square() + log_variance.exp() - 1 - log_variance).sum(dim=1).mean()

    def forward(self, z: Tensor, text: Tensor) -> Tensor:
        if not self.conditioning_augmentation:
            return self.net(torch.cat([z, self.compress(text)], dim=1))  # type: ignore[no-any-return]
        noise, eps = z.split([self.noise_dim, self.projected_dim], dim=1)
        mean, log_variance = self.conditioning(text)
        condition = mean + (0.5 * log_variance).exp() * eps
        return self.net(torch.cat([noise, condition], dim=1))  # type: ignore[no-any-return]


class TextDCGANDiscriminator(nn.Module):
    """(image, text embedding (N, text_dim)) -> one logit per pair: does the image look real *and* match the text?"""

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 28,
        width: int = 64,
        text_dim: int = 128,
        projected_dim: int = 128,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        if min(text_dim, projected_dim) < 1:
            raise ValueError("text_dim and projected_dim must be >= 1")
        self.text_dim = text_dim
        body = DCGANDiscriminator(channels, image_size, width, batch_norm)
        self.net, features, side = body.net, body.head.in_channels, body.head.kernel_size[0]
        self.compress = _compress(text_dim, projected_dim)
        self.joint = nn.Sequential(nn.Conv2d(features + projected_dim, features, 1), nn.LeakyReLU(0.2, True))
        self.head = nn.Conv2d(features, 1, side)
        for module in (self.compress, self.joint, self.head):
            module.apply(dcgan_init)

    def forward(self, x: Tensor, text: Tensor) -> Tensor:
        image = self.net(x)
        words = self.compress(text)[:, :, None, None].expand(-1, -1, *image.shape[2:])
        return self.head(self.joint(torch.cat([image, words], dim=1))).flatten()  # type: ignore[no-any-return]


__all__ = ["TextDCGANDiscriminator", "TextDCGANGenerator"]

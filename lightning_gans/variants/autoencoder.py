"""Autoencoder: an encoder to a small code and a decoder back, trained on reconstruction alone (see e.g.
Hinton & Salakhutdinov 2006, "Reducing the Dimensionality of Data with Neural Networks").

    for each minibatch x:
        c = E(x);  x_hat = D(c)
        minimise  -log p(x | c) = sum over pixels of BCE(D_logits(c), x)

Not adversarial and not a generative model by itself: nothing ties the codes to a prior. It is here as the
baseline of the VAE (same nets, same likelihood, so ``val/recon`` is comparable with the VAE's), and it
samples the way it can: latents z ~ N(0, I) are mapped to codes through a diagonal Gaussian fitted to the
training codes (running mean and standard deviation), so ``sample``, interpolation and the quality metrics
apply to it unchanged, and show what a code space without a prior gives.

The likelihood is Bernoulli with the pixel intensities in [0, 1] as targets (as most VAE code for
(Fashion-)MNIST does); the decoder gives logits l and the image shown is the Bernoulli mean 2 sigmoid(l) - 1
= tanh(l / 2) in the models' [-1, 1] range.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn
from torch.optim import Adam, Optimizer

from lightning_gans.core.module import GenerativeModule, real_samples
from lightning_gans.nets.bernoulli import BernoulliDecoder
from lightning_gans.nets.dcgan import DCGANEncoder


def adam_1e3(params: Iterable[Any]) -> Optimizer:
    """Adam(lr=1e-3), the usual setting for (variational) autoencoders."""
    return Adam(params, lr=1e-3)


def decoder_logits(decoder: nn.Module, z: Tensor) -> Tensor:
    """The logits of a ``BernoulliDecoder`` (autoencoder and VAE train on logits, sample from means)."""
    if not isinstance(decoder, BernoulliDecoder):
        raise TypeError(f"the decoder must be a BernoulliDecoder (logits and mean image), got {type(decoder).__name__}")
    return decoder.logits(z)


def codes_in_the_decoder(state_dict: dict[str, Tensor], prefix: str, *_: Any) -> None:
    for name in ("code_mean", "code_std"):
        if prefix + name in state_dict:
            state_dict[f"{prefix}generator.{name}"] = state_dict.pop(prefix + name)


def bernoulli_nll(logits: Tensor, images: Tensor) -> Tensor:
    """-log p(x | z) in nats per image, for images in [-1, 1] (targets (x + 1) / 2)."""
    targets = (images + 1) / 2
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="none").flatten(1).sum(1)


class Autoencoder(GenerativeModule):
    """A deterministic autoencoder with the VAE's nets and likelihood, and a Gaussian fitted to its codes.

    Args:
        latent_dim: size of the code.
        encoder: images -> codes (N, latent_dim); defaults to ``DCGANEncoder`` for 1x28x28 images.
        decoder: a ``BernoulliDecoder`` (codes -> logits); defaults to one around ``DCGANGenerator``.
        optimizer: builds the single optimiser over both nets (default Adam, lr 1e-3).
        code_momentum: momentum of the running mean and standard deviation of the codes.
        n_grid_samples: see ``GenerativeModule``.
    """

    def __init__(
        self,
        latent_dim: int = 16,
        encoder: nn.Module | None = None,
        decoder: BernoulliDecoder | None = None,
        optimizer: OptimizerCallable = adam_1e3,
        code_momentum: float = 0.01,
        n_grid_samples: int = 64,
    ) -> None:
        super().__init__(
            decoder if decoder is not None else BernoulliDecoder(latent_dim),
            encoder if encoder is not None else DCGANEncoder(latent_dim),
            n_grid_samples=n_grid_samples,
        )
        if not isinstance(self.generator, BernoulliDecoder):
            raise TypeError(f"the decoder must be a BernoulliDecoder, got {type(self.generator).__name__}")
        self.decoder: BernoulliDecoder = self.generator
        self.optimizer = optimizer
        self.code_momentum = code_momentum
        # checkpoints of earlier versions kept the Gaussian as the variant's own buffers, not the decoder's
        self._register_load_state_dict_pre_hook(codes_in_the_decoder)

    # The Gaussian fitted to the training codes lives in the decoder, so that the decoder alone (an exported
    # folder) maps latents to codes as the model does.
    @property
    def code_mean(self) -> Tensor:
        return self.decoder.code_mean

    @property
    def code_std(self) -> Tensor:
        return self.decoder.code_std

    def configure_optimizers(self) -> Optimizer:
        return self.optimizer(self.generator_and_encoder_parameters())

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        assert self.encoder is not None
        images = real_samples(batch)
        codes = self.encoder(images)
        recon = bernoulli_nll(decoder_logits(self.generator, codes), images).mean()
        with torch.no_grad():  # the Gaussian that sampling maps N(0, I) through
            self.code_mean.lerp_(codes.mean(0), self.code_momentum)
            self.code_std.lerp_(codes.std(0), self.code_momentum)
        self.generator_steps += 1
        self.log_train({"train/loss": recon, "train/recon": recon})
        return recon

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Reconstruction -log p(x | E(x)) in nats per image on held-out data."""
        images = real_samples(batch)
        assert self.encoder is not None
        recon = bernoulli_nll(decoder_logits(self.generator, self.encoder(images)), images).mean()
        self.log_dict({"val/recon": recon, "val/loss": recon}, sync_dist=True)

    # Latents are standardised codes: the decoder maps z to code_mean + code_std * z, and encode inverts it, so
    # generate(encode(x)) is the plain reconstruction D(E(x)).
    def encode(self, x: Tensor) -> Tensor:
        return (super().encode(x) - self.code_mean) / self.code_std

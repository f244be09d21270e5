"""GAN-CLS with GAN-INT: Reed et al. 2016, "Generative Adversarial Text to Image Synthesis" (arXiv:1605.05396),
Algorithm 1 and section 4.3. ::

    for each training iteration:
        h = phi(t) of the batch's captions; h_w = phi of mismatched captions (the batch's, shifted)
        x_f = G(z, h)                                                   made once, detached for D
        s_r = D(x, h)      real image, right text
        s_w = D(x, h_w)    real image, wrong text      <- the matching-aware term: "real but wrong" is fake
        s_f = D(x_f, h)    fake image, right text
        D step: minimise  L(s_r as real) + (L(s_w as fake) + L(s_f as fake)) / 2
        G step: minimise  L(D(x_f, h) as real)
                        + L(D(G(z', h_int), h_int) as real),  h_int = beta h + (1 - beta) h_w   (GAN-INT)
                        + lambda KL(N(mu(h), sigma(h)^2) || N(0, I))   (with a StackGAN generator, below)

``L`` is any registered adversarial loss (the paper's is the cross-entropy, the non-saturating one here).
GAN-INT trains G on captions that are not in the data, between the embeddings of real ones; D never sees a real
image for them, so only G's term uses them. Mismatched pairs whose captions are the same string are left out
of the wrong term, since they are not wrong.

With a generator built with ``conditioning_augmentation`` (``text_dcgan``), G reads a sample of a Gaussian that
the embedding parameterises, StackGAN's conditioning augmentation (Zhang et al. 2017, arXiv:1612.03242,
section 3.1), and its KL term, weighted by ``conditioning_kl_weight`` (StackGAN's lambda = 1), joins G's loss.

The text encoder (a registry kind of its own, ``lightning_gans.text``) trains with the discriminator:
Reed et al. pretrained theirs on the captions; a small encoder learnt by D's matching-aware objective is the
self-contained stand-in, and a frozen pretrained one plugs in through the registry. G reads the embeddings
detached. The EMA generator (``ema_decay``) is sampled with the current encoder, which it has seen for the last
part of its average: the encoder trains with D and moves slowly, and the caption bars are measured this way.
Sampling needs captions: ``generate_text(z, captions)``; ``sample``/``generate`` without captions use the grid
captions (the first training batch's unless given), kept in checkpoints.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor
from torch.optim import Optimizer

from lightning_gans.core.guards import check_same_sample_shape
from lightning_gans.core.module import (
    GANModule,
    adam_2e4_beta05,
    first_training_batch,
)
from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.inference import CaptionSampling
from lightning_gans.losses.base import AdversarialLoss, real_logits_if_relativistic
from lightning_gans.losses.gan import NonSaturatingLoss
from lightning_gans.nets.text import TextDCGANDiscriminator, TextDCGANGenerator
from lightning_gans.text import TextEncoder, WordEncoder


def captions_of(batch: Any) -> list[str]:
    """The captions of an ``(images, captions, ...)`` batch, or a ``ValueError`` saying what a batch must be."""
    captions = batch[1] if isinstance(batch, (tuple, list)) and len(batch) > 1 else None
    if not isinstance(captions, (list, tuple)) or not all(isinstance(c, str) for c in captions):
        raise ValueError(
            "gan_cls trains on (images, captions) batches: use a caption data module (fashion_mnist_captions, "
            f"image_captions); got a batch whose second item is {type(captions).__name__}"
        )
    return list(captions)


class GANCLS(CaptionSampling, GANModule):
    """Text-to-image GAN of Reed et al. 2016: the matching-aware discriminator (GAN-CLS) and embedding
    interpolation (GAN-INT).

    Args:
        generator: ``None`` (the default) means ``TextDCGANGenerator()``: ``generator(z, embeddings)``, 1x28x28.
        discriminator: ``None`` (the default) means ``TextDCGANDiscriminator()``: ``discriminator(x, embeddings)``.
        text_encoder: ``None`` (the default) means ``WordEncoder()``; its ``embedding_dim`` must be the nets'
            ``text_dim``. Its trainable parameters train with D.
        loss: any registered loss (default: non-saturating cross-entropy, the paper's).
        matching_aware: GAN-CLS's wrong-text term (off: a plain text-conditional GAN).
        interpolation: beta of GAN-INT (the paper's 0.5).
        interpolation_weight: weight of GAN-INT's generator term (0 turns GAN-INT off).
        conditioning_kl_weight: lambda of StackGAN's KL term, for a generator with conditioning augmentation.
        grid_captions: captions for sample grids and for sampling without captions (default: the first training
            batch's).
        g_optimizer, d_optimizer, ema_decay, n_grid_samples: see ``GANModule``.
    """

    def __init__(
        self,
        generator: Generator | None = None,
        discriminator: Discriminator | None = None,
        text_encoder: TextEncoder | None = None,
        loss: AdversarialLoss | None = None,
        matching_aware: bool = True,
        interpolation: float = 0.5,
        interpolation_weight: float = 1.0,
        conditioning_kl_weight: float = 1.0,
        grid_captions: list[str] | None = None,
        g_optimizer: OptimizerCallable = adam_2e4_beta05,
        d_optimizer: OptimizerCallable = adam_2e4_beta05,
        ema_decay: float | None = None,
        n_grid_samples: int = 64,
    ) -> None:
        super().__init__(
            generator if generator is not None else TextDCGANGenerator(),
            discriminator if discriminator is not None else TextDCGANDiscriminator(),
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
            ema_decay=ema_decay,
            n_grid_samples=n_grid_samples,
        )
        self.text_encoder = text_encoder if text_encoder is not None else WordEncoder()
        for name, net in (("generator", self.generator), ("discriminator", self.discriminator)):
            if getattr(net, "text_dim", None) != self.text_encoder.embedding_dim:
                raise ValueError(
                    f"the {name} ({type(net).__name__}) takes text embeddings of size {getattr(net, 'text_dim', None)}"
                    f" but the text encoder ({type(self.text_encoder).__name__}) gives "
                    f"{self.text_encoder.embedding_dim}: set the nets' text_dim to match"
                )
        if not 0.0 <= interpolation <= 1.0 or interpolation_weight < 0:
            raise ValueError(f"interpolation must lie in [0, 1] and its weight be >= 0, got {interpolation}, "
                             f"{interpolation_weight}")  # fmt: skip
        self.loss = loss if loss is not None else NonSaturatingLoss()
        self.matching_aware, self.interpolation, self.interpolation_weight = (
            matching_aware, interpolation, interpolation_weight
        )  # fmt: skip
        if conditioning_kl_weight < 0:
            raise ValueError(f"conditioning_kl_weight must be >= 0, got {conditioning_kl_weight}")
        self.conditioning_kl_weight = conditioning_kl_weight
        self.grid_captions = list(grid_captions or [])

    def configure_optimizers(self) -> tuple[Optimizer, Optimizer]:
        trainable_text = [p for p in self.text_encoder.parameters() if p.requires_grad]
        return self.g_optimizer(self.generator.parameters()), self.d_optimizer(
            [*self.discriminator.parameters(), *trainable_text]
        )

    # -- the training step ---------------------------------------------------------------------------------
    def mismatched(self, captions: list[str]) -> tuple[Tensor, Tensor]:
        """(index of each sample's wrong caption: the batch shifted by a random 1..N-1, mask of pairs whose
        captions really differ)."""
        n = len(captions)
        shift = int(torch.randint(1, max(n, 2), (), generator=self.noise_generator, device=self.device))
        index = (torch.arange(n, device=self.device) + shift) % n
        differ = torch.tensor([captions[i] != captions[j] for i, j in enumerate(index.tolist())], device=self.device)
        return index, differ

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real, captions = batch[0], captions_of(batch)
        g_opt, d_opt = self.generator_and_discriminator_optimizers()
        wrong, differ = self.mismatched(captions)

        text = self.text_encoder(captions)  # trains with D
        fixed_text = text.detach()  # what G reads
        fake = self.generator(self.sample_latent(len(real)), fixed_text)  # made once; its graph kept for G's step

        with self.toggled_optimizer(d_opt):
            real_logits, fake_logits = self.discriminator(real, text), self.discriminator(fake.detach(), text)
            d_loss = self.loss.d_loss(real_logits, fake_logits)
            scored_wrong = self.matching_aware and bool(differ.any())
            if self.matching_aware:
                # D sees every shifted pair on every rank, whatever the captions: under DDP a synced batch
                # norm all-reduces in each forward, and a forward one rank skips would hang the others
                wrong_logits = self.discriminator(real, text[wrong])[differ]
                if scored_wrong:
                    d_loss = (d_loss + self.loss.d_loss(real_logits[differ], wrong_logits)) / 2
            self.update_discriminator(d_opt, d_loss)
        metrics = {"train/d_loss": d_loss, **self.loss.scores(real_logits, fake_logits)}
        if scored_wrong:
            metrics["train/d_wrong"] = self.loss.score(wrong_logits.detach()).mean()

        with self.toggled_optimizer(g_opt):
            # a relativistic loss compares with D's current logits on the real pairs (GAN-INT's captions have none)
            real_now = real_logits_if_relativistic(self.loss, lambda: self.discriminator(real, fixed_text))
            g_loss = self.loss.g_loss(real_now, self.discriminator(fake, fixed_text))
            if self.interpolation_weight:
                between = torch.lerp(fixed_text[wrong], fixed_text, self.interpolation)  # beta h + (1 - beta) h_w
                made = self.generator(self.sample_latent(len(real)), between)
                made_loss = self.loss.g_loss(real_now, self.discriminator(made, between))
                g_loss = g_loss + self.interpolation_weight * made_loss
            conditioning_kl = getattr(self.generator, "conditioning_kl", None)
            if getattr(self.generator, "conditioning_augmentation", False) and callable(conditioning_kl):
                kl = conditioning_kl(fixed_text)
                metrics["train/g_conditioning_kl"] = kl
                g_loss = g_loss + self.conditioning_kl_weight * kl
            self.update_generator(g_opt, g_loss)
        self.log_train({**metrics, "train/g_loss": g_loss})

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """D on held-out images with their captions and on samples for the same captions."""
        real, captions = batch[0], captions_of(batch)
        text = self.text_encoder(captions)
        fake = self.generate_text(self.validation_latents(len(real), batch_idx), captions)
        real_logits, fake_logits = self.discriminator(real, text), self.discriminator(fake, text)
        values = {"val/d_loss": self.loss.d_loss(real_logits, fake_logits),
                  "val/g_loss": self.loss.g_loss(real_logits, fake_logits),
                  **self.loss.scores(real_logits, fake_logits, "val")}  # fmt: skip
        self.log_dict(values, sync_dist=True, batch_size=len(real))

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """``lightning-gans predict``: a sample for each seeded latent and its test-split caption."""
        captions = list(batch["caption"])
        return {"index": batch["index"], "images": self.generate_text(batch["z"], captions), "captions": captions}

    # -- checks and checkpoints ----------------------------------------------------------------------------
    def check_batch(self, batch: Any) -> None:
        captions = captions_of(batch)
        real = batch[0][:2]
        made = self.generate_text(torch.randn(len(real), self.latent_dim), captions[: len(real)])
        check_same_sample_shape(made, real, self.generator)

    def on_fit_start(self) -> None:
        super().on_fit_start()
        if not self.grid_captions:
            batch = first_training_batch(self.trainer)
            if batch is not None:
                captions = captions_of(batch)
                self.grid_captions = [captions[i % len(captions)] for i in range(len(self.fixed_noise))]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["lightning_gans"]["grid_captions"] = list(self.grid_captions)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        self.grid_captions = list(checkpoint.get("lightning_gans", {}).get("grid_captions", self.grid_captions))

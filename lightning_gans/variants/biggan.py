"""BigGAN (lite): Brock, Donahue & Simonyan 2019, "Large Scale GAN Training for High Fidelity Natural Image
Synthesis" (ICLR 2019, arXiv:1809.11096), sections 3-4 and appendix B. ::

    G(z, y): hierarchical latents and class-conditional batch norm from a shared class embedding
    D(x, y) = psi(phi(x)) + embed(y) . phi(x)          (projection discriminator, Miyato & Koyama 2018)
    spectral norm in every layer of G and D (``lightning_gans.nets.biggan``); orthogonal initialisation
    for each training iteration:
        take a data minibatch (x, y); draw z ~ N(0, I) and labels y' uniformly over the classes
        D step, hinge loss:  E[relu(1 - D(x, y))] + E[relu(1 + D(G(z, y'), y'))]
        G step:              -E[D(G(z, y'), y')]  +  beta * sum_W || W^T W * (1 - I) ||_F^2
                             (orthogonal regularisation, section 3.1, beta = 1e-4)
        update the EMA of G's weights (sampling uses it)
    sampling: the truncation trick, z from a normal truncated at psi (redraw |z_i| > psi):
        ``lightning-gans sample --truncation PSI`` (``--truncation_mode resample``, the default)

The training loop is ``ConditionalGAN``'s (the label is given to both nets), with ``projection``
conditioning: BigGAN's discriminator takes the labels itself. The orthogonal regulariser makes G smooth
enough that truncation trades variety for fidelity without artefacts (the paper's figure 17).

Left out, as CPU-sized choices: self-attention, 2 D steps per G step, the paper's batch size of 2048 and
its learning rates for it (here Adam(1e-4 / 4e-4, betas (0, 0.999)), the two-time-scale rule of SAGAN).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn
from torch.optim import Adam, Optimizer

from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.losses.base import AdversarialLoss
from lightning_gans.losses.hinge import HingeLoss
from lightning_gans.nets.biggan import BigGANDiscriminator, BigGANGenerator
from lightning_gans.variants.cgan import ConditionalGAN


def adam_1e4_beta0(params: Iterable[Any]) -> Optimizer:
    """Adam(lr=1e-4, betas=(0, 0.999)): BigGAN's generator at batch 256 (SAGAN's two time-scales)."""
    return Adam(params, lr=1e-4, betas=(0.0, 0.999))


def adam_4e4_beta0(params: Iterable[Any]) -> Optimizer:
    """Adam(lr=4e-4, betas=(0, 0.999)): BigGAN's discriminator at batch 256."""
    return Adam(params, lr=4e-4, betas=(0.0, 0.999))


def orthogonal_penalty(net: nn.Module) -> Tensor:
    """BigGAN's eq. 3 without beta: sum over the weights of ``net`` (convolutions and dense layers; not the
    embeddings or the norms) of || W W^T * (1 - I) ||_F^2, W flattened to one row per output filter. It pushes
    filters towards orthogonality without constraining their norms. Written here: no well-kept library has it.
    Spectral norm's parametrisation is looked through, to the raw weights, as the paper's code does."""
    total = torch.zeros((), device=next(net.parameters()).device)
    for module in net.modules():
        if not isinstance(module, (nn.Conv2d, nn.Linear)):
            continue
        weights = getattr(getattr(module, "parametrizations", None), "weight", None)
        weight = weights.original if weights is not None else module.weight
        rows = weight.flatten(1)
        # ||W W^T||_F = ||W^T W||_F, so the smaller Gram matrix gives it; the diagonal of W W^T holds the
        # squared row norms (G's 6272 x 40 dense layer: a 40 x 40 product instead of 6272 x 6272)
        gram = rows @ rows.T if rows.shape[0] <= rows.shape[1] else rows.T @ rows
        total = total + gram.square().sum() - rows.square().sum(dim=1).square().sum()
    return total


class BigGAN(ConditionalGAN):
    """Class-conditional BigGAN of Brock et al. 2019, lite.

    Args:
        num_classes: how many labels (10 for Fashion-MNIST).
        generator: ``None`` (the default) means ``BigGANGenerator(num_classes=10)``, for 1x28x28 images; any
            conditional generator works.
        discriminator: ``None`` (the default) means ``BigGANDiscriminator(num_classes=10)``; a discriminator
            with ``num_classes`` that takes ``(x, labels)``, or a ``DCGANDiscriminator`` (projected here).
        loss: ``None`` (the default) means ``HingeLoss()``.
        g_optimizer, d_optimizer: the paper's two time-scales (G 1e-4, D 4e-4, betas (0, 0.999)).
        ema_decay: the generator EMA's decay (the paper's 0.9999 at its batch size; 0.999 here).
        n_grid_samples: fixed latents of the sample grids (100: ten of each class).
        orthogonal_regularisation: beta of the orthogonal regulariser on G (the paper's 1e-4; 0 turns it off).
    """

    def __init__(
        self,
        num_classes: int = 10,
        generator: Generator | None = None,
        discriminator: Discriminator | None = None,
        loss: AdversarialLoss | None = None,
        g_optimizer: OptimizerCallable = adam_1e4_beta0,
        d_optimizer: OptimizerCallable = adam_4e4_beta0,
        ema_decay: float | None = 0.999,
        n_grid_samples: int = 100,
        orthogonal_regularisation: float = 1e-4,
    ) -> None:
        super().__init__(
            num_classes,
            generator if generator is not None else BigGANGenerator(num_classes=num_classes),
            discriminator if discriminator is not None else BigGANDiscriminator(num_classes=num_classes),
            conditioning="projection",
            loss=loss if loss is not None else HingeLoss(),
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
            ema_decay=ema_decay,
            n_grid_samples=n_grid_samples,
        )
        if orthogonal_regularisation < 0:
            raise ValueError(f"orthogonal_regularisation (beta) must be >= 0, got {orthogonal_regularisation}")
        self.orthogonal_regularisation = orthogonal_regularisation

    def update_generator(self, g_opt: Any, loss: Tensor) -> None:
        """G's adversarial loss plus the orthogonal regulariser, in one step."""
        if self.orthogonal_regularisation:
            penalty = orthogonal_penalty(self.generator)
            self.log_train({"train/g_orthogonal_penalty": penalty})
            loss = loss + self.orthogonal_regularisation * penalty
        super().update_generator(g_opt, loss)

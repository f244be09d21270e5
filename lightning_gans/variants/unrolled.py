"""Unrolled GAN: Metz, Poole, Pfau & Sohl-Dickstein 2017, "Unrolled Generative Adversarial Networks"
(arXiv:1611.02163).

    theta_D^0 = theta_D
    theta_D^{k+1} = theta_D^k + eta^k * d f(theta_G, theta_D^k) / d theta_D^k       # k unrolling steps
    G step:  theta_G <- theta_G - eta * d f(theta_G, theta_D^K(theta_G, theta_D)) / d theta_G
    D step:  unchanged: theta_D <- theta_D + eta * d f(theta_G, theta_D) / d theta_D

G is updated against the discriminator it *would* face after K more D updates. The gradient is taken
through the unrolled updates, so G is penalised for moves that D could immediately exploit. This is what
stops it hopping from mode to mode.

Like the paper, we unroll with the discriminator's own Adam: its moments and step count, plus lr, betas
and eps. Each update is differentiable, computed with ``torch.func.functional_call`` on a parameter dict,
so the real D is never modified.

Simplifications, documented: every unrolling step reuses the step's real batch and fake batch (the paper
draws new ones), and Adam's normaliser sqrt(v) is held constant in the unrolled graph, which drops the
1 / (2 sqrt(v)) factor of its derivative. The gradient still flows through the first moment, scaled by
lr / sqrt(v), so unrolling wants Adam's small learning rates, as in the paper (1e-4). Measured on the ring
of 8 with benchmarks/toy_modes.py' nets: at lr 1e-3, G collapsed to 0 modes with K = 1 and to 1 mode with
K = 5; at lr 2e-4 with K = 5 it covered all 8 modes.
"""

from __future__ import annotations

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor
from torch.func import functional_call
from torch.optim import Adam

from lightning_gans.core.module import adam_2e4_beta05
from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.losses.base import AdversarialLoss
from lightning_gans.regularisers import Regularisation, uncompiled
from lightning_gans.variants.gan import GAN


class UnrolledGAN(GAN):
    """GAN whose generator step looks ``unrolled_steps`` Adam updates of D ahead (default 5).

    The arguments are ``GAN``'s, plus ``unrolled_steps``.

    Args:
        unrolled_steps: K in the paper, the Adam updates of D that the generator step looks ahead; 0 gives
            plain GAN.
        d_optimizer: builds the discriminator's optimiser from its parameters; it must be an ``Adam``, whose
            state the unrolling uses.
    """

    def __init__(
        self,
        generator: Generator | None = None,
        discriminator: Discriminator | None = None,
        loss: AdversarialLoss | None = None,
        n_critic: int = 1,
        regularisation: Regularisation | None = None,
        pack: int = 1,
        unrolled_steps: int = 5,
        g_optimizer: OptimizerCallable = adam_2e4_beta05,
        d_optimizer: OptimizerCallable = adam_2e4_beta05,
        ema_decay: float | None = None,
        n_grid_samples: int = 64,
    ) -> None:
        super().__init__(
            generator,
            discriminator,
            loss=loss,
            n_critic=n_critic,
            regularisation=regularisation,
            pack=pack,
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
            ema_decay=ema_decay,
            n_grid_samples=n_grid_samples,
        )
        if unrolled_steps < 0:
            raise ValueError(f"unrolled_steps must be >= 0, got {unrolled_steps}")
        self.unrolled_steps = unrolled_steps

    def generator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        if self.unrolled_steps == 0:
            return super().generator_loss(real, fake)
        _, d_opt = self.generator_and_discriminator_optimizers()
        adam = d_opt.optimizer
        if not isinstance(adam, Adam):
            raise TypeError(f"UnrolledGAN unrolls Adam; d_optimizer built a {type(adam).__name__}")
        group = adam.param_groups[0]
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        params = dict(self.discriminator.named_parameters())
        buffers = dict(self.discriminator.named_buffers())
        names = list(params)
        # Start from D's weights and Adam moments; requires_grad so the unrolled graph reaches theta_D^0.
        weights = {n: p.detach().requires_grad_(True) for n, p in params.items()}
        moments = {n: (adam.state[p]["exp_avg"], adam.state[p]["exp_avg_sq"]) for n, p in params.items()}
        step = float(adam.state[params[names[0]]]["step"])
        real_in, fake_in = self.discriminator_input(real), self.discriminator_input(fake)

        def d(x: Tensor, w: dict[str, Tensor]) -> Tensor:
            # eager even when D was compiled (CompileNets): G's gradient differentiates D's gradient, and compiled
            # graphs do not support double backward
            return uncompiled(lambda y: functional_call(self.discriminator, {**w, **buffers}, (y,)))(x)

        for _ in range(self.unrolled_steps):
            d_loss = self.loss.d_loss(d(real_in, weights), d(fake_in, weights))
            grads = torch.autograd.grad(d_loss, [weights[n] for n in names], create_graph=True)
            step += 1
            updated = {}
            for n, g in zip(names, grads):
                m, v = moments[n]
                m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g
                moments[n] = (m, v)
                m_hat, v_hat = m / (1 - beta1**step), v / (1 - beta2**step)
                # Adam's normaliser is held constant in the unrolled graph (see the module docstring).
                updated[n] = weights[n] - lr * m_hat / (v_hat.detach().sqrt() + eps)
            weights = updated
        # A relativistic loss compares with real data judged by the same unrolled D, which depends on G: unlike
        # the plain GAN's, these real logits stay in the graph.
        real_logits = d(real_in, weights) if self.loss.relativistic else None
        return self.loss.g_loss(real_logits, d(fake_in, weights))

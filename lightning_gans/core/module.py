"""The small bases every variant shares.

``TrainingModule`` is what every module has: hyper-parameters kept for checkpoints, the generator and
discriminator step counts (saved in checkpoints) and cheap logging of training scalars. ``AlternatingUpdates``
adds manual optimisation of a generator side against a discriminator side: optimisers returned as
``(generator, discriminator)``, one counted step helper for each, and the DDP setting they need.

``GenerativeModule`` is what every sampling variant needs, adversarial or not, and nothing of any one algorithm:

* a generator (or decoder) from a latent space, optionally conditioned on a class label (a generator with
  a positive ``num_classes`` attribute takes ``(z, labels)``), and optionally an encoder back to it;
* a latent noise source owned by the module and saved in checkpoints, so ``--ckpt_path last`` resumes with
  the very noise the uninterrupted run would have drawn;
* fixed noise for sample grids, and ``sample(n)``;
* an optional exponential moving average of the generator alone (not of the discriminator, which
  Lightning's ``EMAWeightAveraging`` would also average), saved in checkpoints and used for sampling.

``GANModule`` is a ``GenerativeModule`` with ``AlternatingUpdates`` and a discriminator. Its counters are its
own: ``trainer.global_step`` counts every optimiser step (Lightning #17958), so a variant that takes
``n_critic`` discriminator steps per generator step advances it by ``1 + 1/n_critic`` per batch;
``generator_steps`` / ``discriminator_steps`` count what the papers count. The image-to-image variants have
no latent space: their base is ``lightning_gans.core.translation.TranslationModule``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any, cast

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.utilities import CombinedLoader, rank_zero_info
from torch import Tensor, nn
from torch.optim import Adam, Optimizer
from torch.optim.swa_utils import AveragedModel

from lightning_gans.core.guards import (
    NonFiniteWatch,
    TrainingDiverged,
    call_checked,
    check_same_sample_shape,
    non_finite_tensors,
    optimizer_settings,
    optimizer_state_tensors,
    reapply_optimizer_settings,
)
from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.core.sync_batchnorm import sync_batchnorm_on_cpu
from lightning_gans.inference import LatentSampling, evaluating
from lightning_gans.losses.base import AdversarialLoss


def adam_2e4_beta05(params: Iterable[Any]) -> Optimizer:
    """Adam(lr=2e-4, betas=(0.5, 0.999)): the DCGAN paper's setting, the usual GAN default since."""
    return Adam(params, lr=2e-4, betas=(0.5, 0.999))


EMAUpdate = Callable[[list[Tensor] | tuple[Tensor, ...], list[Tensor] | tuple[Tensor, ...], Tensor | int], None]


def ema_with_warmup(decay: float) -> EMAUpdate:
    """EMA update for ``AveragedModel`` whose decay ramps up as min(decay, (1 + n) / (10 + n)).

    A fixed decay of 0.999 would keep ~37% of the random initial weights after 1000 steps; the ramp (as in
    TensorFlow's ExponentialMovingAverage with num_updates) makes the average useful early in short runs.
    torch's ``get_ema_multi_avg_fn`` has no ramp, hence this. The decay stays a tensor: no device sync.
    """

    @torch.no_grad()
    def update(
        averaged: list[Tensor] | tuple[Tensor, ...],
        current: list[Tensor] | tuple[Tensor, ...],
        num_averaged: Tensor | int,
    ) -> None:
        if not averaged[0].is_floating_point():  # integer buffers (batch norm's step count): take the latest
            for avg, cur in zip(averaged, current):
                avg.copy_(cur)
            return
        n = torch.as_tensor(num_averaged, dtype=averaged[0].dtype, device=averaged[0].device)
        weight = 1.0 - torch.clamp((1.0 + n) / (10.0 + n), max=decay)
        for avg, cur in zip(averaged, current):
            avg.lerp_(cur, weight)

    return update


def real_samples(batch: Tensor | tuple[Tensor, ...] | list[Tensor]) -> Tensor:
    """Data modules yield ``(samples, labels)``; unconditional variants use the samples only."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def first_training_batch(trainer: Trainer) -> Any:
    """The first batch of the data module's training loader, on the module's device (``None`` without a data
    module). Built from a loader of its own, so the run's loader and its position are untouched."""
    datamodule = getattr(trainer, "datamodule", None)
    if datamodule is None:
        return None
    loaders = datamodule.train_dataloader()
    if isinstance(loaders, (dict, list, tuple)):  # several loaders (semi_supervised): batched as Lightning does
        first = next(iter(CombinedLoader(loaders, mode="max_size_cycle")), None)
        batch = None if first is None else first[0]
    else:
        batch = next(iter(loaders), None)
    return None if batch is None else trainer.strategy.batch_to_device(batch)


def from_every_rank(value: Any) -> list[Any]:
    """``value`` of every process of a distributed run, by rank (``[value]`` in one process). A collective: every
    process calls it, as every process takes part in saving a checkpoint."""
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    if not distributed or torch.distributed.get_world_size() == 1:
        return [value]
    values: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(values, value)  # between this run's own processes
    return values


def copy_power_iteration_vectors(source: nn.Module, target: nn.Module) -> None:
    """Spectral norm's power-iteration vectors u, v are unit vectors; the EMA's average of them is not (it shrinks
    as they turn), and in eval mode sigma = u . W v is then underestimated, the weights overscaled (BigGAN's EMA
    generator drew 25 % of samples in the asked class against 74 % for the trained one). The trained net's
    vectors, refreshed at every step, fit the averaged weights closely: copy them instead."""
    targets = dict(target.named_buffers())
    for name, vector in source.named_buffers():
        if name.endswith(("parametrizations.weight.0._u", "parametrizations.weight.0._v", "weight_u", "weight_v")):
            targets[name].copy_(vector)


def is_plain(value: Any) -> bool:
    """Whether ``value`` is plain data (JSON's kinds, tuples as lists): what hyper-parameters and config.json hold."""
    if isinstance(value, (str, int, float, bool, type(None))):
        return True
    if isinstance(value, (list, tuple)):
        return all(is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_plain(v) for k, v in value.items())
    return False


class TrainingModule(LightningModule):
    """What every lightning-gans module shares: hyper-parameters kept for checkpoints, the generator and
    discriminator step counts (saved in checkpoints), and cheap logging of training scalars."""

    def __init__(self) -> None:
        super().__init__()
        # Built through the CLI, hyper-parameters are the recipe's own config (class_path/init_args), which
        # load_from_checkpoint can rebuild. Objects built in Python cannot be rebuilt from a checkpoint:
        # they are dropped here and passed again to load_from_checkpoint(...).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is an instance of `nn.Module`")
            self.save_hyperparameters()
        for key in [k for k, v in self.hparams.items() if not is_plain(v)]:
            del self.hparams[key]
            # and from what loggers record (CSVLogger's YAML dump pickles values: spectral norm's parametrised
            # layers refuse to be pickled)
            cast(dict[str, Any], self._hparams_initial).pop(key, None)
        self.generator_steps = 0
        self.discriminator_steps = 0
        self.non_finite = NonFiniteWatch()
        self.loss_name = "train/loss"  # what the next backward pass is of (the update helpers set it)

    def setup(self, stage: str) -> None:
        # `--trainer.sync_batchnorm true` converts to torch's SyncBatchNorm, which refuses CPU tensors
        if sync_batchnorm_on_cpu(self.trainer.strategy):
            rank_zero_info(f"{type(self).__name__}: batch norm synchronised across the CPU processes")

    # -- early checks and divergence ---------------------------------------------------------------------
    def on_fit_start(self) -> None:
        """Before the first step, one training batch goes through the nets (``check_batch``), so that a net
        built for other data fails now, with a message, instead of training on silently or failing obscurely."""
        self._configured_optimizer_settings = optimizer_settings(self.trainer.optimizers)  # see on_train_start
        batch = first_training_batch(self.trainer)
        if batch is not None:
            precision = self.trainer.precision_plugin  # the batch and dtypes as the training step sees them
            # eval mode, no gradients and a forked RNG: the check changes no state the run depends on
            with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []), torch.no_grad():
                with precision.train_step_context():
                    self.check_batch(precision.convert_input(batch))

    def on_train_start(self) -> None:
        """On resume, the optimiser settings of the config (learning rate, betas, ...) apply, not those stored in
        the checkpoint, which Lightning's restore would otherwise keep silently; each change is reported."""
        configured = getattr(self, "_configured_optimizer_settings", None)
        if configured is not None and self.trainer.ckpt_path is not None:
            scheduled = bool(self.trainer.lr_scheduler_configs)
            for change in reapply_optimizer_settings(self.trainer.optimizers, configured, scheduled):
                rank_zero_info(change)

    def check_batch(self, batch: Any) -> None:
        """Raise ``ValueError`` naming the mismatch when the nets cannot be meant for ``batch``; the bases check
        the generator's output shape, variants add what they know of their discriminator."""

    def on_before_backward(self, loss: Tensor) -> None:
        self.non_finite.record(self.loss_name, loss, self.trainer.global_step)

    def raise_if_diverged(self) -> None:
        """``TrainingDiverged`` naming the loss and the step if a loss has become non-finite, else naming the weights,
        buffers or optimiser states that have.

        Buffers and optimiser states are watched as well as weights: a learning rate far too high can leave every
        loss and weight finite while batch norm's ``running_var`` or Adam's ``exp_avg_sq`` overflows, and a
        checkpoint holding them would sample garbage or resume into NaN."""
        first = self.non_finite.first_bad()
        weights: list[tuple[str, Tensor]] = list(self.named_parameters())
        buffers = list(self.named_buffers())
        trainer = self._trainer  # None when the module is checked outside a fit
        names = {id(p): name for name, p in weights}
        states = list(optimizer_state_tensors(trainer.optimizers, names)) if trainer is not None else []
        broken = non_finite_tensors(weights + buffers + states)  # one check: one synchronisation when all finite
        if first is None and not broken:
            return
        if first is not None:
            cause = f"{first[0]} became NaN or infinite at global step {first[1]}"
        else:
            bad, causes = set(broken), []
            groups = {"weights": weights, "buffers": buffers, "optimiser states": states}
            for kind, named in groups.items():
                found = [name for name, _ in named if name in bad]
                if found:
                    listed = ", ".join(found[:4]) + (", ..." if len(found) > 4 else "")
                    causes.append(f"{kind} became NaN or infinite ({listed})")
            cause = "; ".join(causes)
        raise TrainingDiverged(
            f"training diverged: {cause} (epoch {self.current_epoch}, generator step {self.generator_steps}). "
            "Training stopped before any checkpoint of non-finite values was written: the checkpoints already "
            "written are finite, and `--ckpt_path last` resumes from the last good one. Lower the learning rates, "
            "add a gradient penalty (regularisation.gradient_penalty or r1_gamma) or try a bounded loss (hinge)."
        )

    def logs_this_step(self) -> bool:
        """Whether the loggers record this training step (Lightning's own ``should_update_logs``)."""
        connector = getattr(self.trainer, "_logger_connector", None)
        return bool(getattr(self.trainer, "fast_dev_run", False) or getattr(connector, "should_update_logs", True))

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        self.share_rank_zero_buffers()

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.logs_this_step():  # reading the flags is a host-device sync: only where the logger records
            self.raise_if_diverged()

    def on_validation_start(self) -> None:
        self.share_rank_zero_buffers()  # every process measures the model that rank 0 saves
        if self.trainer.state.fn == "fit":
            self.raise_if_diverged()  # before metrics meet non-finite samples

    def share_rank_zero_buffers(self) -> None:
        """Under DDP, give every process rank 0's buffers (batch norm's running statistics, the EMA's), as DDP's
        ``broadcast_buffers`` (on by default) promises before each forward pass. With the two nets called inside
        one manual training step, DDP's own broadcast did not happen (measured: each rank kept its own running
        statistics), so a resumed run, which gets rank 0's from the checkpoint, went elsewhere, and validation
        sampled from per-rank models that no checkpoint holds."""
        strategy = self.trainer.strategy
        if self.trainer.world_size == 1 or not isinstance(strategy, DDPStrategy):
            return
        if not strategy._ddp_kwargs.get("broadcast_buffers", True):
            return  # the user asked for per-rank buffers
        same_kind: dict[tuple[torch.dtype, torch.device], list[Tensor]] = {}
        for buffer in self.buffers():
            same_kind.setdefault((buffer.dtype, buffer.device), []).append(buffer)
        for buffers in same_kind.values():  # one broadcast per dtype and device
            flat = torch.cat([buffer.reshape(-1) for buffer in buffers])
            torch.distributed.broadcast(flat, src=0)
            for buffer, value in zip(buffers, flat.split([buffer.numel() for buffer in buffers])):
                buffer.copy_(value.view_as(buffer))

    # -- test: the validation measures on the test split -------------------------------------------------
    def test_step(self, batch: Any, batch_idx: int) -> Any:
        """``lightning-gans test``: the variant's ``validation_step`` on the data module's test split (see its
        ``test_split``). What the step and the measuring callbacks log as ``val/<name>`` is logged as
        ``test/<name>`` there (``log``), so one step defines both and they cannot drift apart."""
        return self.validation_step(batch, batch_idx)

    def log(self, name: str, value: Any, *args: Any, **kwargs: Any) -> None:  # Lightning's many options, as they are
        """Lightning's ``log``, with a ``val/`` key logged as ``test/`` while testing (``log_dict`` calls this)."""
        if self._trainer is not None and self._trainer.testing and name.startswith("val/"):
            name = "test/" + name.removeprefix("val/")
        super().log(name, value, *args, **kwargs)

    def on_train_epoch_end(self) -> None:
        self.raise_if_diverged()

    def log_train(self, metrics: dict[str, Tensor]) -> None:
        """Log training scalars on the batches the loggers record: every ``trainer.log_every_n_steps``.

        ``self.log`` costs about 1 ms of Python per key (torch.compiler.disable plus a result metric,
        measured by benchmarks/overhead.py on CPU): four keys on every step were most of Lightning's
        overhead on a DCGAN step, for values the logger keeps only every n-th step anyway. The progress bar
        shows the last recorded values. The decision is Lightning's own (``should_update_logs``), so the
        values logged are the ones flushed; if that private hook ever moves, every step is logged.
        """
        if self.logs_this_step():
            self.log_dict(metrics, prog_bar=True)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.raise_if_diverged()  # every checkpoint, from any callback, passes here: none holds non-finite weights
        checkpoint.setdefault("lightning_gans", {}).update(
            generator_steps=self.generator_steps, discriminator_steps=self.discriminator_steps
        )

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("lightning_gans", {})
        self.generator_steps = state.get("generator_steps", 0)
        self.discriminator_steps = state.get("discriminator_steps", 0)


class AlternatingUpdates(TrainingModule):
    """Manual optimisation of a generator side against a discriminator side, with optimisers returned as
    ``(generator, discriminator)``: the shared half of ``GANModule`` and ``TranslationModule``."""

    def setup(self, stage: str) -> None:
        # Under DDP each of G and D sits out one of the two backward passes of a step, which plain DDP reports
        # as "parameters that were not used in producing the loss" (Lightning #20328, #20866). Lightning calls
        # prepare_for_backward before each manual backward, so unused-parameter detection per pass is exact;
        # turning it on here makes `strategy=ddp` work for every variant instead of failing at step two.
        super().setup(stage)
        strategy = self.trainer.strategy
        if isinstance(strategy, DDPStrategy) and not strategy._ddp_kwargs.get("find_unused_parameters"):
            strategy._ddp_kwargs["find_unused_parameters"] = True
            rank_zero_info(
                f"{type(self).__name__}: DDP with find_unused_parameters=True (G and D step on separate passes)"
            )

    def generator_and_discriminator_optimizers(self) -> tuple[Any, Any]:
        """``(g_opt, d_opt)``, checked, so that a variant can never step the wrong net."""
        optimizers = self.optimizers()
        if not isinstance(optimizers, list) or len(optimizers) != 2:
            raise RuntimeError(f"{type(self).__name__} needs exactly two optimisers, (generator, discriminator)")
        return optimizers[0], optimizers[1]

    def update_discriminator(self, d_opt: Any, loss: Tensor) -> None:
        """One counted D step on ``loss``; call it inside ``toggled_optimizer(d_opt)``."""
        self.loss_name = "train/d_loss"
        d_opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        d_opt.step()
        self.discriminator_steps += 1

    def update_generator(self, g_opt: Any, loss: Tensor) -> None:
        """One counted G step on ``loss``; call it inside ``toggled_optimizer(g_opt)``."""
        self.loss_name = "train/g_loss"
        g_opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        g_opt.step()
        self.generator_steps += 1


class GenerativeModule(TrainingModule, LatentSampling):
    """Shared base of all variants: sampling, conditioning and encoding; see the module docstring.

    Args:
        generator: maps a latent batch ``(N, generator.latent_dim)`` to samples; a class-conditional one has
            a positive ``num_classes`` attribute and is called as ``generator(z, labels)``.
        encoder: maps samples back to the latent space (autoencoders, BiGAN), or ``None``.
        ema_decay: if set, keep an EMA of the generator's weights with this decay and sample from it.
        n_grid_samples: how many fixed latent vectors sample grids use.
    """

    fixed_noise: Tensor

    def __init__(
        self,
        generator: Generator,
        encoder: nn.Module | None = None,
        ema_decay: float | None = None,
        n_grid_samples: int = 64,
    ) -> None:
        super().__init__()
        latent_dim = getattr(generator, "latent_dim", None)
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise TypeError(
                f"{type(generator).__name__} has no positive integer attribute `latent_dim`; a generator must say "
                "how large its input noise is."
            )
        num_classes = getattr(generator, "num_classes", 0)
        if not isinstance(num_classes, int) or num_classes < 0:
            raise TypeError(f"{type(generator).__name__}.num_classes must be a non-negative int, got {num_classes!r}")
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise ValueError(f"ema_decay must lie in (0, 1), got {ema_decay}")
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.generator = generator
        self.encoder = encoder
        self.generator_ema: AveragedModel | None = None
        if ema_decay is not None:
            self.generator_ema = AveragedModel(generator, multi_avg_fn=ema_with_warmup(ema_decay), use_buffers=True)
            self.generator_ema.requires_grad_(False)  # never trained: DDP must not wait for its gradients
        self.register_buffer("fixed_noise", torch.randn(n_grid_samples, latent_dim))
        self._noise_seed = int(torch.randint(0, 2**62, ()).item())  # follows seed_everything
        self._noise: torch.Generator | None = None
        self._resumed_noise: list[Tensor | None] | None = None  # every rank's noise state, from a checkpoint

    def check_batch(self, batch: Any) -> None:
        """The generator's samples must have the data's shape (a 32x32 generator on 28x28 data is refused)."""
        real = real_samples(batch)[:2]
        z = torch.randn(len(real), self.latent_dim, device=self.device)
        labels = self.balanced_labels(len(real)).to(self.device) if self.num_classes else None
        with evaluating(self.generator) as net:
            made = call_checked(net, z, "generator") if labels is None else call_checked(net, (z, labels), "generator")
        check_same_sample_shape(made, real, self.generator)

    def update_generator_ema(self) -> None:
        if self.generator_ema is not None:
            self.generator_ema.update_parameters(self.generator)
            copy_power_iteration_vectors(self.generator, self.generator_ema.module)

    # -- noise, labels and sampling --------------------------------------------------------------------
    @property
    def noise_generator(self) -> torch.Generator:
        """The random generator for all training-time randomness, one stream per DDP rank (each rank's state
        saved in checkpoints, so a resumed run draws what the uninterrupted run would have, on every rank)."""
        if self._noise is None or self._noise.device != self.device:
            self._noise = torch.Generator(device=self.device)
            self._noise.manual_seed(self._noise_seed + self.global_rank)  # each DDP rank draws its own noise
            if self._resumed_noise is not None:
                rank, states = self.global_rank, self._resumed_noise
                if rank >= len(states):  # a resume with more processes than saved: a stream none has drawn from
                    self._noise.manual_seed(self._noise_seed + rank + 1_000_003 * (self.discriminator_steps + 1))
                elif (state := states[rank]) is not None:  # None: this rank had not drawn yet; its seed is its state
                    self._noise.set_state(state)
                self._resumed_noise = None
        return self._noise

    def sample_latent(self, n: int) -> Tensor:
        """Training noise z ~ N(0, I) from ``noise_generator``."""
        return torch.randn(n, self.latent_dim, device=self.device, generator=self.noise_generator)

    def validation_latents(self, n: int, batch_idx: int) -> Tensor:
        """Latents for validation batch ``batch_idx``, seeded by it: the same at every validation, and they never
        consume (so never shift) the training noise."""
        return torch.randn(n, self.latent_dim, generator=torch.Generator().manual_seed(batch_idx))

    def sample_labels(self, n: int) -> Tensor:
        """Training labels for generated samples, uniform over the classes, from ``noise_generator``."""
        return torch.randint(0, self.num_classes, (n,), device=self.device, generator=self.noise_generator)

    @property
    def sampling_generator(self) -> nn.Module:
        """The EMA generator when there is one (it gives the better samples), else the trained one."""
        return self.generator_ema.module if self.generator_ema is not None else self.generator

    @property
    def fixed_labels(self) -> Tensor:
        """The labels ``sample_fixed`` draws: every class in turn (empty for an unconditional generator)."""
        return self.balanced_labels(len(self.fixed_noise))

    def sample_fixed(self) -> Tensor:
        """Samples from the fixed grid noise: the same latents at every epoch, so grids show progress (and, for
        a conditional generator, every class in turn: a grid with a column per class)."""
        return self.generate(self.fixed_noise)

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Tensor]:
        """``lightning-gans predict``: the samples of a batch of ``lightning_gans.predict.SeededLatents``, with
        their indices (and labels), for its ``SampleWriter``."""
        labels = batch.get("label")
        images = self.generate(batch["z"], labels)
        return {"index": batch["index"], "images": images, **({"labels": labels} if labels is not None else {})}

    # -- encoding ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, x: Tensor) -> Tensor:
        """Latents of samples ``x``, in eval mode: the point of the latent space that ``generate`` decodes."""
        if self.encoder is None:
            raise ValueError(f"{type(self).__name__} has no encoder (autoencoder, vae and bigan have one)")
        with evaluating(self.encoder) as encoder:
            return encoder(x.to(self.device))

    def generator_and_encoder_parameters(self) -> list[nn.Parameter]:
        """What the generator's side trains: the generator (decoder) and the encoder, if any."""
        encoder = list(self.encoder.parameters()) if self.encoder is not None else []
        return list(self.generator.parameters()) + encoder

    def reconstruct(self, x: Tensor) -> Tensor:
        """``generate(encode(x))``: what the model makes of a real sample."""
        return self.generate(self.encode(x))

    # -- checkpoints -----------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        own: Tensor | None = None
        if self._noise is not None:
            own = self._noise.get_state()
        elif self._resumed_noise is not None and self.global_rank < len(self._resumed_noise):
            own = self._resumed_noise[self.global_rank]  # not drawn from since the resume
        states = from_every_rank(own)  # before the divergence check, which may raise on one rank
        super().on_save_checkpoint(checkpoint)
        checkpoint["lightning_gans"].update(noise_seed=self._noise_seed, noise_state=states[0], noise_states=states)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        state = checkpoint.get("lightning_gans")
        if state is not None:
            self._noise_seed = state["noise_seed"]
            # rank 0's alone in checkpoints written before each rank's state was kept
            self._noise, self._resumed_noise = None, state.get("noise_states", [state["noise_state"]])


class GANModule(AlternatingUpdates, GenerativeModule):
    """Shared base of the adversarial variants: a discriminator and alternating (manual) optimisation.

    Args:
        generator: see ``GenerativeModule``.
        discriminator: maps samples to one raw score (logit) per sample.
        g_optimizer: builds the generator's optimiser from its parameters (and the encoder's, if any).
        d_optimizer: builds the discriminator's optimiser from its parameters.
        encoder, ema_decay, n_grid_samples: see ``GenerativeModule``.
    """

    def __init__(
        self,
        generator: Generator,
        discriminator: Discriminator,
        g_optimizer: OptimizerCallable = adam_2e4_beta05,
        d_optimizer: OptimizerCallable = adam_2e4_beta05,
        encoder: nn.Module | None = None,
        ema_decay: float | None = None,
        n_grid_samples: int = 64,
    ) -> None:
        super().__init__(generator, encoder, ema_decay, n_grid_samples)
        self.automatic_optimization = False
        self.discriminator = discriminator
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer

    def configure_optimizers(self) -> tuple[Optimizer, Optimizer]:
        # BiGAN's encoder plays on the generator's side
        return self.g_optimizer(self.generator_and_encoder_parameters()), self.d_optimizer(
            self.discriminator.parameters()
        )

    def update_generator(self, g_opt: Any, loss: Tensor) -> None:
        """One counted G step on ``loss`` (inside ``toggled_optimizer(g_opt)``); the EMA follows it."""
        super().update_generator(g_opt, loss)
        self.update_generator_ema()

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """The default validation, so that a new variant works with the shared callbacks (which run at
        validation) and ``lightning-gans validate``: D on held-out real data and on samples from seeded
        latents (``validation_latents``). With an ``AdversarialLoss`` as ``self.loss`` it logs ``val/d_loss``,
        ``val/g_loss`` and the loss's ``val/d_real``/``val/d_fake``; otherwise D's mean raw scores as
        ``val/d_real``/``val/d_fake``. A D that scores training data far above held-out data is memorising.
        Variants whose D takes more than samples (labels, codes, pairs) override it."""
        real = real_samples(batch)
        fake = self.generate(self.validation_latents(len(real), batch_idx))
        real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)
        loss = getattr(self, "loss", None)
        if isinstance(loss, AdversarialLoss):
            values = {
                "val/d_loss": loss.d_loss(real_logits, fake_logits),
                "val/g_loss": loss.g_loss(real_logits, fake_logits),
                **loss.scores(real_logits, fake_logits, "val"),
            }
        else:
            values = {"val/d_real": real_logits.float().mean(), "val/d_fake": fake_logits.float().mean()}
        self.log_dict(values, sync_dist=True)

"""The GAN family (every variant built on ``GAN``) trains on CPU; counters, EMA, conventions and exact resume.
The label- and encoder-based variants have their own tests in test_labels_and_encoders.py."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
from lightning.pytorch import LightningDataModule, Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import TensorDataset

from lightning_gans import registry
from lightning_gans.core import GANModule
from lightning_gans.data.toy import GaussianMixtureDataModule
from lightning_gans.losses import MinimaxLoss
from lightning_gans.nets import MLPDiscriminator, MLPGenerator
from lightning_gans.variants.gan import GAN

TRAIN_KEYS = {"train/d_loss", "train/g_loss", "train/d_real", "train/d_fake"}
VAL_KEYS = {"val/d_loss", "val/g_loss", "val/d_real", "val/d_fake"}


def trainer(**overrides: object) -> Trainer:
    options: dict[str, object] = dict(
        accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0, log_every_n_steps=1,
    )  # fmt: skip
    options.update(overrides)
    return Trainer(**options)  # type: ignore[arg-type]


def image_data(n: int = 32, batch_size: int = 8) -> LightningDataModule:
    images = torch.rand(n, 1, 28, 28) * 2 - 1
    dataset = TensorDataset(images, torch.zeros(n, dtype=torch.long))
    return LightningDataModule.from_datasets(dataset, dataset, batch_size=batch_size)


def small_gan(**kwargs: object) -> GAN:
    return GAN(
        MLPGenerator(latent_dim=4, out_shape=(2,), hidden=(16,), output_activation="none"),
        MLPDiscriminator(in_shape=(2,), hidden=(16,)),
        **kwargs,  # type: ignore[arg-type]
    )


GAN_FAMILY = [name for name in registry.variants.names() if issubclass(registry.variants.load(name), GAN)]


@pytest.mark.parametrize("name", GAN_FAMILY)
def test_every_gan_family_variant_trains_a_few_steps_and_keeps_the_conventions(name: str) -> None:
    seed_everything(0)
    model = registry.variants.create(name)
    assert isinstance(model, GANModule)
    params = inspect.signature(type(model)).parameters
    assert {"generator", "discriminator", "n_critic", "g_optimizer", "d_optimizer"} <= set(params)
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()), "no **kwargs sinks"

    g_opt, d_opt = model.configure_optimizers()  # (generator, discriminator), in that order
    assert {id(p) for group in g_opt.param_groups for p in group["params"]} == {
        id(p) for p in model.generator.parameters()
    }
    assert {id(p) for group in d_opt.param_groups for p in group["params"]} == {
        id(p) for p in model.discriminator.parameters()
    }

    before = {k: v.clone() for k, v in model.state_dict().items()}
    run = trainer(max_epochs=1, limit_val_batches=1)
    run.fit(model, image_data(n=80, batch_size=8))  # 10 batches
    metrics = run.callback_metrics
    assert TRAIN_KEYS | VAL_KEYS <= set(metrics)
    assert all(torch.isfinite(metrics[k]) for k in TRAIN_KEYS | VAL_KEYS)
    generator_steps = 10 // model.n_critic
    assert model.generator_steps == generator_steps and model.discriminator_steps == 10
    assert run.global_step == 10 + generator_steps  # Lightning counts every optimiser step (GANModule docstring)
    changed = [k for k, v in model.state_dict().items() if "weight" in k and not torch.equal(v, before[k])]
    assert any(k.startswith("generator.") for k in changed) and any(k.startswith("discriminator.") for k in changed)
    samples = model.sample(5, seed=3)
    assert samples.shape == (5, 1, 28, 28) and torch.equal(samples, model.sample(5, seed=3))


@pytest.mark.parametrize("n_critic", [1, 3])
def test_k_discriminator_steps_per_generator_step(n_critic: int) -> None:
    model = small_gan(n_critic=n_critic)
    data = GaussianMixtureDataModule(num_train=12 * 16, num_val=16, batch_size=16)
    run = trainer(max_epochs=1)
    run.fit(model, data)
    g_opt, d_opt = run.optimizers
    adam_steps = [int(opt.state[next(iter(opt.state))]["step"]) for opt in (g_opt, d_opt)]
    assert model.discriminator_steps == 12 and model.generator_steps == 12 // n_critic
    assert adam_steps == [12 // n_critic, 12]  # what the optimisers themselves counted
    assert run.global_step == 12 + 12 // n_critic


def test_minimax_loss_is_selectable_and_trains() -> None:
    model = small_gan(loss=MinimaxLoss())
    run = trainer(max_steps=10)
    run.fit(model, GaussianMixtureDataModule(num_train=256, num_val=16, batch_size=32))
    assert run.callback_metrics["train/g_loss"] < 0  # log(1 - D(G(z))) is negative: the minimax form ran


def test_bad_arguments_fail_clearly() -> None:
    with pytest.raises(ValueError, match="n_critic"):
        small_gan(n_critic=0)
    with pytest.raises(ValueError, match="ema_decay"):
        small_gan(ema_decay=1.5)
    with pytest.raises(TypeError, match="latent_dim"):
        GAN(torch.nn.Linear(2, 2), MLPDiscriminator(in_shape=(2,)))


def test_ema_tracks_the_generator_only_is_saved_and_used_for_sampling(tmp_path: Path) -> None:
    model = small_gan(ema_decay=0.9)
    assert model.generator_ema is not None
    assert not any(p.requires_grad for p in model.generator_ema.parameters())
    run = trainer(max_steps=20, enable_checkpointing=True, default_root_dir=tmp_path)
    run.fit(model, GaussianMixtureDataModule(num_train=640, num_val=16, batch_size=32))
    ema, live = model.generator_ema.module, model.generator
    assert int(model.generator_ema.n_averaged) == model.generator_steps == 10
    assert not torch.equal(ema.net[0].weight, live.net[0].weight)
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(model.sample(6, seed=1), ema(z))
    assert not any(k.startswith("discriminator") for k in model.generator_ema.state_dict())
    checkpoint = torch.load(next(tmp_path.rglob("*.ckpt")), weights_only=True)
    assert any(k.startswith("generator_ema.") for k in checkpoint["state_dict"])
    assert checkpoint["lightning_gans"]["generator_steps"] == 10


def _fit(model: GAN, epochs: int, root: Path, ckpt_path: str | None = None) -> Trainer:
    run = trainer(
        max_epochs=epochs, default_root_dir=root, enable_checkpointing=True,
        callbacks=[ModelCheckpoint(dirpath=root / "checkpoints", save_last=True)],
    )  # fmt: skip
    run.fit(model, GaussianMixtureDataModule(num_train=256, num_val=16, batch_size=32, seed=5), ckpt_path=ckpt_path)
    return run


def test_resume_from_last_gives_the_weights_of_an_uninterrupted_run(tmp_path: Path) -> None:
    seed_everything(0)
    straight = small_gan(n_critic=2, ema_decay=0.8)
    _fit(straight, 4, tmp_path / "straight")

    seed_everything(0)
    _fit(small_gan(n_critic=2, ema_decay=0.8), 2, tmp_path / "resumed")
    seed_everything(123)  # a different global RNG state must not matter after resuming
    resumed = small_gan(n_critic=2, ema_decay=0.8)
    _fit(resumed, 4, tmp_path / "resumed", ckpt_path="last")

    assert (resumed.generator_steps, resumed.discriminator_steps) == (straight.generator_steps, 32) == (16, 32)
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    assert torch.equal(straight.sample_latent(3), resumed.sample_latent(3))  # the noise stream continues too


def test_training_scalars_are_logged_on_the_steps_the_logger_records(tmp_path: Path) -> None:
    from lightning.pytorch.loggers import CSVLogger

    run = trainer(max_steps=16, log_every_n_steps=4, logger=CSVLogger(tmp_path, name="csv"))
    run.fit(small_gan(), GaussianMixtureDataModule(num_train=256, num_val=16, batch_size=32))
    rows = (tmp_path / "csv/version_0/metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    logged = [dict(zip(header, row.split(","))) for row in rows[1:]]
    d_losses = [row["train/d_loss"] for row in logged if row.get("train/d_loss")]
    assert len(d_losses) == 2 and len(set(d_losses)) == 2  # batches 4 and 8 of 8, each its own value
    assert all(row["train/g_loss"] for row in logged if row.get("train/d_loss"))


def test_wgan_clips_the_critic_after_every_step() -> None:
    from lightning_gans.variants.wgan import WGAN

    model = WGAN(
        MLPGenerator(latent_dim=4, out_shape=(2,), hidden=(16,), output_activation="none"),
        MLPDiscriminator(in_shape=(2,), hidden=(16,)),
    )
    trainer(max_steps=12).fit(model, GaussianMixtureDataModule(num_train=640, num_val=16, batch_size=32))
    assert model.discriminator_steps == 10 and model.generator_steps == 2  # n_critic = 5
    assert max(p.abs().max().item() for p in model.discriminator.parameters()) <= 0.01


def test_regularised_training_logs_its_penalty() -> None:
    from lightning_gans.regularisers import Regularisation

    model = small_gan(regularisation=Regularisation(gradient_penalty=10.0, r1_gamma=1.0, instance_noise=0.1))
    run = trainer(max_steps=6)
    run.fit(model, GaussianMixtureDataModule(num_train=256, num_val=16, batch_size=32))
    assert torch.isfinite(run.callback_metrics["train/d_penalty"]) and run.callback_metrics["train/d_penalty"] > 0


def test_pacgan_discriminator_sees_packs() -> None:
    from lightning_gans.variants.pacgan import PacGAN

    seen: list[tuple[int, ...]] = []
    d = MLPDiscriminator(in_shape=(6,), hidden=(16,))
    d.register_forward_pre_hook(lambda _, args: seen.append(tuple(args[0].shape)))
    model = PacGAN(MLPGenerator(latent_dim=4, out_shape=(2,), hidden=(16,), output_activation="none"), d, pack=3)
    trainer(max_steps=2).fit(model, GaussianMixtureDataModule(num_train=96, num_val=16, batch_size=24))
    # the first call is the shape check before training (2 packs); then 24 samples of 2 features -> 8 packs of 3
    assert seen[0] == (2, 6) and set(seen[1:]) == {(8, 6)}


def test_unrolled_generator_loss_looks_ahead() -> None:
    from lightning_gans.variants.unrolled import UnrolledGAN

    def build(steps: int) -> UnrolledGAN:
        seed_everything(0)
        return UnrolledGAN(
            MLPGenerator(latent_dim=4, out_shape=(2,), hidden=(16,), output_activation="none"),
            MLPDiscriminator(in_shape=(2,), hidden=(16,)),
            unrolled_steps=steps,
        )

    losses = {}
    for steps in (0, 3):
        model = build(steps)
        run = trainer(max_steps=4)
        run.fit(model, GaussianMixtureDataModule(num_train=64, num_val=16, batch_size=32))
        d_before = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
        real = torch.randn(32, 2)
        fake = model.generator(torch.randn(32, 4))
        loss = model.generator_loss(real, fake)
        loss.backward()
        assert all(p.grad is not None for p in model.generator.parameters())
        assert all(torch.equal(v, model.discriminator.state_dict()[k]) for k, v in d_before.items())  # D untouched
        plain = model.loss.g_loss(None, model.discriminator(fake))
        losses[steps] = (loss.item(), plain.item())
    assert losses[0][0] == pytest.approx(losses[0][1])  # K = 0 is the plain GAN loss
    assert losses[3][0] != pytest.approx(losses[3][1], rel=1e-4)  # K = 3 is judged by an unrolled D


def test_separate_generator_and_discriminator_learning_rates() -> None:
    """TTUR (Heusel et al. 2017): G and D get their own optimiser and learning rate."""
    from functools import partial

    model = small_gan(
        g_optimizer=partial(torch.optim.Adam, lr=1e-4, betas=(0.0, 0.9)),
        d_optimizer=partial(torch.optim.Adam, lr=4e-4, betas=(0.0, 0.9)),
    )
    g_opt, d_opt = model.configure_optimizers()
    assert g_opt.param_groups[0]["lr"] == 1e-4 and d_opt.param_groups[0]["lr"] == 4e-4
    before = [p.clone() for p in model.generator.parameters()]
    trainer(max_steps=2).fit(model, GaussianMixtureDataModule(num_train=64, num_val=16, batch_size=32))
    first_step = max((p - b).abs().max().item() for p, b in zip(model.generator.parameters(), before))
    assert first_step == pytest.approx(1e-4, rel=1e-3)  # Adam's first step moves each weight by about lr

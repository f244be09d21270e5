"""``torch.compile`` of the nets: the ``CompileNets`` callback, the penalties that bypass it, and sampling.

Two tests compile for real with the default inductor backend (C++ code generation on the CPU); the others use
``aot_eager``, which traces the same graphs through dynamo and AOTAutograd (so double backward fails the same way)
without generating code, and takes a fraction of the time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import tiny_images
from lightning.pytorch import LightningModule, Trainer, seed_everything
from torch import nn

from lightning_gans.callbacks import CompileNets, LastCheckpoint
from lightning_gans.callbacks.compile import is_compiled
from lightning_gans.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator
from lightning_gans.regularisers import Regularisation, gradient_penalty, r1_penalty, r2_penalty, uncompiled
from lightning_gans.sampling import compile_for_sampling
from lightning_gans.variants.acgan import ACGAN
from lightning_gans.variants.dcgan import DCGAN
from lightning_gans.variants.r3gan import R3GAN
from lightning_gans.variants.unrolled import UnrolledGAN
from lightning_gans.variants.wgan_gp import WGANGP

QUICK = "aot_eager"


@pytest.fixture(autouse=True)
def fresh_dynamo() -> Iterator[None]:
    """Each test compiles from scratch: no cache entries (or recompile counts) carried over from another test."""
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    yield
    torch._dynamo.reset()


def trainer(callbacks: list[Any], **overrides: Any) -> Trainer:
    options: dict[str, Any] = dict(
        accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0, callbacks=callbacks,
    )  # fmt: skip
    options.update(overrides)
    return Trainer(**options)


def tiny_dcgan(**kwargs: Any) -> DCGAN:
    return DCGAN(DCGANGenerator(latent_dim=8, width=4), DCGANDiscriminator(width=4), **kwargs)


def compiled_frames() -> int:
    """Frames dynamo has compiled since the fixture cleared the counters."""
    return int(torch._dynamo.utils.counters["frames"]["ok"])


@pytest.mark.slow  # inductor compiles 3-4 graphs with their backward: ~25 s, ~60 s with a cold inductor cache
def test_compile_nets_compiles_g_and_d_with_inductor_and_a_tiny_dcgan_trains() -> None:
    seed_everything(0)
    model = tiny_dcgan(ema_decay=0.9)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    callback = CompileNets()  # inductor, for real
    # 3 iterations (a D and a G step each), then one validation batch (eval mode: one more compilation)
    run = trainer([callback], max_steps=6, limit_val_batches=1, log_every_n_steps=1)
    run.fit(model, tiny_images(n=24, batch_size=8))
    assert callback.compiled == ["generator", "discriminator"]
    assert is_compiled(model.generator) and is_compiled(model.discriminator)
    assert model.generator_ema is not None and not is_compiled(model.generator_ema.module)  # EMA: eager, see docs
    assert compiled_frames() >= 2  # dynamo really compiled the nets' forwards (not silently skipped them)
    assert not torch._dynamo.utils.counters["graph_break"]  # whole-net graphs
    assert model.generator_steps == model.discriminator_steps == 3
    assert all(torch.isfinite(run.callback_metrics[k]) for k in ("train/d_loss", "train/g_loss", "val/d_loss"))
    for net in ("generator.", "discriminator."):
        assert any(not torch.equal(v, before[k]) for k, v in model.state_dict().items() if k.startswith(net))
    assert model.sample(4, seed=1).shape == (4, 1, 28, 28)


def test_a_compiled_run_checkpoints_the_plain_keys_loads_uncompiled_and_resumes_compiled(tmp_path: Path) -> None:
    seed_everything(0)
    model = tiny_dcgan()
    fresh = tiny_dcgan()
    callbacks = [CompileNets(backend=QUICK), LastCheckpoint(every_minutes=0)]
    run = trainer(callbacks, max_epochs=1, default_root_dir=tmp_path, enable_checkpointing=True)
    run.fit(model, tiny_images(n=16, batch_size=8))
    assert is_compiled(model.discriminator)
    [last] = tmp_path.rglob("last.ckpt")
    state = torch.load(last, weights_only=True)["state_dict"]
    assert list(state) == list(fresh.state_dict()) and not any("_orig_mod" in k for k in state)
    fresh.load_state_dict(state)  # strict: exactly the keys of a module that was never compiled
    assert not is_compiled(fresh.generator)
    assert torch.equal(fresh.sample(4, seed=2), model.sample(4, seed=2))

    # resuming with the callback: restored first, compiled after, training goes on
    resumed = tiny_dcgan()
    callbacks = [CompileNets(backend=QUICK), LastCheckpoint(every_minutes=0)]
    run = trainer(callbacks, max_epochs=2, default_root_dir=tmp_path, enable_checkpointing=True)
    run.fit(resumed, tiny_images(n=16, batch_size=8), ckpt_path=str(last))
    assert is_compiled(resumed.generator) and resumed.generator_steps == 4
    assert list(resumed.state_dict()) == list(fresh.state_dict())


def critic() -> nn.Module:
    torch.manual_seed(0)
    return MLPDiscriminator(in_shape=(1, 6, 6), hidden=(16,))


@pytest.mark.parametrize("penalty", ["gradient_penalty", "r1", "r2", "head"])
def test_penalties_run_a_compiled_d_eagerly_and_match_the_uncompiled_values(penalty: str) -> None:
    eager, compiled = critic(), critic()
    compiled.compile(backend=QUICK)
    real, fake = torch.randn(5, 1, 6, 6), torch.randn(5, 1, 6, 6)
    compiled(real)  # compiled once, as a D step would
    frames = compiled_frames()
    assert frames >= 1

    def value(d: nn.Module) -> torch.Tensor:
        d.zero_grad()
        if penalty == "gradient_penalty":
            out = gradient_penalty(d, real, fake, torch.Generator().manual_seed(3))
        elif penalty == "r1":
            out = r1_penalty(d, real)
        elif penalty == "r2":
            out = r2_penalty(d, fake)
        else:  # a critic that calls D inside (ACGAN's source head): bypassing D's own compiled call would miss it
            out = gradient_penalty(lambda x: d(x).tanh(), real, fake, torch.Generator().manual_seed(3))
        out.backward()  # the double backward a compiled graph refuses
        return out.detach()

    assert torch.allclose(value(compiled), value(eager), atol=1e-6)
    for (name, a), b in zip(compiled.named_parameters(), eager.parameters()):
        if b.grad is None:  # D's last bias does not change its input gradient
            assert a.grad is None, name
        else:
            assert a.grad is not None and torch.allclose(a.grad, b.grad, atol=1e-6), name
    assert compiled_frames() == frames  # the eager detour neither compiled nor invalidated anything
    compiled(real)
    assert compiled_frames() == frames


def test_without_the_detour_a_compiled_d_refuses_double_backward() -> None:
    """What ``uncompiled`` is for (if torch ever supports this, the detour can go)."""
    d = critic()
    d.compile(backend=QUICK)
    x = torch.randn(3, 1, 6, 6, requires_grad=True)
    (grad,) = torch.autograd.grad(d(x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="double backward"):
        grad.square().sum().backward()
    (grad,) = torch.autograd.grad(uncompiled(d)(x).sum(), x, create_graph=True)
    grad.square().sum().backward()


@pytest.mark.parametrize("variant", ["wgan_gp", "r3gan", "acgan_gp", "unrolled"])
def test_double_backward_variants_train_with_compiled_nets(variant: str) -> None:
    seed_everything(0)
    g, d = DCGANGenerator(latent_dim=8, width=4), DCGANDiscriminator(width=4, batch_norm=False)
    model: LightningModule
    if variant == "wgan_gp":
        model = WGANGP(g, d, n_critic=2)
    elif variant == "r3gan":
        model = R3GAN(g, d)  # R1 and R2, gamma 0.1
    elif variant == "acgan_gp":  # the penalty differentiates a method that calls D
        g = DCGANGenerator(latent_dim=8, width=4, num_classes=10)
        d = DCGANDiscriminator(width=4, batch_norm=False, outputs=11)
        model = ACGAN(10, g, d, regularisation=Regularisation(gradient_penalty=10.0))
    else:  # G's gradient goes through D's unrolled Adam steps: functional_call on the compiled D
        model = UnrolledGAN(g, d, unrolled_steps=1)
    run = trainer([CompileNets(backend=QUICK)], max_steps=6, log_every_n_steps=1)
    run.fit(model, tiny_images(n=24, batch_size=8))
    assert is_compiled(model.generator) and is_compiled(model.discriminator)
    assert compiled_frames() >= 2
    assert all(torch.isfinite(v) for k, v in run.callback_metrics.items() if k.startswith("train/"))
    if variant != "unrolled":
        assert torch.isfinite(run.callback_metrics["train/d_penalty"])


def test_compile_for_sampling_gives_the_samples_of_the_uncompiled_generator() -> None:
    seed_everything(0)
    model = tiny_dcgan(ema_decay=0.9)
    z = torch.randn(6, 8, generator=torch.Generator().manual_seed(0))
    expected = model.generate(z)
    net = compile_for_sampling(model.sampling_generator)  # inductor, for real
    assert net is model.sampling_generator is model.generator_ema.module and is_compiled(net)  # type: ignore[union-attr]
    assert torch.allclose(model.generate(z), expected, atol=1e-5)
    assert compiled_frames() >= 1
    assert list(model.state_dict()) == list(tiny_dcgan(ema_decay=0.9).state_dict())


def test_unknown_backends_and_modes_are_refused_before_training() -> None:
    with pytest.raises(ValueError, match="backend='nope'"):
        CompileNets(backend="nope")
    with pytest.raises(ValueError, match="fastest"):
        CompileNets(mode="fastest")
    with pytest.raises(ValueError, match="nope"):
        compile_for_sampling(nn.Linear(2, 2), backend="nope")


def test_which_nets_are_compiled() -> None:
    from lightning_gans.variants.cyclegan import CycleGAN

    cyclegan = CycleGAN()
    assert CompileNets().net_names(cyclegan) == ["generator", "generator_ba", "discriminator", "discriminator_a"]
    assert CompileNets(discriminator=False).net_names(cyclegan) == ["generator", "generator_ba"]
    assert CompileNets(generator=False).net_names(tiny_dcgan()) == ["discriminator"]

    class NoNets(LightningModule):
        pass

    with pytest.warns(UserWarning, match="none of the nets"):
        CompileNets().on_train_start(None, NoNets())  # type: ignore[arg-type]

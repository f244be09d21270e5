"""Contract checks for the parts a plugin adds: run them in your own tests.

    from lightning_gans.testing import check_discriminator, check_generator, check_loss, check_variant

    def test_my_generator():
        check_generator(MyGenerator(latent_dim=8))

Each check raises ``AssertionError`` saying which rule a part breaks; lightning-gans' own contract tests
(tests/test_contracts.py) run them over every registered part, so a plugin that passes them plugs into the
recipes, the callbacks, checkpoints and ``lightning-gans evaluate`` as the built-in parts do.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningDataModule, LightningModule, Trainer, seed_everything
from torch import Tensor, nn

from lightning_gans.callbacks.checkpoint import LAST_NAME, LastCheckpoint
from lightning_gans.checkpoints import read_checkpoint
from lightning_gans.core.guards import check_scores
from lightning_gans.core.module import GenerativeModule, real_samples
from lightning_gans.core.translation import TranslationModule
from lightning_gans.losses.base import AdversarialLoss

__all__ = [
    "check_datamodule",
    "check_discriminator",
    "check_generator",
    "check_loss",
    "check_text_encoder",
    "check_variant",
]


def _finite(x: Tensor, what: str) -> None:
    assert torch.isfinite(x).all(), f"{what} has NaN or infinite values"


def _check_gradients(net: nn.Module, output: str) -> None:
    """After a backward pass: every trainable parameter has a gradient, except exactly those the net declares
    unused in its current configuration."""
    declared = getattr(net, "unused_parameters", None)
    unused = set(declared()) if callable(declared) else set()
    untouched = {n for n, p in net.named_parameters() if p.requires_grad and p.grad is None}
    missing, wrongly_declared = sorted(untouched - unused), sorted(unused - untouched)
    assert not missing, f"parameters that get no gradient from the {output}: {missing[:5]}"
    assert not wrongly_declared, f"unused_parameters() names parameters that do get one: {wrongly_declared[:5]}"


def check_generator(generator: nn.Module, inputs: Tensor | None = None, batch_size: int = 3) -> Tensor:
    """A latent-space generator: an integer ``latent_dim``, optional ``num_classes`` or ``text_dim``;
    ``forward(z)`` (or ``forward(z, labels)``, or ``forward(z, caption_embeddings)``) gives ``batch_size`` finite
    samples, deterministic in eval mode, with gradients to every trainable parameter (but those its
    ``unused_parameters()`` names, if it has that method: a growing net's layers for other resolutions). An
    image-to-image generator is given its input images as ``inputs``. Returns the samples (in eval mode)."""
    if inputs is None:
        latent_dim = getattr(generator, "latent_dim", None)
        assert isinstance(latent_dim, int) and latent_dim >= 1, "a generator has a positive int attribute latent_dim"
        num_classes = getattr(generator, "num_classes", 0)
        assert isinstance(num_classes, int) and num_classes >= 0, "num_classes, if any, is a non-negative int"
        z = torch.randn(batch_size, latent_dim)
        text_dim = getattr(generator, "text_dim", 0)  # a text-to-image generator takes caption embeddings
        arguments = (z, torch.arange(batch_size) % num_classes) if num_classes else (z,)
        if text_dim:
            arguments = (z, torch.randn(batch_size, text_dim))
    else:
        batch_size, arguments = len(inputs), (inputs,)
    generator.train()
    samples = generator(*arguments)
    assert isinstance(samples, Tensor) and samples.shape[0] == batch_size, "one sample per latent vector"
    _finite(samples, "the generator's samples")
    samples.float().square().mean().backward()
    _check_gradients(generator, "samples")
    generator.zero_grad(set_to_none=True)
    generator.eval()
    with torch.no_grad():
        made = generator(*arguments)
        assert torch.equal(made, generator(*arguments)), "eval mode must be deterministic"
    return made  # type: ignore[no-any-return]


def check_discriminator(discriminator: nn.Module, samples: Tensor) -> Tensor:
    """One raw score per sample (or ``outputs`` per sample, or a map with ``score_map = True``), finite, with
    gradients to the input (gradient penalties and R1 need them) and to every trainable parameter (but those
    its ``unused_parameters()`` names, as for generators). One with ``text_dim`` is given caption embeddings too."""
    discriminator.train()
    inputs = samples.detach().clone().requires_grad_(True)
    text_dim = getattr(discriminator, "text_dim", 0)  # a text-to-image D judges (image, caption embedding) pairs
    text = torch.randn(len(inputs), text_dim, generator=torch.Generator().manual_seed(0)) if text_dim else None
    scores = discriminator(inputs) if text is None else discriminator(inputs, text)
    assert isinstance(scores, Tensor), "a discriminator returns a tensor of raw scores"
    check_scores(scores, inputs, discriminator)
    _finite(scores, "the discriminator's scores")
    (grad,) = torch.autograd.grad(scores.float().sum(), inputs, retain_graph=True)
    assert grad.abs().sum() > 0, "the scores must depend on the input (gradient penalties differentiate them)"
    scores.float().sum().backward()
    _check_gradients(discriminator, "scores")
    discriminator.zero_grad(set_to_none=True)
    return scores.detach()


def check_loss(loss: AdversarialLoss, batch_size: int = 6) -> None:
    """Scalar, finite losses on per-sample logits and on score maps; the generator's loss has a gradient
    with respect to the fake logits, takes the real logits when the loss is ``relativistic`` (and then
    depends on them) and ``None`` otherwise; neither loss changes its inputs."""
    assert isinstance(loss, AdversarialLoss), "a loss subclasses lightning_gans.losses.base.AdversarialLoss"
    for shape in ((batch_size,), (batch_size, 1), (batch_size, 1, 3, 3)):
        real, fake = torch.randn(shape), torch.randn(shape, requires_grad=True)
        kept = real.clone(), fake.detach().clone()
        d_loss = loss.d_loss(real, fake)
        g_loss = loss.g_loss(real if loss.relativistic else None, fake)
        for name, value in (("d_loss", d_loss), ("g_loss", g_loss)):
            assert isinstance(value, Tensor) and value.dim() == 0, f"{name} is a scalar tensor (shape {shape})"
            _finite(value, name)
        (grad,) = torch.autograd.grad(g_loss, fake)
        assert grad.abs().sum() > 0, "g_loss must have a gradient with respect to the fake logits"
        assert torch.equal(real, kept[0]) and torch.equal(fake.detach(), kept[1]), "losses must not change inputs"
        if loss.relativistic:
            moved = loss.g_loss(real + torch.randn(shape), fake)  # not a constant shift: RaGAN/RpGAN ignore those
            assert not torch.allclose(moved, g_loss), "a relativistic g_loss depends on the real logits"
    for name, value in loss.scores(torch.randn(batch_size), torch.randn(batch_size)).items():
        assert value.dim() == 0 and math.isfinite(float(value)), f"{name} is a finite scalar"


def _first_batches(loaders: Any) -> list[Any]:
    """The first batch of each loader (a data module may return several, e.g. labelled and unlabelled)."""
    if isinstance(loaders, dict):
        loaders = list(loaders.values())
    return [next(iter(loader)) for loader in (loaders if isinstance(loaders, (list, tuple)) else [loaders])]


def check_text_encoder(encoder: nn.Module) -> Tensor:
    """A ``lightning_gans.text.TextEncoder``: finite embeddings (N, ``embedding_dim``) of N captions, the same for
    the same caption (in eval mode), different for different captions, with gradients to every trainable
    parameter. Returns the eval-mode embeddings of three captions."""
    from lightning_gans.text import TextEncoder

    assert isinstance(encoder, TextEncoder), "a text encoder subclasses lightning_gans.text.TextEncoder"
    captions = ["a dark wide pullover", "a light narrow sneaker", "a dark wide pullover"]
    encoder.train()
    embeddings = encoder(captions)
    shape = getattr(embeddings, "shape", None)
    assert shape == (3, encoder.embedding_dim), f"3 captions must give (3, {encoder.embedding_dim}) embeddings: {shape}"
    _finite(embeddings, "the embeddings")
    if any(p.requires_grad for p in encoder.parameters()):
        embeddings.float().square().mean().backward()
        _check_gradients(encoder, "embeddings")
        encoder.zero_grad(set_to_none=True)
    encoder.eval()
    with torch.no_grad():
        embeddings = encoder(captions)
    assert torch.allclose(embeddings[0], embeddings[2]), "the same caption must give the same embedding in eval mode"
    assert not torch.allclose(embeddings[0], embeddings[1]), "different captions must give different embeddings"
    return embeddings


def check_datamodule(make_datamodule: Callable[[], LightningDataModule]) -> list[Any]:
    """Train and validation loaders that yield batches whose samples (the first element of a tuple batch)
    are finite tensors, the same first batches for the same seed (exact resume depends on it). Returns the
    first training batch of each training loader."""
    runs = []
    for _ in range(2):
        seed_everything(0)
        datamodule = make_datamodule()
        datamodule.setup("fit")
        train, val = _first_batches(datamodule.train_dataloader()), _first_batches(datamodule.val_dataloader())
        for name, batch in [("train", b) for b in train] + [("val", b) for b in val]:
            first = real_samples(batch)
            assert isinstance(first, Tensor) and first.dim() >= 2, f"{name} batches hold a tensor of samples"
            _finite(first.float(), f"the {name} samples")
        runs.append(train)
    for a, b in zip(*runs):
        assert torch.equal(real_samples(a), real_samples(b)), "the first training batch must not change with the run"
    return runs[0]


def _fit(
    make_variant: Callable[[], LightningModule],
    make_datamodule: Callable[[], LightningDataModule],
    root: Path,
    epochs: int,
    batches: int,
    ckpt_path: str | None = None,
) -> tuple[LightningModule, Trainer]:
    seed_everything(0)
    model = make_variant()
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=epochs,
        limit_train_batches=batches,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
        callbacks=[LastCheckpoint(dirpath=str(root / "checkpoints"))],  # last.ckpt, with the global RNG states
    )
    trainer.fit(model, make_datamodule(), ckpt_path=ckpt_path)
    return model, trainer


def _outputs(model: LightningModule, batch: Any) -> Tensor:
    if isinstance(model, GenerativeModule):
        return model.sample(4, seed=0)
    if isinstance(model, TranslationModule):
        return model.translate(batch[0][:4])
    raise AssertionError(f"{type(model).__name__} is neither a GenerativeModule nor a TranslationModule")


def check_variant(
    make_variant: Callable[[], LightningModule],
    make_datamodule: Callable[[], LightningDataModule],
    root: Path,
    batches: int = 2,
) -> dict[str, float]:
    """A variant trains, validates, samples, survives a checkpoint round trip and resumes exactly.

    Fits one epoch of ``batches`` batches (``LastCheckpoint`` writes ``last.ckpt`` at its end, as in every
    recipe); resumes from it to a second epoch and compares every weight, buffer and step count with an
    uninterrupted two-epoch fit (so the variant must draw its training noise from ``noise_generator`` and its
    validation must not consume it); then validates (a non-empty dict of finite ``val/*`` values, returned)
    and rebuilds the trained module from a fresh one and the checkpoint's ``state_dict``, comparing samples
    (or translations).
    ``make_variant`` and ``make_datamodule`` build new, small instances.
    """
    _fit(make_variant, make_datamodule, root / "first", 1, batches)
    halfway = root / "first/checkpoints" / LAST_NAME
    resumed, resumed_trainer = _fit(make_variant, make_datamodule, root / "resumed", 2, batches, str(halfway))
    straight, _ = _fit(make_variant, make_datamodule, root / "straight", 2, batches)
    a, b = resumed.state_dict(), straight.state_dict()
    assert a.keys() == b.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f"resuming from a checkpoint did not reproduce the uninterrupted run: {differ[:5]}"
    for counter in ("generator_steps", "discriminator_steps"):
        assert getattr(resumed, counter, 0) == getattr(straight, counter, 0), f"{counter} differs after resume"

    metrics = resumed_trainer.validate(resumed, make_datamodule(), verbose=False)
    values = {k: float(v) for k, v in (metrics[0] if metrics else {}).items()}
    assert values, "validation logged nothing: a variant logs val/* values (GANModule's default does)"
    assert all(math.isfinite(v) for v in values.values()), f"non-finite validation values: {values}"

    final = root / "final.ckpt"
    resumed_trainer.save_checkpoint(final)
    checkpoint = read_checkpoint(final)
    rebuilt = make_variant()
    rebuilt.load_state_dict(checkpoint["state_dict"])
    rebuilt.on_load_checkpoint(checkpoint)
    datamodule = make_datamodule()
    datamodule.setup("fit")
    batch = next(iter(datamodule.val_dataloader()))
    made, remade = _outputs(resumed.eval(), batch), _outputs(rebuilt.eval(), batch)
    _finite(made, "the samples")
    assert torch.equal(made, remade), "a module rebuilt from the checkpoint's state_dict samples differently"
    return values

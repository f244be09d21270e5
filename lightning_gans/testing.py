"""Contract checks for the parts a plugin adds: run them in your own tests.

    from lightning_gans.testing import check_discriminator, check_generator, check_loss, check_variant

    def test_my_generator():
        check_generator(MyGenerator(latent_dim=8))

Each check raises ``AssertionError`` saying which rule a part breaks; lightning-gans' own contract tests
(tests/test_contracts.py) run them over every registered part, so a plugin that passes them plugs into the
recipes, the callbacks, checkpoints and ``lightning-gans evaluate`` as the built-in parts do.

The builders that ``check_datamodule`` and ``check_variant`` take are callables returning a new, small instance
each time (``lambda: MyVariant(generator=MyGenerator(width=8))``): the checks build several and train them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer, seed_everything
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel
from torch.overrides import TorchFunctionMode

from lightning_gans.callbacks.checkpoint import LAST_NAME, LastCheckpoint
from lightning_gans.callbacks.compile import CompileNets
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
    # backward() on a tensor without a graph raises a bare RuntimeError ("does not require grad"): say the rule
    assert samples.requires_grad, (
        "the generator's samples must be differentiable in its parameters (G learns through D's scores of them): "
        "forward() detaches them, or makes them under torch.no_grad()"
    )
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
    assert scores.requires_grad, (
        "the discriminator's scores must be differentiable (D learns through them, and gradient penalties "
        "differentiate them with respect to the input): forward() detaches them, or runs under torch.no_grad()"
    )
    # allow_unused: a D that detaches its input gets None here, not torch's bare RuntimeError
    (grad,) = torch.autograd.grad(scores.float().sum(), inputs, retain_graph=True, allow_unused=True)
    assert grad is not None and grad.abs().sum() > 0, (
        "the scores must depend on the input, with a gradient to it (gradient penalties and R1 differentiate "
        "them): forward() detaches its input, or the scores ignore it"
    )
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
        real, fake = torch.randn(shape, requires_grad=True), torch.randn(shape, requires_grad=True)
        kept = real.detach().clone(), fake.detach().clone()
        d_loss = loss.d_loss(real, fake)
        g_loss = loss.g_loss(real if loss.relativistic else None, fake)
        for name, value in (("d_loss", d_loss), ("g_loss", g_loss)):
            assert isinstance(value, Tensor) and value.dim() == 0, f"{name} is a scalar tensor (shape {shape})"
            _finite(value, name)
        # each checked before differentiating: torch's own error for a detached loss names no rule
        for name, value, logits in (("d_loss", d_loss, (real, fake)), ("g_loss", g_loss, (fake,))):
            assert value.requires_grad, (
                f"{name} must be differentiable in the logits (the variant backpropagates it): it is detached, "
                "made under torch.no_grad(), or built from .item() values"
            )
            grads = torch.autograd.grad(value, logits, retain_graph=True, allow_unused=True)
            assert all(g is not None for g in grads), f"{name} must depend on every logit it is given ({shape})"
        (grad,) = torch.autograd.grad(g_loss, fake)
        assert grad.abs().sum() > 0, "g_loss must have a gradient with respect to the fake logits"
        assert torch.equal(real.detach(), kept[0]) and torch.equal(fake.detach(), kept[1]), (
            "losses must not change inputs"
        )
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


def _check_image_range(batch: Any, split: str) -> None:
    """Images, the float ``(N, C, H, W)`` tensors of a batch (both of an image pair), lie in [-1, 1]: what the
    generators' tanh makes and what the metrics, grids and exports map to [0, 1]. Points and other vectors
    (``(N, d)``, as the 2-D mixtures on their ±4 grid) keep their own units."""
    tensors = batch if isinstance(batch, (tuple, list)) else [batch]
    for index, tensor in enumerate(tensors):
        if isinstance(tensor, Tensor) and tensor.is_floating_point() and tensor.dim() == 4:
            low, high = float(tensor.min()), float(tensor.max())
            where = f"element {index} of a {split} batch, images of shape {tuple(tensor.shape[1:])},"
            assert -1 <= low and high <= 1, (
                f"images lie in [-1, 1]: {where} spans [{low:.3g}, {high:.3g}] (map [0, 1] with x * 2 - 1, uint8 "
                "with x / 127.5 - 1)"
            )
            # torchvision's ToTensor gives [0, 1]: inside the range, but a whole batch without one dark pixel is
            # that mistake (a tanh generator would be trained towards half its range)
            assert low < 0 or high <= 0, (
                f"images lie in [-1, 1]: {where} spans [{low:.3g}, {high:.3g}], which looks like [0, 1] (torchvision's "
                "ToTensor): map it with x * 2 - 1, or Normalize((0.5,), (0.5,))"
            )


def check_datamodule(make_datamodule: Callable[[], LightningDataModule]) -> list[Any]:
    """Train and validation loaders that yield batches whose samples (the first element of a tuple batch)
    are finite tensors, images (``(N, C, H, W)`` floats) in [-1, 1], the same first batches for the same seed
    (exact resume depends on it). ``make_datamodule`` builds a new, small instance. Returns the first training
    batch of each training loader."""
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
            _check_image_range(batch, name)
        runs.append(train)
    for a, b in zip(*runs):
        assert torch.equal(real_samples(a), real_samples(b)), "the first training batch must not change with the run"
    return runs[0]


# Drawing noise without ``generator=``: what a training step must not do outside its nets. A net's own randomness
# (dropout, StyleGAN's noise inputs) runs inside a forward pass and is left alone.
_RANDOM_FUNCTIONS = {
    "torch": (
        torch,
        "rand rand_like randn randn_like randint randint_like randperm normal bernoulli multinomial poisson",
    ),
    "Tensor": (Tensor, "normal_ uniform_ bernoulli_ random_ exponential_ geometric_ cauchy_ log_normal_"),
    "F": (F, "dropout dropout1d dropout2d dropout3d alpha_dropout feature_alpha_dropout"),
}
GLOBAL_RANDOM: dict[Any, str] = {  # each function, and how a message names it
    getattr(owner, name): f"{prefix}.{name}"
    for prefix, (owner, names) in _RANDOM_FUNCTIONS.items()
    for name in names.split()
}


class _GlobalNoiseWatch(TorchFunctionMode):
    """Records the random draws from the global RNG that a training step makes outside any module's forward."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # modules whose forward is running (global forward hooks keep it)
        self.draws: list[str] = []

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
    ) -> Any:
        kwargs = kwargs or {}
        if self.depth == 0 and func in GLOBAL_RANDOM and kwargs.get("generator") is None:
            self.draws.append(GLOBAL_RANDOM[func])
        return func(*args, **kwargs)


class _TrainingStepWatch(Callback):
    """Watches each training batch (the variant's training step) for draws from the global RNG."""

    def __init__(self) -> None:
        self.mode = _GlobalNoiseWatch()
        self.active = False

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        self.mode.__enter__()
        self.active = True

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self.active:
            self.active = False
            self.mode.__exit__(None, None, None)


@contextmanager
def _watching_training_steps() -> Iterator[_TrainingStepWatch]:
    """A ``_TrainingStepWatch`` for one fit, with the global forward hooks that tell a net's own draws apart;
    everything is removed afterwards, also when the fit fails inside a step."""
    watch = _TrainingStepWatch()

    def enter(module: nn.Module, args: Any) -> None:
        watch.mode.depth += 1

    def leave(module: nn.Module, args: Any, output: Any) -> None:
        watch.mode.depth -= 1

    hooks = [
        nn.modules.module.register_module_forward_pre_hook(enter),
        nn.modules.module.register_module_forward_hook(leave, always_call=True),
    ]
    try:
        yield watch
    finally:
        watch.stop()
        for hook in hooks:
            hook.remove()


def _fit(
    make_variant: Callable[[], LightningModule],
    make_datamodule: Callable[[], LightningDataModule],
    root: Path,
    epochs: int,
    batches: int,
    ckpt_path: str | None = None,
    callbacks: list[Callback] | None = None,
) -> tuple[LightningModule, Trainer, dict[str, Tensor]]:
    """A fit on CPU; returns the module, the trainer and the generator's parameters as built."""
    seed_everything(0)
    model = make_variant()
    generator = getattr(model, "generator", None)
    built = {n: p.detach().clone() for n, p in generator.named_parameters()} if isinstance(generator, nn.Module) else {}
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
        # last.ckpt, with the global RNG states
        callbacks=[LastCheckpoint(dirpath=str(root / "checkpoints")), *(callbacks or [])],
    )
    trainer.fit(model, make_datamodule(), ckpt_path=ckpt_path)
    return model, trainer, built


def _outputs(model: LightningModule, batch: Any) -> Tensor:
    if isinstance(model, GenerativeModule):
        return model.sample(4, seed=0)
    if isinstance(model, TranslationModule):
        return model.translate(batch[0][:4])
    raise AssertionError(f"{type(model).__name__} is neither a GenerativeModule nor a TranslationModule")


def _check_generator_updates(model: LightningModule, built: dict[str, Tensor]) -> None:
    """G's parameters move only through counted steps (``update_generator``), and the EMA generator follows each."""
    generator = getattr(model, "generator", None)
    if not isinstance(generator, nn.Module):
        return
    moved = [n for n, p in generator.named_parameters() if n in built and not torch.equal(p.detach(), built[n])]
    steps = getattr(model, "generator_steps", 0)
    assert not moved or steps > 0, (
        f"the generator trained ({moved[0]} moved) but generator_steps is 0: step G with "
        "self.update_generator(g_opt, loss), which counts the steps (checkpoints and logs use them) and moves the "
        "EMA generator that sampling uses"
    )
    ema = getattr(model, "generator_ema", None)
    if isinstance(ema, AveragedModel):
        averaged = int(ema.n_averaged)
        assert averaged == steps, (
            f"the EMA generator was updated {averaged} times in {steps} generator steps: step G with "
            "self.update_generator(g_opt, loss), which moves the EMA after every step; otherwise samples, grids and "
            "exports come from the untrained average"
        )


def _check_compiled_training(
    make_variant: Callable[[], LightningModule], make_datamodule: Callable[[], LightningDataModule], root: Path
) -> None:
    """Training works with the nets compiled (``CompileNets``, with the quick ``aot_eager`` backend): a gradient
    penalty of one's own that calls D directly fails there, since compiled graphs cannot be differentiated twice."""
    if not hasattr(torch.compiler, "set_stance"):  # torch < 2.6: CompileNets refuses to run, nothing to check
        return
    torch._dynamo.reset()  # every check compiles new nets: the recompile limit would make later ones eager
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        # an extra fit, so it leaves the global RNGs as the checks before it did: a test building a module after
        # check_variant gets the same weights with or without this check
        with torch.random.fork_rng(devices=[]):
            _fit(make_variant, make_datamodule, root, 1, 1, callbacks=[CompileNets(backend="aot_eager")])
    except RuntimeError as error:
        if "double backward" in str(error):
            raise AssertionError(
                "a penalty that differentiates D twice (a gradient penalty, R1, R2) must call D through "
                "lightning_gans.regularisers.uncompiled, or use gradient_penalty / r1_penalty / r2_penalty from "
                "there: CompileNets compiles D, and compiled graphs do not support double backward "
                f"({error})"
            ) from error
        raise AssertionError(
            f"the variant trains eagerly but not with its nets compiled (CompileNets): {error}"
        ) from error
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        torch._dynamo.reset()


def check_variant(
    make_variant: Callable[[], LightningModule],
    make_datamodule: Callable[[], LightningDataModule],
    root: Path,
    batches: int = 2,
    compiled: bool = True,
) -> dict[str, float]:
    """A variant trains, validates, samples, survives a checkpoint round trip and resumes exactly.

    ``make_variant`` and ``make_datamodule`` build new, small instances (``lambda: MyVariant(...)``); ``root`` is
    a folder for the runs (pytest's ``tmp_path``).

    Fits one epoch of ``batches`` batches (``LastCheckpoint`` writes ``last.ckpt`` at its end, as in every
    recipe); resumes from it to a second epoch and compares every weight, buffer and step count with an
    uninterrupted two-epoch fit. Along the way it holds the variant to the rules that keep resume and sampling
    right:

    * a training step draws its noise from ``noise_generator`` (``sample_latent``, ``sample_labels``, or
      ``torch.randn(..., generator=self.noise_generator)``), never from the global RNG: that one is shared with
      every callback and is the same on every DDP process. The nets' own randomness (dropout) is exempt;
    * G's steps go through ``update_generator``: the generator's parameters never move without
      ``generator_steps`` counting, and an EMA generator is updated once per generator step;
    * validation does not consume the training noise (``noise_generator``'s state is unchanged by it);
    * with ``compiled`` (the default), one more short fit runs with the nets compiled (``CompileNets``, backend
      ``aot_eager``): a double-backward penalty must call D through ``lightning_gans.regularisers.uncompiled``.

    Then validates (a non-empty dict of finite ``val/*`` values, returned) and rebuilds the trained module from a
    fresh one and the checkpoint's ``state_dict``, comparing samples (or translations).
    """
    _fit(make_variant, make_datamodule, root / "first", 1, batches)
    halfway = root / "first/checkpoints" / LAST_NAME
    resumed, resumed_trainer, _ = _fit(make_variant, make_datamodule, root / "resumed", 2, batches, str(halfway))
    with _watching_training_steps() as watch:
        straight, _, built = _fit(make_variant, make_datamodule, root / "straight", 2, batches, callbacks=[watch])
    if isinstance(straight, GenerativeModule):  # the image-to-image modules have no noise_generator
        draws = sorted(set(watch.mode.draws))
        assert not draws, (
            f"the training step draws from the global RNG ({', '.join(draws)} without generator=): draw from the "
            "module's noise_generator (sample_latent, sample_labels, or torch.randn(..., "
            "generator=self.noise_generator, device=self.device)), which checkpoints save and each DDP process "
            "seeds apart"
        )
    _check_generator_updates(straight, built)
    a, b = resumed.state_dict(), straight.state_dict()
    assert a.keys() == b.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f"resuming from a checkpoint did not reproduce the uninterrupted run: {differ[:5]}"
    for counter in ("generator_steps", "discriminator_steps"):
        assert getattr(resumed, counter, 0) == getattr(straight, counter, 0), f"{counter} differs after resume"

    latent = resumed if isinstance(resumed, GenerativeModule) else None
    noise = latent.noise_generator.get_state() if latent is not None else None
    metrics = resumed_trainer.validate(resumed, make_datamodule(), verbose=False)
    if latent is not None and noise is not None:
        assert torch.equal(latent.noise_generator.get_state(), noise), (
            "validation consumed the training noise (noise_generator), so a run's training depends on how often it "
            "validates: draw validation latents with validation_latents(n, batch_idx), seeded by the batch"
        )
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
    if compiled:
        _check_compiled_training(make_variant, make_datamodule, root / "compiled")
    return values

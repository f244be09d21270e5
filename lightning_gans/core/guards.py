"""Checks that stop a run early and clearly instead of late and obscurely: non-finite losses, weights, buffers or
optimiser states (divergence), a first batch whose shapes the nets cannot have been meant for, and optimiser
settings that a resume would otherwise replace silently."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer


class TrainingDiverged(RuntimeError):
    """A loss, a weight, a buffer or an optimiser state became NaN or infinite. Raised before anything non-finite
    is checkpointed."""


class NonFiniteWatch:
    """Remembers, per loss, the first global step at which the loss was not finite.

    ``record`` runs on every backward pass and only queues device operations (a ``where`` on a one-element
    tensor), so on a GPU it adds no host-device synchronisation per step; ``first_bad`` reads the flags back
    (one synchronisation), which the module does on the steps the logger records and before every
    checkpoint.
    """

    def __init__(self) -> None:
        self.first_step: dict[str, Tensor] = {}

    def record(self, name: str, loss: Tensor, step: int) -> None:
        first = self.first_step.get(name)
        if first is None or first.device != loss.device:
            first = self.first_step[name] = torch.full((), -1, dtype=torch.long, device=loss.device)
        bad = ~torch.isfinite(loss.detach()).all()
        # a Python int is passed to the kernel as a scalar: no host-to-device copy
        self.first_step[name] = torch.where(bad & (first < 0), step, first)

    def first_bad(self) -> tuple[str, int] | None:
        """``(loss name, global step)`` of the earliest non-finite loss seen, or ``None``."""
        seen = [(int(step), name) for name, step in self.first_step.items()]
        bad = sorted((step, name) for step, name in seen if step >= 0)
        return (bad[0][1], bad[0][0]) if bad else None


def non_finite_samples(samples: Tensor) -> int:
    """How many samples (along the first dimension) hold a NaN or an infinity."""
    return int((~torch.isfinite(samples)).flatten(1).any(dim=1).sum())


def non_finite_tensors(named: Iterable[tuple[str, Tensor]]) -> list[str]:
    """Names of the floating-point tensors (weights, buffers, optimiser states) holding a NaN or an infinity.

    When all are finite this reads back one flag per device: a single host-device synchronisation on a GPU
    (optimisers keep their ``step`` counters on the CPU, which needs none), so it can run on every logging step.
    """
    tensors = [(name, t) for name, t in named if t.is_floating_point() or t.is_complex()]
    by_device: dict[torch.device, list[Tensor]] = {}
    for _, tensor in tensors:
        by_device.setdefault(tensor.device, []).append(torch.isfinite(tensor.detach()).all())
    if all(bool(torch.stack(flags).all()) for flags in by_device.values()):
        return []
    return [name for name, t in tensors if not bool(torch.isfinite(t.detach()).all())]


def optimizer_role(index: int, count: int) -> str:
    """How messages name optimiser ``index`` of ``count``: a pair is ``(generator, discriminator)``."""
    return ("generator", "discriminator")[index] if count == 2 else f"optimiser {index}"


def optimizer_state_tensors(
    optimizers: Sequence[Optimizer], parameter_names: dict[int, str]
) -> Iterator[tuple[str, Tensor]]:
    """Every tensor of the optimisers' states (Adam's ``exp_avg``, ``exp_avg_sq``, ``step``, ...), named for a
    message: ``the generator optimiser's exp_avg_sq of generator.net.0.weight``. ``parameter_names`` maps
    ``id(parameter)`` to its name in the module."""
    for index, optimizer in enumerate(optimizers):
        role = optimizer_role(index, len(optimizers))
        for parameter, state in optimizer.state.items():
            owner = parameter_names.get(id(parameter), "a parameter outside the module")
            for key, value in state.items():
                if isinstance(value, Tensor):
                    yield f"the {role} optimiser's {key} of {owner}", value


Settings = list[list[dict[str, Any]]]


def optimizer_settings(optimizers: Sequence[Optimizer]) -> Settings:
    """Each optimiser's per-group settings (learning rate, betas, ...), without the parameters."""
    plain = (int, float, bool, str, tuple, type(None))
    return [
        [{k: v for k, v in group.items() if k != "params" and isinstance(v, plain)} for group in opt.param_groups]
        for opt in optimizers
    ]


def reapply_optimizer_settings(optimizers: Sequence[Optimizer], configured: Settings, scheduled: bool) -> list[str]:
    """Put back the configured settings that a checkpoint's optimiser states replaced on resume (Lightning's
    restore keeps the checkpoint's silently); returns a line per change. With a learning-rate scheduler the
    settings are the scheduler's, so a change is refused."""
    changes = []
    for index, (optimizer, groups) in enumerate(zip(optimizers, configured)):
        name = optimizer_role(index, len(optimizers))
        for group, wanted in zip(optimizer.param_groups, groups):
            changed = {k: (group.get(k), v) for k, v in wanted.items() if group.get(k) != v}
            if changed and scheduled:
                raise ValueError(
                    f"the {name} optimiser's settings differ from the checkpoint's ({changed}), and a learning-rate "
                    "scheduler owns them: resume with the checkpoint's settings"
                )
            for key, (old, new) in changed.items():
                group[key] = new
                changes.append(f"resumed with the {name} optimiser's {key} = {new} (the checkpoint had {old})")
    return changes


def shape_text(shape: Iterable[int]) -> str:
    return "(" + ", ".join(str(int(d)) for d in shape) + ")"


def call_checked(net: nn.Module, inputs: Tensor | tuple[Tensor, ...], role: str) -> Tensor:
    """``net(*inputs)``; a shape error inside it (a convolution larger than its input, a layer of the wrong
    width) becomes a ``ValueError`` that says which net failed on which input shape."""
    args = inputs if isinstance(inputs, tuple) else (inputs,)
    try:
        out: Tensor = net(*args)
    except RuntimeError as error:
        raise ValueError(
            f"the {role} ({type(net).__name__}) cannot take the data's inputs of shape "
            f"{shape_text(args[0].shape[1:])}: {error}. Set its image_size/channels (model.{role}.init_args) to "
            "the data's."
        ) from error
    return out


def check_same_sample_shape(made: Tensor, data: Tensor, generator: nn.Module, data_key: str = "the data") -> None:
    """The generator's samples must have the shape of the data's samples (batch dimension aside)."""
    if made.shape[1:] != data.shape[1:]:
        raise ValueError(
            f"the generator ({type(generator).__name__}) makes samples of shape {shape_text(made.shape[1:])}, but "
            f"{data_key} has samples of shape {shape_text(data.shape[1:])}. Make them agree: set the generator's "
            "image_size/channels (model.generator.init_args) to the data's, or the data's image_size "
            "(data.init_args.image_size) to the generator's."
        )


def check_scores(
    scores: Tensor, inputs: Tensor, discriminator: nn.Module, uses: int | None = None, variant: str = "the variant"
) -> None:
    """A discriminator gives one score per input, ``outputs`` per input (multi-head discriminators such as
    ACGAN's declare ``outputs``), or a per-patch map when it declares ``score_map = True`` (PatchGAN).

    ``uses``: how many scores per input ``variant`` reads; a discriminator built with another ``outputs`` is
    refused, since the variant's loss would silently take them all as one score each. ``None`` (checking a part
    on its own) takes the discriminator's ``outputs``."""
    name, n = type(discriminator).__name__, len(inputs)
    if scores.dim() == 0 or scores.shape[0] != n:
        raise ValueError(
            f"the discriminator ({name}) gave scores of shape {shape_text(scores.shape)} for {n} inputs: it must "
            "give one score per input"
        )
    if getattr(discriminator, "score_map", False):
        return
    per_input = scores[0].numel()
    expected = int(getattr(discriminator, "outputs", 1))
    if uses is not None and expected != uses:
        count = "one score" if uses == 1 else f"{uses} scores"
        raise ValueError(
            f"the discriminator ({name}) is built with outputs = {expected}, but {variant} uses {count} per "
            f"input: set model.discriminator.init_args.outputs to {uses}, or drop it (several outputs are for the "
            "variants whose discriminator has several heads, such as acgan and infogan)"
        )
    if per_input != expected:
        raise ValueError(
            f"the discriminator ({name}) gives {per_input} scores per input (shape {shape_text(scores.shape)}) "
            f"where {expected} was expected: it was built for another input size than the data's "
            f"{shape_text(inputs.shape[1:])}. Set its image_size/channels (model.discriminator.init_args) to the "
            "data's."
        )

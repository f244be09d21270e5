"""A callback the DDP equivalence test adds to a one-process run: the module's training noise becomes that of
``world`` DDP ranks at once, so the one process can be compared with the ranks themselves.

Under DDP, rank r draws its noise from its own stream (``GenerativeModule.noise_generator``, seeded
``noise_seed + r``) for its own block of the global batch. The one process here trains on the summed batch, rank
0's block first (``EpochSeededSampler``), so every draw of n values from its noise generator is replaced by
rank 0's draw of n / world values, then rank 1's, and so on: each sample gets the very noise it gets in the DDP
run, and the real training code path is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer


class EmulateRanks(Callback):
    def __init__(self, world: int = 2) -> None:
        self.world = world
        self.marker = torch.Generator()  # the module's noise generator while emulating: never drawn from
        self.ranks: list[torch.Generator] = []
        self.originals: dict[str, Callable[..., torch.Tensor]] = {}

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        seed = pl_module._noise_seed
        self.ranks = [torch.Generator().manual_seed(seed + rank) for rank in range(self.world)]
        pl_module._noise = self.marker
        for name in ("randn", "rand", "randint"):
            self.originals[name] = getattr(torch, name)
            setattr(torch, name, self.split(name))

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        for name, original in self.originals.items():
            setattr(torch, name, original)

    def split(self, name: str) -> Callable[..., torch.Tensor]:
        original = self.originals[name]

        def draw(*args: Any, generator: torch.Generator | None = None, **kwargs: Any) -> torch.Tensor:
            if generator is not self.marker:
                return original(*args, generator=generator, **kwargs)
            bounds, size = (args[:-1], tuple(args[-1])) if name == "randint" else ((), sizes(args))
            if not size or size[0] % self.world:
                raise AssertionError(f"torch.{name} of size {size} cannot be split between {self.world} ranks")
            part = (size[0] // self.world, *size[1:])
            return torch.cat([original(*bounds, part, generator=rank, **kwargs) for rank in self.ranks])

        return draw


def sizes(args: tuple[Any, ...]) -> tuple[int, ...]:
    """The size of ``torch.randn(2, 3)`` or ``torch.randn((2, 3))``."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list, torch.Size)) else tuple(args)

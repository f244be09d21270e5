"""``torch.compile`` for the generator's and the discriminator's forward passes while training.

``nn.Module.compile`` compiles a net's ``__call__`` in place: the module object, its parameter names and its
``state_dict`` keys stay what they were (no ``_orig_mod.`` prefix, as ``torch.compile(net)`` would add), so the
optimisers built from its parameters keep working and a checkpoint of a compiled run loads into a module that was
never compiled, and back.

What is compiled is the net's own call, ``net(x)``. Code that calls a net's methods or submodules directly runs
eagerly: StyleGAN's training calls ``generator.synthesis``, so there only sampling (``generator(z)``) is compiled.
The double-backward penalties (gradient penalty, R1, R2 and the unrolled GAN's look-ahead) run D eagerly on
purpose, through ``lightning_gans.regularisers.uncompiled``: compiled graphs do not support double backward.
"""

from __future__ import annotations

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import nn

from lightning_gans.sampling import check_compile_options

GENERATORS = ("generator", "generator_ba")  # CycleGAN's second generator is F: B -> A
DISCRIMINATORS = ("discriminator", "discriminator_a")  # ...and its second discriminator D_A


class CompileNets(Callback):
    """Compile the generator(s) and the discriminator(s) with ``torch.compile`` (Ansel et al. 2024, "PyTorch 2:
    Faster Machine Learning Through Dynamic Python Bytecode Transformation and Graph Compilation") for ``fit``.

    The nets are compiled in place with ``nn.Module.compile`` at ``on_train_start``: after the checkpoint (if
    any) is restored, after the module's early data check (``on_fit_start`` runs the nets once in eval mode on
    a first batch; compiling that graph would cost a compilation for one call, and the check turns a
    ``RuntimeError`` into "the net cannot take the data's inputs", which a compiler error is not) and after the
    sanity-check validation. Compiled nets keep their parameter names and ``state_dict`` keys, so checkpoints of
    a compiled run load without compiling, and resuming works with or without this callback. The nets stay
    compiled after ``fit``.

    Which nets: ``generator`` (and CycleGAN's ``generator_ba``) and ``discriminator`` (and CycleGAN's
    ``discriminator_a``), those that the module has; the translation variants have ``generator`` and
    ``discriminator`` like the GANs. The EMA generator (``generator_ema``) is not compiled: it runs only for
    sample grids and evaluation, in eval mode without gradients, where one more compilation (tens of seconds on
    a CPU) is rarely paid back; ``lightning_gans.sampling.compile_for_sampling`` compiles it (or whichever net
    sampling uses) for the ``sample`` command.

    The gradient penalties (WGAN-GP, R1, R2) and the unrolled GAN differentiate D twice, which compiled graphs do
    not support: they run D eagerly (``lightning_gans.regularisers.uncompiled``), the other D calls compiled.

    Expect a few compilations in the first steps: D is compiled once with its parameters trainable (D step) and
    once frozen (G step, ``toggled_optimizer``), once more in eval mode at the first validation, and a last
    batch of another size may recompile (``dynamic``).

    Args:
        generator: compile the generator(s).
        discriminator: compile the discriminator(s).
        mode: ``torch.compile``'s mode: ``None`` (its default), ``"default"``, ``"reduce-overhead"`` (CUDA
            graphs), ``"max-autotune"``, ``"max-autotune-no-cudagraphs"``.
        dynamic: ``torch.compile``'s ``dynamic``: ``None`` recompiles once with dynamic shapes when an input
            shape changes, ``True`` compiles dynamic shapes from the start, ``False`` never does.
        backend: ``torch.compile``'s backend: ``"inductor"`` (the default, which generates C++/OpenMP code on a
            CPU, so needs a C++ compiler, and Triton kernels on a GPU), ``"aot_eager"`` (traces without
            generating code: quick, for tests and debugging) or any other registered backend.
    """

    def __init__(
        self,
        generator: bool = True,
        discriminator: bool = True,
        mode: str | None = None,
        dynamic: bool | None = None,
        backend: str = "inductor",
    ) -> None:
        if not hasattr(torch.compiler, "set_stance"):
            raise RuntimeError(
                f"CompileNets needs torch >= 2.6 (torch.compiler.set_stance keeps the gradient penalties eager); this "
                f"is torch {torch.__version__}"
            )
        check_compile_options(backend, mode, dynamic)
        self.generator, self.discriminator = generator, discriminator
        self.mode, self.dynamic, self.backend = mode, dynamic, backend
        self.compiled: list[str] = []  # the attribute names compiled by the last fit

    @property
    def wanted(self) -> tuple[str, ...]:
        """The attribute names of the chosen kinds of net."""
        return (GENERATORS if self.generator else ()) + (DISCRIMINATORS if self.discriminator else ())

    def net_names(self, pl_module: LightningModule) -> list[str]:
        """The attributes of ``pl_module`` this callback compiles: the chosen kinds, those that are modules."""
        return [name for name in self.wanted if isinstance(getattr(pl_module, name, None), nn.Module)]

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.compiled = self.net_names(pl_module)
        for name in self.compiled:
            net: nn.Module = getattr(pl_module, name)
            net.compile(backend=self.backend, mode=self.mode, dynamic=self.dynamic)
        if self.compiled:
            rank_zero_info(f"CompileNets: compiled {', '.join(self.compiled)} (backend {self.backend})")
        elif self.wanted:
            rank_zero_warn(
                f"CompileNets: {type(pl_module).__name__} has none of the nets it compiles ({', '.join(self.wanted)}); "
                "training runs uncompiled"
            )


def is_compiled(net: nn.Module) -> bool:
    """Whether ``net.compile(...)`` (``nn.Module.compile``) has compiled ``net``'s call."""
    return getattr(net, "_compiled_call_impl", None) is not None

"""Errors and help texts the command line shares with the library, in a module that imports nothing heavy
(``lightning-gans --help`` and ``list`` must not wait for torch)."""

from __future__ import annotations

TRUST_HELP = (
    "Load checkpoints (a local file or a URL) with full pickle and import any class they name. A "
    "crafted checkpoint can then run arbitrary code on this machine: only for files from a source you trust. "
    "Without it, checkpoints hold tensors and plain values only."
)
TRUST_HINT = (
    "If you trust the file's source, --trust_checkpoint (Python: trust=True) loads it anyway; that runs its code."
)


class UntrustedCheckpointError(ValueError):
    """A checkpoint that would import or unpickle something outside lightning-gans' registry."""


class RunFolderError(ValueError):
    """A fit that would write over an earlier run, or resume one that is not there."""

"""Rebuilding a trained variant from a checkpoint written by ``lightning-gans fit``."""

from __future__ import annotations

from pathlib import Path

import torch

from lightning_gans.core.module import GenerativeModule
from lightning_gans.registry import import_class


def load_variant(path: str | Path, map_location: str = "cpu") -> GenerativeModule:
    """The variant saved in ``path``, in eval mode.

    The CLI stores the recipe's model config (``class_path``/``init_args``) as the checkpoint's
    hyper-parameters; Lightning rebuilds the nets from it, so this works for plugin parts too.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    hparams = torch.load(path, map_location="cpu", weights_only=True).get("hyper_parameters", {})
    class_path = hparams.get("_class_path")
    if not class_path:
        raise ValueError(
            f"{path} has no model class_path in its hyper-parameters: it was not written by `lightning-gans "
            "fit`. Load it in Python with YourVariant.load_from_checkpoint(path, generator=..., discriminator=...)."
        )
    model = import_class(class_path).load_from_checkpoint(path, map_location=map_location)
    if not isinstance(model, GenerativeModule):
        raise TypeError(
            f"{class_path} is not a GenerativeModule (a lightning-gans variant) with a generator to sample from"
        )
    return model.eval()

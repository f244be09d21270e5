"""Rebuilding a trained variant from a checkpoint written by ``lightning-gans fit``."""

from __future__ import annotations

from pathlib import Path

import torch

from lightning_gans.core.module import GenerativeModule, TrainingModule
from lightning_gans.core.translation import TranslationModule
from lightning_gans.registry import import_class


def load_module(path: str | Path, map_location: str = "cpu") -> TrainingModule:
    """The module saved in ``path`` by ``lightning-gans fit``, in eval mode.

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
    if not isinstance(model, TrainingModule):
        raise TypeError(f"{class_path} is not a lightning-gans variant")
    return model.eval()


def load_variant(path: str | Path, map_location: str = "cpu") -> GenerativeModule:
    """The generative variant (one that samples) saved in ``path``, in eval mode."""
    model = load_module(path, map_location)
    if isinstance(model, TranslationModule):
        raise TypeError(
            f"{type(model).__name__} translates images rather than sampling them: `lightning-gans translate --ckpt "
            f"{path}` applies it to your images, and `lightning-gans validate --config RUN/config.yaml --ckpt_path "
            f"{path}` reports its validation metrics"
        )
    if not isinstance(model, GenerativeModule):
        raise TypeError(f"{type(model).__name__} is not a GenerativeModule with a generator to sample from")
    return model


def load_translation(path: str | Path, map_location: str = "cpu") -> TranslationModule:
    """The image-to-image variant (pix2pix, cyclegan, srgan, ...) saved in ``path``, in eval mode."""
    model = load_module(path, map_location)
    if not isinstance(model, TranslationModule):
        raise TypeError(f"{type(model).__name__} is not an image-to-image variant (it has no translate)")
    return model

"""Reading checkpoints safely, and rebuilding a trained variant from one written by ``lightning-gans fit``.

A checkpoint may come from someone else, so by default nothing in it runs code:

* it is unpickled with ``weights_only=True``: tensors and plain values only, never arbitrary objects;
* the classes its hyper-parameters name (the variant, its nets, its loss, ...) are imported only when
  they are registered lightning-gans parts (built-in or from an installed plugin) or torch optimisers and
  schedulers, and so is any other dotted import path among its values.

``trust=True`` (the command line's ``--trust_checkpoint``) lifts both rules: the file may then run any
code on this machine, so it is only for files from a source you trust.
"""

from __future__ import annotations

import io
import pickle
import re
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from lightning_gans import registry
from lightning_gans.core.guards import non_finite_tensors
from lightning_gans.core.module import GenerativeModule, TrainingModule
from lightning_gans.core.translation import TranslationModule
from lightning_gans.errors import TRUST_HINT, UntrustedCheckpointError
from lightning_gans.inference import LatentSampling
from lightning_gans.safety import check_imports, parser_imports_only

if TYPE_CHECKING:
    from lightning_gans.pretrained import PretrainedTranslator

# a Hugging Face Hub model id: "owner/name", without a file suffix (a missing local file stays "not found")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
CHECKPOINT_SUFFIXES = (".ckpt", ".pt", ".pth", ".safetensors", ".json", ".yaml")
# how torch.save's files begin: a zip archive (since torch 1.6), or a pickle (the legacy format)
CHECKPOINT_MAGIC = (b"PK\x03\x04", b"\x80")


def is_pretrained_source(source: str | Path) -> bool:
    """Whether ``source`` names an exported generator folder or a Hub model id (``lightning_gans.pretrained``)
    rather than a checkpoint file."""
    path = Path(source)
    if path.is_dir():
        return True
    text = str(source)
    return not path.exists() and HUB_ID.match(text) is not None and not text.endswith(CHECKPOINT_SUFFIXES)


def read_checkpoint(path: str | Path, trust: bool = False) -> dict[str, Any]:
    """The checkpoint at ``path`` as a dict, unpickled with ``weights_only=True`` unless ``trust``.

    Raises ``FileNotFoundError``, ``UntrustedCheckpointError`` or ``ValueError``, each naming the file.
    """
    return read_checkpoint_bytes(_file_bytes(path), path, trust)


def _file_bytes(path: str | Path) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return path.read_bytes()


def read_checkpoint_bytes(data: bytes, name: str | Path, trust: bool = False) -> dict[str, Any]:
    if not data.startswith(CHECKPOINT_MAGIC):
        raise ValueError(f"{name} is not a PyTorch checkpoint: {_what_it_is(data, name)}")
    try:
        checkpoint = torch.load(io.BytesIO(data), map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as error:
        if "weights only" in str(error).lower() or "weights_only" in str(error):
            raise UntrustedCheckpointError(
                f"{name} holds pickled objects other than tensors and plain values, which could run code when "
                f"loaded, so it was not loaded. {TRUST_HINT}"
            ) from error
        raise ValueError(f"{name} is not a PyTorch checkpoint, or it is damaged: {error}") from error
    except Exception as error:  # torch's reader fails in many ways on a damaged file (IndexError on text)
        raise ValueError(f"{name} is not a PyTorch checkpoint, or it is damaged: {error}") from error
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{name} holds a {type(checkpoint).__name__}, not a Lightning checkpoint (a dict)")
    return checkpoint


def _what_it_is(data: bytes, name: str | Path) -> str:
    """What a file that is no checkpoint seems to be, for the error that says so."""
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "its first bytes are neither a zip archive (torch.save) nor a pickle"
    if Path(name).name == "config.yaml":
        return "it is a run's config; the checkpoints are in the run's checkpoints/ folder (checkpoints/last.ckpt)"
    if Path(name).suffix in (".yaml", ".yml", ".json"):
        return "it is a text file (a config?); pass a .ckpt written by `lightning-gans fit`, or an exported folder"
    return "it is a text file"


def state_tensors(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Every tensor a resumed run must reproduce, flat: the module's state (weights, EMA, batch-norm buffers)
    and the optimisers' states, plus the step counters; for checking that a resume was exact."""
    flat = {f"model.{k}": v for k, v in checkpoint["state_dict"].items()}
    for i, optimizer in enumerate(checkpoint.get("optimizer_states", [])):
        for param, values in optimizer["state"].items():
            flat.update({f"optimizer{i}.{param}.{k}": torch.as_tensor(v) for k, v in values.items()})
    flat["global_step"] = torch.tensor(checkpoint["global_step"])
    flat.update({k: torch.tensor(v) for k, v in checkpoint.get("lightning_gans", {}).items() if k.endswith("_steps")})
    return flat


def load_module(path: str | Path, map_location: str = "cpu", trust: bool = False) -> TrainingModule:
    """The module saved in ``path`` by ``lightning-gans fit``, in eval mode, loaded without running code
    from the file (see the module docstring; ``trust=True`` lifts that).

    The CLI stores the recipe's model config (``class_path``/``init_args``) as the checkpoint's
    hyper-parameters; Lightning rebuilds the nets from it, so this works for plugin parts too.
    """
    data = _file_bytes(path)
    hparams = read_checkpoint_bytes(data, path, trust).get("hyper_parameters") or {}
    class_path = hparams.get("_class_path")
    if not class_path:
        raise ValueError(
            f"{path} has no model class_path in its hyper-parameters: it was not written by `lightning-gans "
            "fit`. Load it in Python with YourVariant.load_from_checkpoint(path, generator=..., discriminator=...)."
        )
    approved = set() if trust else check_imports(hparams, path)
    cls = registry.class_at(class_path)  # a registered one (checked): a broken plugin is named with its distribution
    if not (isinstance(cls, type) and issubclass(cls, TrainingModule)):
        raise TypeError(f"{path}: {class_path} is not a lightning-gans variant")
    # the parse that rebuilds the nets from the hyper-parameters may import the approved paths only
    with nullcontext() if trust else parser_imports_only(approved, path):
        model = cls.load_from_checkpoint(io.BytesIO(data), map_location=map_location, weights_only=not trust)
    # buffers too: an infinite batch-norm running_var samples all-identical images with finite weights
    broken = non_finite_tensors(model.state_dict().items())
    if broken:
        raise ValueError(
            f"{path} holds NaN or infinite weights or buffers ({', '.join(broken[:3])}"
            f"{', ...' if len(broken) > 3 else ''}): the training that wrote it had diverged. Use an earlier "
            "checkpoint."
        )
    return model.eval()


def load_variant(path: str | Path, map_location: str = "cpu", trust: bool = False) -> LatentSampling:
    """The generative variant (one that samples) saved in ``path``, in eval mode; or the generator of an exported
    folder or Hub model repo (``lightning_gans.pretrained``), which is never unpickled."""
    if is_pretrained_source(path):
        from lightning_gans.pretrained import PretrainedGenerator, from_pretrained

        pretrained = from_pretrained(path, map_location=map_location)
        if not isinstance(pretrained, PretrainedGenerator):
            raise TypeError(
                f"{path} holds an image-to-image generator: `lightning-gans translate --ckpt {path}` applies it"
            )
        return pretrained
    model = load_module(path, map_location, trust)
    if isinstance(model, TranslationModule):
        raise TypeError(
            f"{type(model).__name__} translates images rather than sampling them: `lightning-gans translate --ckpt "
            f"{path}` applies it to your images, and `lightning-gans validate --config RUN/config.yaml --ckpt_path "
            f"{path}` reports its validation metrics"
        )
    if not isinstance(model, GenerativeModule):
        raise TypeError(f"{type(model).__name__} is not a GenerativeModule with a generator to sample from")
    return model


def load_translation(
    path: str | Path, map_location: str = "cpu", trust: bool = False
) -> TranslationModule | PretrainedTranslator:
    """The image-to-image variant (pix2pix, cyclegan, srgan, ...) saved in ``path``, in eval mode; or the
    generator of an exported folder or Hub model repo."""
    if is_pretrained_source(path):
        from lightning_gans.pretrained import PretrainedTranslator, from_pretrained

        pretrained = from_pretrained(path, map_location=map_location)
        if not isinstance(pretrained, PretrainedTranslator):
            raise TypeError(f"{path} holds a generator that samples, not one that translates images")
        return pretrained
    model = load_module(path, map_location, trust)
    if not isinstance(model, TranslationModule):
        raise TypeError(f"{type(model).__name__} is not an image-to-image variant (it has no translate)")
    return model

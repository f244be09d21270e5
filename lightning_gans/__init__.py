"""lightning-gans: the classic GAN variants as PyTorch Lightning modules, with a plugin registry.

Importing this package is cheap and imports no plugin: parts are looked up through the registry.

    >>> import lightning_gans
    >>> lightning_gans.list_variants()        # doctest: +SKIP
    ['dcgan', 'gan']
    >>> model = lightning_gans.create_variant("dcgan")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from lightning_gans import registry

__version__ = "0.1.0"


def list_variants() -> list[str]:
    return registry.variants.names()


def list_generators() -> list[str]:
    return registry.generators.names()


def list_discriminators() -> list[str]:
    return registry.discriminators.names()


def list_losses() -> list[str]:
    return registry.losses.names()


def list_datamodules() -> list[str]:
    return registry.datamodules.names()


def list_feature_networks() -> list[str]:
    return registry.feature_networks.names()


def list_text_encoders() -> list[str]:
    return registry.text_encoders.names()


def create_variant(name: str, **init_args: Any) -> Any:
    """Build a registered variant by name, e.g. ``create_variant("gan", n_critic=5)``."""
    return registry.variants.create(name, **init_args)


def from_pretrained(
    source: str,
    revision: str | None = None,
    cache_dir: str | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    map_location: str = "cpu",
) -> Any:
    """The trained generator in a folder written by ``lightning-gans export`` (or ``save_pretrained``), or in a
    Hugging Face Hub model repo of one (``"owner/name"``): ``lightning_gans.pretrained.from_pretrained``, imported
    only now (it needs torch and huggingface_hub, which ``import lightning_gans`` does not load)."""
    from lightning_gans.pretrained import from_pretrained as load

    return load(source, revision, cache_dir, local_files_only, token, map_location)


__all__ = [
    "__version__",
    "create_variant",
    "from_pretrained",
    "list_datamodules",
    "list_discriminators",
    "list_feature_networks",
    "list_generators",
    "list_losses",
    "list_text_encoders",
    "list_variants",
    "registry",
]

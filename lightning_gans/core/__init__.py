"""The shared base modules.

Imported lazily (PEP 562): ``lightning_gans.core.guards``, which the inference layer uses, must not import
Lightning through this package's ``__init__``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lightning_gans.core.guards import TrainingDiverged
    from lightning_gans.core.module import GANModule, GenerativeModule, adam_2e4_beta05, real_samples
    from lightning_gans.core.translation import TranslationModule

_MODULES = {
    "GANModule": "module",
    "GenerativeModule": "module",
    "TrainingDiverged": "guards",
    "TranslationModule": "translation",
    "adam_2e4_beta05": "module",
    "real_samples": "module",
}
__all__ = [
    "GANModule",
    "GenerativeModule",
    "TrainingDiverged",
    "TranslationModule",
    "adam_2e4_beta05",
    "real_samples",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)

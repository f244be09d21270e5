"""The shared recipe files (the W&B logger and the callback lists of ``recipes/_shared``), shipped in the package
and named from any recipe as ``lightning-gans:<file>``.

The repository's recipes include them by a path relative to themselves (``callbacks: _shared/callbacks.yaml``);
a plugin's recipe, or a recipe copied out of the repository, has no such folder beside it and would need an
absolute path into wherever lightning-gans is installed. ``trainer: {callbacks: lightning-gans:callbacks_2d.yaml}``
names the installed copy instead, the same on every machine.

The files ship as package data (``lightning_gans/recipes_shared``, a link to ``recipes/_shared``, so there is
one copy of each). The CLI's YAML loader hands every value it parses to ``shared_text``, which replaces a
reference by the file's text and leaves any other value as it is.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importlib.resources.abc is Python 3.11's; the project supports 3.10
    from importlib.resources.abc import Traversable

PREFIX = "lightning-gans:"
FOLDER = "recipes_shared"
REFERENCE = re.compile(rf"{re.escape(PREFIX)}([\w.-]+\.ya?ml)")


def shared_folder() -> Traversable:
    return resources.files("lightning_gans") / FOLDER


def shared_names() -> list[str]:
    """The files a recipe can name, e.g. ``callbacks_2d.yaml``."""
    return sorted(p.name for p in shared_folder().iterdir() if p.name.endswith((".yaml", ".yml")))


def shared_file(value: str) -> Traversable | None:
    """The shipped file that ``value`` (``lightning-gans:callbacks_2d.yaml``) names, or ``None`` when ``value`` is
    no such reference. An unknown file name raises ``FileNotFoundError`` listing the shipped ones."""
    match = REFERENCE.fullmatch(value.strip())
    if match is None:
        return None
    path = shared_folder() / match.group(1)
    if not path.is_file():
        raise FileNotFoundError(
            f"{value.strip()}: lightning-gans ships no shared recipe file {match.group(1)!r}; it ships "
            f"{', '.join(PREFIX + name for name in shared_names())}"
        )
    return path


def shared_text(value: str) -> str:
    """The YAML text a parsed value stands for: the shipped file's for a ``lightning-gans:<file>`` reference,
    ``value`` itself otherwise (the CLI's loader calls this on every value, so it only matches a whole value)."""
    path = shared_file(value)
    return value if path is None else path.read_text()

"""Shared test setup: offline W&B, no plugins from the developer's environment, tiny data."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

# Never reach the network or ask for a key, whatever the machine's settings.
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO / "recipes").glob("*.yaml"))


@pytest.fixture(autouse=True)
def fresh_registries() -> Iterator[None]:
    """Each test reads entry-point metadata anew, so faked distributions never leak between tests."""
    from lightning_gans import registry

    for reg in registry.REGISTRIES.values():
        reg.refresh()
    yield
    for reg in registry.REGISTRIES.values():
        reg.refresh()


class FakeDistributions:
    """Writes real ``*.dist-info`` metadata (and modules) into a folder on ``sys.path``.

    This is what pip leaves behind, so ``importlib.metadata`` finds these exactly as it finds installed
    plugins; nothing in the registry is patched.
    """

    def __init__(self, site: Path) -> None:
        self.site = site

    def add(self, name: str, entry_points: dict[str, dict[str, str]], modules: dict[str, str] | None = None) -> None:
        for module, source in (modules or {}).items():
            path = self.site.joinpath(*module.split(".")).with_suffix(".py")
            path.parent.mkdir(parents=True, exist_ok=True)
            for parent in path.relative_to(self.site).parents:
                if str(parent) != ".":
                    (self.site / parent / "__init__.py").touch()
            path.write_text(textwrap.dedent(source))
        info = self.site / f"{name.replace('-', '_')}-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        lines = []
        for group, entries in entry_points.items():
            lines.append(f"[{group}]")
            lines += [f"{key} = {value}" for key, value in entries.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture
def fake_dists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDistributions:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return FakeDistributions(site)

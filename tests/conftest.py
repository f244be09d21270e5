"""Shared test setup: offline W&B, no plugins from the developer's environment, tiny data."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Never reach the network or ask for a key, whatever the machine's settings.
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"

# Lightning gives its logger a StreamHandler bound to sys.stderr as it is when Lightning is first imported. Imported
# here, that is pytest's session-long capture; first imported inside a test using capsys, it would be that test's
# stream, closed when the test ends, and every later in-process run would print a "Logging error" traceback.
import lightning.pytorch  # noqa: E402, F401

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


def tiny_images(n: int = 80, batch_size: int = 8) -> Any:
    """``n`` random 1x28x28 images in [-1, 1] with labels 0..9 in turn, train and val alike: the data every
    built-in part's defaults are for (a ``GANDataModule``, so loaders are seeded and resumable)."""
    import torch
    from torch.utils.data import TensorDataset

    from lightning_gans.data.base import GANDataModule

    class TinyImages(GANDataModule):
        def __init__(self) -> None:
            super().__init__(batch_size, num_workers=0, seed=0)
            images = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
            self.train_set = self.val_set = TensorDataset(images, torch.arange(n) % 10)

    return TinyImages()


def tiny_captioned(n: int = 40, batch_size: int = 8, one_caption: str | None = None) -> Any:
    """``n`` random 1x28x28 images with captions of their label (0..9 in turn), or all with ``one_caption``:
    ``(images, captions, labels)`` batches, as the caption data modules give."""
    import torch

    from lightning_gans.data.base import GANDataModule
    from lightning_gans.data.captions import FASHION_NOUNS, CaptionedImages

    class TinyCaptioned(GANDataModule):
        def __init__(self) -> None:
            super().__init__(batch_size, num_workers=0, seed=0)
            images = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
            labels = torch.arange(n) % 10
            captions = [one_caption or f"a {'dark' if i % 3 else 'light'} {FASHION_NOUNS[int(k)]}"
                        for i, k in enumerate(labels)]  # fmt: skip
            self.train_set = self.val_set = CaptionedImages(images, captions, labels)

    return TinyCaptioned()


# -- running the command line ----------------------------------------------------------------------------
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}


def cli(*args: str) -> list[str]:
    """The command line as a subprocess command."""
    return [sys.executable, "-m", "lightning_gans", *args]


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``lightning-gans ARGS`` in this process: (exit status, stdout + stderr)."""
    from lightning_gans.cli import main

    try:
        code = main(args)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


TINY_RUN = """\
seed_everything: 0
trainer:
  default_root_dir: {root}
  max_epochs: {epochs}
  limit_train_batches: 12
  limit_val_batches: 1
  logger: false
  enable_progress_bar: false
  enable_model_summary: false
  callbacks:
    - class_path: lightning_gans.callbacks.LastCheckpoint
      init_args: {{every_minutes: {minutes}}}
model:
  class_path: dcgan
  init_args:
    generator: {{class_path: dcgan, init_args: {{latent_dim: 16, image_size: 28, width: 8}}}}
    discriminator: {{class_path: dcgan, init_args: {{image_size: 28, width: 8}}}}
    ema_decay: 0.99
data:
  class_path: fashion_mnist
  init_args: {{batch_size: 16}}
"""


def tiny_recipe(folder: Path, root: Path, epochs: int = 4, minutes: float = 0.0) -> Path:
    path = folder / f"{root.name}.yaml"
    path.write_text(TINY_RUN.format(root=root, epochs=epochs, minutes=minutes))
    return path


def finished_tiny_run(folder: Path) -> Path:
    """``folder/run``: a finished 1-epoch run of ``tiny_recipe`` (nets of width 8, EMA on), the base that crafted,
    exported and resumed files are made from."""
    root = folder / "run"
    subprocess.run(cli("fit", "--config", str(tiny_recipe(folder, root, epochs=1))), env=ENV, check=True,
                   capture_output=True)  # fmt: skip
    return root


class WritesMarker:
    """Unpickling this object creates a file: what a malicious checkpoint would do, harmlessly."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (str(self.marker),))  # type: ignore[return-value]


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

"""A plugin's recipe names the shared callback lists as ``lightning-gans:<file>``, the copy shipped in the package,
instead of an absolute path into wherever lightning-gans is installed."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, run_cli

from lightning_gans.shared_recipes import shared_names, shared_text

PLUGIN_RECIPE = """\
seed_everything: 0
trainer:
  default_root_dir: {root}
  logger: false
  callbacks: lightning-gans:callbacks_2d.yaml
model:
  class_path: gan
data:
  class_path: gaussian_mixture
"""


def test_every_shared_file_of_the_repository_is_named_from_the_package() -> None:
    assert shared_names() == sorted(p.name for p in (REPO / "recipes/_shared").glob("*.yaml"))
    for name in shared_names():
        assert shared_text(f"lightning-gans:{name}") == (REPO / "recipes/_shared" / name).read_text()


def test_other_values_are_left_alone_and_an_unknown_file_lists_the_shipped_ones() -> None:
    for value in ("auto", "ring", "_shared/callbacks.yaml", "lightning-gans", "x lightning-gans:callbacks.yaml"):
        assert shared_text(value) == value
    with pytest.raises(FileNotFoundError, match="ships no shared recipe file 'callbacks_3d.yaml'.*callbacks_2d.yaml"):
        shared_text("lightning-gans:callbacks_3d.yaml")


def test_a_recipe_outside_the_repository_includes_the_shared_callbacks_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = tmp_path / "plugin" / "recipe.yaml"
    recipe.parent.mkdir()
    recipe.write_text(PLUGIN_RECIPE.format(root=tmp_path / "run"))
    code, out = run_cli(["fit", "--config", str(recipe), "--print_config"], capsys)
    assert code == 0, out
    assert "lightning_gans.callbacks.ModeCoverageCallback" in out

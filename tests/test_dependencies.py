"""The lower bounds in pyproject.toml: real minimums, met by what is installed.

`nox -s tests_minimum` installs every dependency at its lower bound and runs the suite; there (it sets
LIGHTNING_GANS_MINIMUM_VERSIONS=1) the installed versions must be exactly the lower bounds.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import sys

import pytest
from conftest import REPO
from packaging.requirements import Requirement
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

DEPENDENCIES = [Requirement(d) for d in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]]
AT_MINIMUM = os.environ.get("LIGHTNING_GANS_MINIMUM_VERSIONS", "").strip().lower() not in ("", "0", "false", "no")


def lower_bound(requirement: Requirement) -> Version:
    bounds = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
    assert len(bounds) == 1, f"{requirement} needs exactly one lower bound (>=X), which `nox -s tests_minimum` pins"
    return bounds[0]


def bound(name: str) -> Version:
    (requirement,) = [r for r in DEPENDENCIES if r.name == name]
    return lower_bound(requirement)


def test_lightning_is_at_least_the_first_release_with_what_we_use() -> None:
    """Every variant's training step uses ``LightningModule.toggled_optimizer`` (new in Lightning 2.5.2), and the
    CLI and checkpoints pass ``weights_only`` to ``Trainer.fit``/``load_from_checkpoint`` (2.6.0): before it,
    Lightning dropped the argument and unpickled checkpoints in full."""
    import inspect

    from lightning.pytorch import LightningModule, Trainer

    assert bound("lightning") >= Version("2.6.0")
    assert callable(getattr(LightningModule, "toggled_optimizer", None))
    for method in (Trainer.fit, Trainer.validate, LightningModule.load_from_checkpoint):
        assert "weights_only" in inspect.signature(method).parameters, method


def test_torch_and_torchvision_lower_bounds_are_a_matching_pair() -> None:
    """torchvision 0.(m + 15) is the release built for torch 2.m (0.20 for 2.5, 0.28 for 2.13)."""
    torch_min, torchvision_min = bound("torch"), bound("torchvision")
    assert torch_min.major == 2 and torchvision_min.release[:2] == (0, torch_min.minor + 15)


@pytest.mark.parametrize("requirement", DEPENDENCIES, ids=[r.name for r in DEPENDENCIES])
def test_installed_version_meets_the_lower_bound(requirement: Requirement) -> None:
    if requirement.marker is not None and not requirement.marker.evaluate():
        pytest.skip(f"{requirement.name} is not needed here ({requirement.marker})")
    installed = Version(metadata.version(requirement.name))
    minimum = lower_bound(requirement)
    # a local version label (torch 2.5.0+cpu) is the same release
    assert Version(installed.public) >= minimum, f"{requirement.name} {installed} is older than {requirement}"
    if AT_MINIMUM:
        assert Version(installed.public) == minimum, f"nox -s tests_minimum should have {requirement.name}=={minimum}"

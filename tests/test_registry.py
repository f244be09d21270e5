"""The registry: entry-point discovery, laziness, and every loud failure the design card promises."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
from conftest import FakeDistributions
from torch import nn

import lightning_gans
from lightning_gans import registry
from lightning_gans.registry import (
    DISABLE_PLUGINS_ENV,
    DuplicateNameError,
    PluginLoadError,
    UnknownNameError,
    WrongBaseClassError,
)

GOOD_NET = """
from torch import nn
class TinyGenerator(nn.Module):
    latent_dim = 4
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(4, 784)
    def forward(self, z):
        return self.net(z).view(-1, 1, 28, 28)
class NotAModule:
    pass
"""


def test_builtins_are_found_through_entry_points_with_their_distribution() -> None:
    entries = {(e.kind, e.name): e for r in registry.REGISTRIES.values() for e in r.entries()}
    for key in [("variant", "gan"), ("variant", "dcgan"), ("generator", "dcgan"), ("loss", "minimax")]:
        assert key in entries
        assert entries[key].distribution == "lightning-gans"
        assert entries[key].builtin
    assert lightning_gans.list_variants() == registry.variants.names()
    assert {"gan", "dcgan"} <= set(lightning_gans.list_variants())


def test_import_is_lazy_and_imports_no_part() -> None:
    code = (
        "import sys, lightning_gans\n"
        "lightning_gans.list_variants(); lightning_gans.list_generators()\n"
        "heavy = [m for m in ('lightning', 'torch', 'lightning_gans.variants.gan', 'lightning_gans.nets.dcgan')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_load_imports_only_the_part_asked_for(fake_dists: FakeDistributions) -> None:
    fake_dists.add(
        "lazy-plugin",
        {"lightning_gans.generators": {"tiny": "lazy_plugin.nets:TinyGenerator", "other": "lazy_other:Gen"}},
        {"lazy_plugin.nets": GOOD_NET, "lazy_other": "raise RuntimeError('must not be imported')\n"},
    )
    cls = registry.generators.load("tiny")
    assert cls.__name__ == "TinyGenerator"
    assert "lazy_other" not in sys.modules
    entry = registry.generators.entry("tiny")
    assert (entry.distribution, entry.version, entry.target) == ("lazy-plugin", "1.0", "lazy_plugin.nets:TinyGenerator")
    assert not entry.builtin
    assert isinstance(registry.generators.create("tiny"), nn.Module)


def test_unknown_name_lists_what_exists_with_close_matches() -> None:
    with pytest.raises(UnknownNameError) as info:
        registry.generators.load("dcgna")
    message = str(info.value)
    assert "unknown generator 'dcgna'" in message
    assert "Did you mean 'dcgan'" in message
    assert "Registered generators: dcgan, mlp" in message


def test_name_claimed_twice_raises_naming_both_distributions(fake_dists: FakeDistributions) -> None:
    fake_dists.add("plugin-one", {"lightning_gans.losses": {"hinge": "one.losses:Hinge"}})
    fake_dists.add("plugin-two", {"lightning_gans.losses": {"hinge": "two.losses:Hinge"}})
    with pytest.raises(DuplicateNameError) as info:
        registry.losses.load("hinge")
    assert "plugin-one 1.0" in str(info.value) and "plugin-two 1.0" in str(info.value)
    # a plugin may not silently replace a built-in either
    fake_dists.add("plugin-three", {"lightning_gans.variants": {"gan": "three:GAN"}})
    registry.variants.refresh()
    with pytest.raises(DuplicateNameError) as info:
        registry.variants.load("gan")
    assert "'lightning-gans 0.1.0'" in str(info.value) and "'plugin-three 1.0'" in str(info.value)


def test_broken_plugin_warns_when_listing_and_raises_naming_its_distribution(fake_dists: FakeDistributions) -> None:
    fake_dists.add(
        "broken-plugin",
        {"lightning_gans.discriminators": {"broken": "broken_plugin.nets:D"}},
        {"broken_plugin.nets": "import a_module_that_does_not_exist\n"},
    )
    assert "broken" in registry.discriminators.names()  # listing metadata needs no import
    with pytest.warns(RuntimeWarning, match="broken-plugin"):
        report = dict((e.name, problem) for e, problem in registry.discriminators.check_all())
    assert report["dcgan"] is None and report["broken"] is not None
    with pytest.raises(PluginLoadError) as info:
        registry.discriminators.load("broken")
    message = str(info.value)
    assert "distribution 'broken-plugin 1.0'" in message
    assert "ModuleNotFoundError" in message and DISABLE_PLUGINS_ENV in message
    # built-ins keep working beside a broken plugin
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert registry.discriminators.load("dcgan").__name__ == "DCGANDiscriminator"


def test_wrong_base_class_is_refused(fake_dists: FakeDistributions) -> None:
    fake_dists.add(
        "odd-plugin",
        {"lightning_gans.generators": {"odd": "odd_plugin:NotAModule"}},
        {"odd_plugin": GOOD_NET},
    )
    with pytest.raises(WrongBaseClassError, match="odd-plugin.*not a subclass of torch.nn.modules.module.Module"):
        registry.generators.load("odd")


def test_entry_point_naming_a_module_is_refused(fake_dists: FakeDistributions) -> None:
    fake_dists.add("modular", {"lightning_gans.losses": {"mod": "modular_losses"}}, {"modular_losses": ""})
    with pytest.raises(PluginLoadError, match="names a module; an entry point must name a class"):
        registry.losses.load("mod")


def test_environment_variable_disables_plugins_but_keeps_builtins(
    fake_dists: FakeDistributions, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dists.add("lazy-plugin", {"lightning_gans.generators": {"tiny": "lazy_plugin.nets:TinyGenerator"}},
                   {"lazy_plugin.nets": GOOD_NET})  # fmt: skip
    assert "tiny" in registry.generators
    monkeypatch.setenv(DISABLE_PLUGINS_ENV, "1")
    registry.generators.refresh()
    assert "tiny" not in registry.generators
    assert {"dcgan", "mlp"} <= set(registry.generators.names())
    with pytest.raises(UnknownNameError, match=f"Plugins are disabled by {DISABLE_PLUGINS_ENV}"):
        registry.generators.load("tiny")

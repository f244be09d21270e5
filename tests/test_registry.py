"""The registry: entry-point discovery, laziness, and every loud failure the design card promises."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
import yaml
from conftest import REPO, FakeDistributions
from torch import nn

import lightning_gans
from lightning_gans import registry
from lightning_gans.checkpoints import load_variant
from lightning_gans.cli import main
from lightning_gans.lightning_cli import resolve_sections
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
    assert f"Registered generators: {', '.join(sorted(registry.generators.names()))}." in message


def test_name_claimed_by_two_plugins_raises_naming_both_distributions(fake_dists: FakeDistributions) -> None:
    fake_dists.add("plugin-one", {"lightning_gans.losses": {"ra": "one.losses:Ra"}})
    fake_dists.add("plugin-two", {"lightning_gans.losses": {"ra": "two.losses:Ra"}})
    registry.losses.refresh()
    with pytest.raises(DuplicateNameError) as info:
        registry.losses.load("ra")
    assert "plugin-one 1.0" in str(info.value) and "plugin-two 1.0" in str(info.value)
    assert "class_path" in str(info.value)


def test_a_plugin_never_changes_what_a_builtin_name_means(
    fake_dists: FakeDistributions, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plugin registering a generator called ``dcgan`` is shadowed: the default recipe resolves, builds and
    imports exactly what it did before, and ``list`` shows both distributions."""
    fake_dists.add(
        "shadow-plugin",
        {"lightning_gans.generators": {"dcgan": "shadow_plugin:Generator"}},
        {"shadow_plugin": "raise RuntimeError('the shadowed plugin must not be imported')\n"},
    )
    registry.generators.refresh()
    assert registry.generators.load("dcgan").__name__ == "DCGANGenerator"
    recipe = yaml.safe_load((REPO / "recipes/dcgan_fashion_mnist.yaml").read_text())
    resolved = resolve_sections(recipe)
    assert "shadow_plugin" not in str(resolved) and "shadow_plugin" not in sys.modules
    assert type(lightning_gans.create_variant("dcgan", generator="dcgan").generator).__name__ == "DCGANGenerator"
    assert main(["list", "generators"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.split()[1:2] == ["dcgan"]]
    assert rows[0][:5] == ["generator", "dcgan", "lightning_gans.nets.dcgan:DCGANGenerator", "lightning-gans", "0.1.0"]
    assert rows[1][:5] == ["generator", "dcgan", "shadow_plugin:Generator", "shadow-plugin", "1.0"]
    assert " ".join(rows[1][5:]).startswith("SHADOWED by lightning-gans 0.1.0")


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


BROKEN_PLUGIN = {"broken_gan_plugin": "import a_module_that_does_not_exist\n"}


@pytest.fixture
def broken_plugin(fake_dists: FakeDistributions) -> None:
    """A plugin whose modules fail to import, registering a generator and a variant."""
    fake_dists.add(
        "broken-gan-plugin",
        {
            "lightning_gans.generators": {"broken_gen": "broken_gan_plugin:Generator"},
            "lightning_gans.variants": {"broken_gan": "broken_gan_plugin:GAN"},
        },
        BROKEN_PLUGIN,
    )
    for kind in registry.REGISTRIES.values():
        kind.refresh()


def assert_names_the_plugin(message: str) -> None:
    assert "distribution 'broken-gan-plugin 1.0'" in message and "ModuleNotFoundError" in message
    assert "Traceback" not in message and "known subclasses" not in message


@pytest.mark.usefixtures("broken_plugin")
def test_a_broken_plugin_is_named_from_fit_on_the_command_line_and_in_a_recipe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ring = str(REPO / "recipes/gan_ring.yaml")
    assert main(["fit", "--config", ring, "--model.generator", "broken_gen", "--print_config"]) == 2
    assert_names_the_plugin(capsys.readouterr().err)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        (REPO / "recipes/gan_ring.yaml").read_text().replace("class_path: mlp", "class_path: broken_gen", 1)
    )
    assert main(["fit", "--config", str(recipe), "--print_config"]) == 2
    assert_names_the_plugin(capsys.readouterr().err)


@pytest.mark.usefixtures("broken_plugin")
def test_a_broken_plugin_is_named_from_sample_evaluate_and_python(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = tmp_path / "plugin.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"_class_path": "broken_gan_plugin.GAN"}}, ckpt)
    for command in (["sample", "--ckpt", str(ckpt)], ["evaluate", "--ckpt", str(ckpt), "--data", "gaussian_mixture"]):
        assert main(command) == 2, command
        assert_names_the_plugin(capsys.readouterr().err)
    with pytest.raises(PluginLoadError) as info:
        lightning_gans.create_variant("gan", generator="broken_gen")
    assert_names_the_plugin(str(info.value))
    with pytest.raises(PluginLoadError) as info:
        load_variant(ckpt)
    assert_names_the_plugin(str(info.value))


def test_a_plugin_class_of_the_wrong_kind_is_refused_from_fit(
    fake_dists: FakeDistributions, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_dists.add(
        "odd-plugin", {"lightning_gans.generators": {"odd": "odd_plugin:NotAModule"}}, {"odd_plugin": GOOD_NET}
    )
    registry.generators.refresh()
    assert (
        main(["fit", "--config", str(REPO / "recipes/gan_ring.yaml"), "--model.generator", "odd", "--print_config"])
        == 2
    )
    err = capsys.readouterr().err
    assert "'odd-plugin 1.0'" in err and "not a subclass of torch.nn.modules.module.Module" in err


def test_the_python_api_resolves_names_by_parameter_type() -> None:
    model = lightning_gans.create_variant(
        "cyclegan", generator_ba={"class_path": "resnet", "init_args": {"width": 8, "n_blocks": 1}}, loss="hinge"
    )
    small, default = (sum(p.numel() for p in net.parameters()) for net in (model.generator_ba, model.generator))
    assert type(model.generator_ba).__name__ == "ResNetGenerator" and small < default  # built with its init_args
    assert type(model.loss).__name__ == "HingeLoss"
    gan = registry.variants.create("gan", generator="dcgan", discriminator={"class_path": "dcgan"})
    assert type(gan.generator).__name__ == "DCGANGenerator" and type(gan.discriminator).__name__ == "DCGANDiscriminator"
    with pytest.raises(UnknownNameError, match="unknown discriminator 'dcgna'.*at gan.discriminator"):
        registry.variants.create("gan", discriminator="dcgna")


def test_a_plugin_class_of_the_wrong_kind_is_one_paragraph_from_sample_and_evaluate(
    fake_dists: FakeDistributions, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_dists.add(
        "odd-plugin", {"lightning_gans.variants": {"odd": "odd_plugin:NotAModule"}}, {"odd_plugin": GOOD_NET}
    )
    registry.variants.refresh()
    ckpt = tmp_path / "odd.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"_class_path": "odd_plugin.NotAModule"}}, ckpt)
    for command in (["sample", "--ckpt", str(ckpt)], ["evaluate", "--ckpt", str(ckpt), "--data", "gaussian_mixture"]):
        assert main(command) == 2, command
        err = capsys.readouterr().err
        assert "'odd-plugin 1.0'" in err and "not a subclass" in err and "usage:" not in err


def test_the_python_api_refuses_a_string_that_is_no_part() -> None:
    with pytest.raises(UnknownNameError, match="'DCGANGenerator' .* is neither a registered generator name nor"):
        lightning_gans.create_variant("gan", generator="DCGANGenerator")


def test_list_marks_a_name_two_plugins_claim_and_list_check_fails_on_it(
    fake_dists: FakeDistributions, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two ``ok`` rows for one name that cannot be used were the old listing: each row now says CLASH."""
    for dist, module in (("plugin-one", "one_nets"), ("plugin-two", "two_nets")):
        fake_dists.add(dist, {"lightning_gans.generators": {"tiny": f"{module}:TinyGenerator"}}, {module: GOOD_NET})
    registry.generators.refresh()
    assert main(["list", "generators", "--check"]) == 1
    rows = [line for line in capsys.readouterr().out.splitlines() if line.split()[1:2] == ["tiny"]]
    one, two = sorted(rows, key=lambda row: "plugin-two" in row.split("CLASH")[0])
    assert re.search(
        r"plugin-one 1\.0 +CLASH with plugin-two 1\.0: using the name fails; use class_path one_nets\.", one
    )
    assert re.search(r"plugin-two 1\.0 +CLASH with plugin-one 1\.0", two) and not two.endswith("ok")
    assert main(["list", "generators"]) == 0  # listing itself works; --check is the gate
    assert "CLASH" in capsys.readouterr().out


def test_an_unknown_name_says_it_may_come_from_a_plugin_not_installed() -> None:
    with pytest.raises(UnknownNameError) as info:
        registry.variants.load("dragan")
    message = str(info.value)
    assert message.startswith("unknown variant 'dragan'. Did you mean")
    assert "It may come from a plugin that is not installed here" in message and "lightning-gans list" in message

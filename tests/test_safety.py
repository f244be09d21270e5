"""A file from someone else stays data: no value of any type, at any depth, in any form the config parser reads,
makes lightning-gans import a module the registry did not register, run a constructor of one, or read a file; and
an exported config never chooses where data is read from.

Every form below was a working attack before ``lightning_gans.safety`` (strings holding YAML or JSON went to
jsonargparse, which imported what they named and called its constructor)."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import finished_tiny_run, run_cli, tiny_recipe

from lightning_gans import registry
from lightning_gans.checkpoints import load_module, load_variant
from lightning_gans.errors import UntrustedCheckpointError
from lightning_gans.pretrained import Pretrained, from_pretrained
from lightning_gans.safety import check_imports, config_readings, parser_imports_only

EVIL = "evil_parts.Evil"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("safety")
    return finished_tiny_run(folder)


@pytest.fixture
def evil(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[str]]:
    """A module outside the registry on the path whose import, and whose class's constructor, each write a marker;
    returns a function that says what happened (and must say nothing)."""
    site = tmp_path / "evil_site"
    site.mkdir()
    imported, constructed = tmp_path / "imported.marker", tmp_path / "constructed.marker"
    (site / "evil_parts.py").write_text(
        f"from pathlib import Path\nPath({str(imported)!r}).touch()\nimport torch\n\n\n"
        "class Evil(torch.nn.Module):\n"
        "    def __init__(self, *args, **kwargs):\n"
        f"        super().__init__()\n        Path({str(constructed)!r}).touch()\n"
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "evil_parts", raising=False)

    def happened() -> list[str]:
        seen = [m.name for m in (imported, constructed) if m.exists()]
        return seen + (["evil_parts in sys.modules"] if "evil_parts" in sys.modules else [])

    return happened


# each form: what it does to a checkpoint's hyper-parameters (or, for a folder, to a variant's recipe arguments)
def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda h: h.__setitem__(key, value)


def _nested(h: dict[str, Any]) -> None:
    h["generator"] = {
        **h["generator"],
        "init_args": {**h["generator"]["init_args"], "width": f"{{class_path: {EVIL}}}"},
    }


def _init_args_string(h: dict[str, Any]) -> None:
    h["generator"] = {**h["generator"], "init_args": f"{{latent_dim: {{class_path: {EVIL}}}}}"}


FORMS: dict[str, Callable[[dict[str, Any]], None]] = {
    "a YAML string": _set("generator", f"{{class_path: {EVIL}}}"),
    "a JSON string": _set("generator", json.dumps({"class_path": EVIL, "init_args": {}})),
    "a YAML string in the loss": _set("loss", f"{{class_path: {EVIL}}}"),
    "a YAML string in an optimiser": _set("g_optimizer", f"{{class_path: {EVIL}, init_args: {{lr: 0.1}}}}"),
    "a YAML string in the regularisation": _set("regularisation", f"{{class_path: {EVIL}}}"),
    "a block-style YAML string": _set("generator", f"class_path: {EVIL}\ninit_args: {{}}\n"),
    "a YAML list": _set("generator", f"[{{class_path: {EVIL}}}]"),
    "a JSON list": _set("discriminator", json.dumps([{"class_path": EVIL}])),
    "a string inside nested init_args": _nested,
    "init_args as a string": _init_args_string,
    "a dotted dict key": _set("generator.class_path", EVIL),
    "a dotted key inside a string": _set("generator", f"{{init_args.width: {{class_path: {EVIL}}}}}"),
    "a quoted import path": _set("generator", f"'{EVIL}'"),
    "a YAML string inside a YAML string": _set("generator", f"'{{class_path: {EVIL}}}'"),
    "a JSON string inside a JSON string": _set("generator", json.dumps(json.dumps({"class_path": EVIL}))),
    "a bare import path in an optimiser": _set("d_optimizer", EVIL),
    "a bare class name": _set("generator", {"class_path": "Evil"}),
    "init_args of the variant": _set("init_args", {"generator": {"class_path": EVIL}}),
    "dict_kwargs of the variant": _set("dict_kwargs", {"generator": {"class_path": EVIL}}),
}
FILE_FORM = "a file holding a config"  # the string names a YAML file, which jsonargparse reads as the value


def crafted(trained: Path, folder: Path, form: str) -> Path:
    state = torch.load(trained / "checkpoints/last.ckpt", weights_only=True)
    hparams = state["hyper_parameters"]
    if form == FILE_FORM:
        (folder / "part.yaml").write_text(f"class_path: {EVIL}\n")
        hparams["generator"] = str(folder / "part.yaml")
    else:
        FORMS[form](hparams)
    path = folder / "evil.ckpt"
    torch.save(state, path)
    return path


def refused_in_one_paragraph(code: int, out: str) -> None:
    assert code != 0, out
    assert "not imported" in out or "would read" in out, out
    assert "Traceback" not in out and "Parser key" not in out, out
    assert len([line for line in out.splitlines() if line.strip()]) <= 3, out


ALL_FORMS = [*FORMS, FILE_FORM]


@pytest.mark.parametrize("form", ALL_FORMS)
def test_no_form_of_an_untrusted_checkpoint_imports_or_builds_anything_through_the_python_api(
    form: str, trained: Path, tmp_path: Path, evil: Callable[[], list[str]]
) -> None:
    path = crafted(trained, tmp_path, form)
    for load in (load_variant, load_module):
        with pytest.raises(UntrustedCheckpointError, match="not imported|would read"):
            load(path)
    assert evil() == []


@pytest.mark.parametrize("form", ALL_FORMS)
def test_no_form_of_an_untrusted_checkpoint_imports_anything_through_any_command(
    form: str, trained: Path, tmp_path: Path, evil: Callable[[], list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(crafted(trained, tmp_path, form))
    recipe = str(tiny_recipe(tmp_path, tmp_path / "fresh", epochs=1))
    commands = [
        ["sample", "--ckpt", path, "--out", str(tmp_path / "x.png")],
        ["evaluate", "--ckpt", path, "--out", str(tmp_path / "e.json")],
        ["export", "--ckpt", path, "--out", str(tmp_path / "exported"), "--metrics", "none"],
        ["translate", "--ckpt", path, "--input", str(tmp_path), "--out", str(tmp_path / "t")],
        ["demo", "--ckpt", path],
        ["validate", "--config", recipe, "--ckpt_path", path],
        ["fit", "--config", recipe, "--ckpt_path", path],
    ]
    for args in commands:
        refused_in_one_paragraph(*run_cli(args, capsys))
        assert evil() == [], args
    assert not (tmp_path / "fresh").exists() and not (tmp_path / "exported").exists()


def test_the_opt_in_still_loads_what_the_file_names(
    trained: Path, tmp_path: Path, evil: Callable[[], list[str]]
) -> None:
    """--trust_checkpoint does what its help says (the guard is what refused above, not a broken file)."""
    path = crafted(trained, tmp_path, "a YAML string in the regularisation")
    with pytest.raises(Exception):  # noqa: B017  # Evil is no Regularisation: the parse fails after the import
        load_variant(path, trust=True)
    assert "imported.marker" in evil()


# -- the parser's own gate: what the first layer might miss -------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [f"{{class_path: {EVIL}}}", {"class_path": EVIL}, f"'{EVIL}'", [{"class_path": EVIL}], "Evil"],
    ids=["yaml", "class_path", "quoted", "list", "bare name of an imported class"],
)
def test_the_parser_gate_alone_refuses_every_import_it_was_not_given(
    value: Any, trained: Path, evil: Callable[[], list[str]]
) -> None:
    """The first layer (``check_imports``) is bypassed here: the values go straight to LightningCLI's builder."""
    from lightning.pytorch.cli import instantiate_module

    hparams = dict(torch.load(trained / "checkpoints/last.ckpt", weights_only=True)["hyper_parameters"])
    hparams.pop("_instantiator")
    approved = check_imports(hparams, "clean.ckpt")
    hparams["generator"] = value
    already: Any = None
    if value == "Evil":  # jsonargparse looks a bare name up among the subclasses imported so far
        import evil_parts

        already = evil_parts.Evil  # noqa: F841  # kept alive, so nn.Module still lists it as a subclass
    with pytest.raises(Exception) as raised, parser_imports_only(approved, "evil.ckpt"):
        instantiate_module(registry.variants.load("dcgan"), hparams)
    assert "constructed.marker" not in evil(), raised.value
    if already is None:
        assert evil() == [], raised.value
    # forms jsonargparse would have imported: the gate said no
    if isinstance(value, dict) or str(value).startswith("{"):
        assert isinstance(raised.value, UntrustedCheckpointError) and "makes the config parser import" in str(
            raised.value
        ), raised.value


def test_the_gate_is_lifted_after_the_load_so_a_users_own_recipe_may_name_any_class(trained: Path) -> None:
    from jsonargparse._common import parsing_settings

    before = (dict(parsing_settings["import_path_verdicts"]), parsing_settings["import_paths_enforced"])
    hparams = torch.load(trained / "checkpoints/last.ckpt", weights_only=True)["hyper_parameters"]
    with pytest.raises(UntrustedCheckpointError), parser_imports_only(check_imports(hparams, "x"), "x"):
        raise ImportError("Importing 'elsewhere.Thing' is not allowed, denied by the '*' entry")
    assert (dict(parsing_settings["import_path_verdicts"]), parsing_settings["import_paths_enforced"]) == before


def test_readings_follow_yaml_json_quotes_and_dotted_keys() -> None:
    readings = dict(config_readings({"a": "{b: '\"c.d\"'}", "e.f": {"g": "[1, {class_path: x.Y}]"}}))
    values = list(readings.values())
    assert {"class_path": "x.Y"} in values  # a JSON list inside a dotted key's value
    assert '"c.d"' in values and "c.d" in values  # a quoted string, read twice
    assert {"e": {"f": {"g": "[1, {class_path: x.Y}]"}}} in values


def test_a_string_nested_too_deep_is_refused() -> None:
    value: str = "x.Y"
    for _ in range(12):
        value = json.dumps(value)
    with pytest.raises(UntrustedCheckpointError, match="nested more than"):
        check_imports({"generator": value}, "deep.ckpt")


def test_a_part_given_as_a_mapping_of_its_declared_type_passes_the_gate(trained: Path) -> None:
    """``regularisation: {r1_gamma: ...}`` (as fit stores a recipe's regularisation): jsonargparse imports the
    ``Regularisation`` the variant's signature declares, by path. That path comes from code, not from the file."""
    from lightning.pytorch.cli import instantiate_module

    hparams = dict(torch.load(trained / "checkpoints/last.ckpt", weights_only=True)["hyper_parameters"])
    hparams.pop("_instantiator")
    hparams["regularisation"] = {"r1_gamma": 0.05, "lazy_interval": 16}
    with parser_imports_only(check_imports(hparams, "recipe.ckpt"), "recipe.ckpt"):
        model = instantiate_module(registry.variants.load("dcgan"), hparams)
    assert model.regularisation.r1_gamma == 0.05


def test_a_checkpoint_as_written_by_fit_passes_every_check(trained: Path) -> None:
    hparams = torch.load(trained / "checkpoints/last.ckpt", weights_only=True)["hyper_parameters"]
    assert "lightning_gans.nets.dcgan.DCGANGenerator" in check_imports(hparams, "last.ckpt")
    assert torch.isfinite(load_variant(trained / "checkpoints/last.ckpt").sample(2, seed=0)).all()


# -- exported folders ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def preset_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cgan exported in Python, its generator then described as format 1 did for a preset's net (and a plugin
    preset whose net arguments cannot be recorded still is): rebuilt through the variant, the one path of a folder
    that parses arguments with jsonargparse."""
    folder = tmp_path_factory.mktemp("cgan_folder")
    torch.manual_seed(0)
    model = registry.variants.create("cgan").eval()
    Pretrained.from_module(model, {"_class_path": registry.variants.entry("cgan").class_path}).save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    config["nets"]["generator"] = {"built_by_variant": {"class_path": "cgan", "init_args": {}}}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def tampered_folder(source: Path, target: Path, form: str) -> Path:
    shutil.copytree(source, target)
    config = json.loads((target / "config.json").read_text())
    arguments = config["nets"]["generator"]["built_by_variant"]["init_args"]
    if form == FILE_FORM:
        (target.parent / "part.yaml").write_text(f"class_path: {EVIL}\n")
        arguments["generator"] = str(target.parent / "part.yaml")
    else:
        arguments.update({"generator": {"class_path": "dcgan", "init_args": {"latent_dim": 100}}})
        FORMS[form](arguments)
    (target / "config.json").write_text(json.dumps(config))
    return target


FOLDER_FORMS = [f for f in ALL_FORMS if f not in ("a string inside nested init_args", "init_args as a string")]


@pytest.mark.parametrize("form", FOLDER_FORMS)
def test_no_form_of_a_tampered_exported_config_imports_anything(
    form: str, preset_folder: Path, tmp_path: Path, evil: Callable[[], list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tampered_folder(preset_folder, tmp_path / "folder", form)
    with pytest.raises(UntrustedCheckpointError):
        from_pretrained(folder)
    for args in (["sample", "--ckpt", str(folder), "--out", str(tmp_path / "x.png")],
                 ["demo", "--ckpt", str(folder)],
                 ["evaluate", "--ckpt", str(folder), "--out", str(tmp_path / "e.json")],
                 ["translate", "--ckpt", str(folder), "--input", str(tmp_path),
                  "--out", str(tmp_path / "t")]):  # fmt: skip
        refused_in_one_paragraph(*run_cli(args, capsys))
    assert evil() == []
    assert not (tmp_path / "x.png").exists()


def test_an_exported_config_does_not_choose_where_data_is_read(
    preset_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "private"
    (secret / "class").mkdir(parents=True)
    (secret / "class" / "do_not_list.txt").write_text("x")
    folder = tmp_path / "folder"
    shutil.copytree(preset_folder, folder)
    config = json.loads((folder / "config.json").read_text())
    # a folder that would be read, and one that would be listed in the error of a data module that needs a root
    for data in ({"class_path": "fashion_mnist", "init_args": {"root": str(secret), "batch_size": 32}},
                 {"class_path": "image_folder", "init_args": {"root": str(secret), "image_size": 28, "channels": 1}},
                 {"class_path": "torchvision",
                  "init_args": {"dataset": "mnist", "root": str(secret), "download": True}},
                 {"class_path": "semi_supervised", "init_args": {"data": {"class_path": "idx",
                  "init_args": {"root": str(secret)}}}}):  # fmt: skip
        config["training"] = {"data": data}
        (folder / "config.json").write_text(json.dumps(config))
        code, out = run_cli(["evaluate", "--ckpt", str(folder), "--metrics", "fid", "--n_fake", "50", "--n_real",
                             "50", "--out", str(tmp_path / "e.json")], capsys)  # fmt: skip
        assert "private" not in out and "do_not_list" not in out, out
        if data["class_path"] == "fashion_mnist":  # the shipped split: the file's root was dropped
            assert code == 0, out
            assert "FashionMNISTDataModule train split" in (tmp_path / "e.json").read_text()
        else:
            assert code != 0 and "Traceback" not in out, out
    assert not (tmp_path / "data").exists()  # torchvision's download=True from the file did not run


def test_without_locations_drops_marked_and_existing_places_at_every_depth(tmp_path: Path) -> None:
    from lightning_gans.evaluate import without_locations

    spec = {
        "class_path": "semi_supervised",
        "init_args": {
            "labelled_per_class": 5,
            "data": {
                "class_path": "lightning_gans.data.pairs.SuperResolutionDataModule",
                "init_args": {
                    "scale": 2,
                    "data": {
                        "class_path": "image_folder",
                        "init_args": {"root": "photos", "val_root": "val", "image_size": 32},
                    },
                },
            },
        },
    }
    kept = without_locations(spec)
    inner = kept["init_args"]["data"]["init_args"]["data"]
    assert inner == {"class_path": "image_folder", "init_args": {"image_size": 32}}
    assert kept["init_args"]["labelled_per_class"] == 5 and kept["init_args"]["data"]["init_args"]["scale"] == 2
    captions = {"class_path": "image_captions", "init_args": {"root": "a", "captions": "b.txt", "image_size": 28}}
    assert without_locations(captions)["init_args"] == {"image_size": 28}
    # a plugin's parameter without the marker: dropped when it names a place here
    unmarked = {"class_path": "gaussian_mixture", "init_args": {"mixture": str(tmp_path), "n": 10}}
    assert without_locations(unmarked)["init_args"] == {"n": 10}

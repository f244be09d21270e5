"""Nothing lost, nothing run that should not be: a real SIGKILL mid-run and an exact resume, divergence that
stops cleanly, crafted checkpoints that must not run code, and run folders that are never written over."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import torch
from conftest import ENV, REPO, WritesMarker, cli, finished_tiny_run, run_cli, tiny_recipe

from lightning_gans.callbacks.checkpoint import LastCheckpoint
from lightning_gans.checkpoints import UntrustedCheckpointError, load_variant, read_checkpoint, state_tensors
from lightning_gans.losses.gan import NonSaturatingLoss


def test_sigkill_mid_run_then_resume_gives_the_uninterrupted_weights_bit_for_bit(tmp_path: Path) -> None:
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(cli("fit", "--config", str(tiny_recipe(tmp_path, whole))), env=ENV, check=True, capture_output=True)

    process = subprocess.Popen(cli("fit", "--config", str(tiny_recipe(tmp_path, killed))), env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    last = killed / "checkpoints/last.ckpt"
    deadline = time.monotonic() + 300
    step_at_kill = -1
    while process.poll() is None and time.monotonic() < deadline:
        if last.is_file():
            step_at_kill = torch.load(last, weights_only=True)["global_step"]
            # inside epoch 1 of 4, not at its start (24 steps per epoch: 12 batches of a D and a G step)
            if step_at_kill >= 30 and step_at_kill % 24 != 0:
                os.kill(process.pid, signal.SIGKILL)
                break
        time.sleep(0.01)
    assert process.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    assert 30 <= step_at_kill < 96
    assert torch.load(last, weights_only=True)["global_step"] >= step_at_kill  # intact, and not older

    result = subprocess.run(cli("fit", "--config", str(tiny_recipe(tmp_path, killed)), "--ckpt_path", "last"),
                            env=ENV, capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    expected = state_tensors(read_checkpoint(whole / "checkpoints/last.ckpt"))
    resumed = state_tensors(read_checkpoint(last))
    assert resumed.keys() == expected.keys()
    different = [k for k in expected if not torch.equal(expected[k], resumed[k])]
    assert not different, f"resumed run differs from the uninterrupted one in {different[:5]}"
    assert int(resumed["global_step"]) == 96


def test_a_mid_epoch_checkpoint_resumes_with_the_next_batch_of_that_epoch(tmp_path: Path) -> None:
    from lightning_gans.data.base import EpochSeededSampler, ResumableDataLoader

    data = torch.arange(40).float()
    loader = ResumableDataLoader(data, batch_size=4, sampler=EpochSeededSampler(data, seed=3), drop_last=True)
    loader.sampler.set_epoch(2)
    batches = iter(loader)
    first = [next(batches) for _ in range(3)]
    state = loader.state_dict()
    assert state == {"epoch": 2, "samples": 12, "global_batch_size": 4}
    rest = list(batches)

    fresh = ResumableDataLoader(data, batch_size=4, sampler=EpochSeededSampler(data, seed=3), drop_last=True)
    fresh.load_state_dict(state)
    fresh.sampler.set_epoch(2)
    resumed = list(fresh)
    assert [b.tolist() for b in resumed] == [b.tolist() for b in rest]
    assert len(first) + len(resumed) == 10
    fresh.sampler.set_epoch(3)
    assert len(list(fresh)) == 10  # the next epoch is whole again

    old = ResumableDataLoader(data, batch_size=4, sampler=EpochSeededSampler(data, seed=3), drop_last=True)
    old.load_state_dict({"epoch": 2, "batches": 3})  # a checkpoint from before positions were counted in samples
    old.sampler.set_epoch(2)
    assert [b.tolist() for b in old] == [b.tolist() for b in rest]


def test_a_mid_epoch_resume_at_another_global_batch_size_is_refused_with_the_size_to_use() -> None:
    """Lightning counts the resumed epoch's batches from where they stopped and ends the epoch after len(loader)
    of the new size: at another global batch size the epoch would lose (or repeat) samples, so it is refused."""
    from lightning_gans.data.base import EpochSeededSampler, ResumableDataLoader

    data = torch.arange(40).float()
    state = {"epoch": 2, "samples": 12, "global_batch_size": 4}  # 1 process of 4, three steps in
    for world, batch_size, hint in [(1, 8, "--data.init_args.batch_size 4 on 1 process"),
                                    (2, 4, "--data.init_args.batch_size 2 on 2 processes"),
                                    (3, 4, "whose product is the saved size")]:  # fmt: skip
        loader = ResumableDataLoader(data, batch_size, sampler=EpochSeededSampler(data, 3, batch_size, world, 0))
        with pytest.raises(ValueError, match="global batch size of 4") as refused:
            loader.load_state_dict(state)
        assert hint in str(refused.value)
    same = ResumableDataLoader(data, 2, sampler=EpochSeededSampler(data, 3, 2, 2, 0))  # 2 processes of 2 = 4
    same.load_state_dict(state)
    assert same.sampler.resume == (2, 12)
    ended = ResumableDataLoader(data, 8, sampler=EpochSeededSampler(data, 3, 8, 1, 0))
    ended.load_state_dict({"epoch": 2, "samples": 40, "global_batch_size": 4})  # saved at the epoch's end: fine


def ranks_loaders(data: torch.Tensor, world: int, batch_size: int) -> list[torch.utils.data.DataLoader]:
    from lightning_gans.data.base import EpochSeededSampler, ResumableDataLoader

    return [
        ResumableDataLoader(
            data, batch_size, sampler=EpochSeededSampler(data, 3, batch_size, world, rank), drop_last=True
        )
        for rank in range(world)
    ]


def test_ddp_ranks_train_on_one_process_batches_split_in_blocks_and_resume_mid_epoch_at_any_world_size() -> None:
    data = torch.arange(43).float()
    (one,) = ranks_loaders(data, world=1, batch_size=8)
    single = [b.tolist() for b in one]
    ranks = [[b.tolist() for b in loader] for loader in ranks_loaders(data, world=2, batch_size=4)]
    assert len(single) == len(ranks[0]) == len(ranks[1]) == 5  # 43 // 8 steps, on both sides
    assert single == [first + second for first, second in zip(*ranks)]  # rank 0's block, then rank 1's

    # killed after 2 steps of 2 processes; resumed with 2 processes, and with 1 process of the summed batch
    loaders = ranks_loaders(data, world=2, batch_size=4)
    started = [iter(loader) for loader in loaders]
    for batches in started:
        next(batches), next(batches)
    state = loaders[1].state_dict()
    assert state == loaders[0].state_dict() == {"epoch": 0, "samples": 16, "global_batch_size": 8}
    for resumed in (ranks_loaders(data, world=2, batch_size=4), ranks_loaders(data, world=1, batch_size=8)):
        for loader in resumed:
            loader.load_state_dict(state)
        steps = [[b.tolist() for b in loader] for loader in resumed]
        assert [sum(parts, []) for parts in zip(*steps)] == single[2:]


class NaNAfter(NonSaturatingLoss):
    """A loss that feeds NaN into the discriminator's loss from its ``after``-th call on."""

    def __init__(self, after: int = 10) -> None:
        super().__init__()
        self.after = after
        self.calls = 0

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        loss = super().d_loss(real_logits, fake_logits)
        return loss * float("nan") if self.calls >= self.after else loss


def test_divergence_stops_with_the_loss_and_step_and_keeps_the_last_good_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "run"
    recipe = tiny_recipe(tmp_path, root, epochs=2)
    code, out = run_cli(["fit", "--config", str(recipe), "--model.loss", "test_reliability.NaNAfter",
                         "--model.loss.after", "7"], capsys)  # fmt: skip
    assert code == 1
    # call 1 is the sanity validation; call 7 is the D step of the 6th training batch (global step 10)
    assert "training diverged: train/d_loss became NaN or infinite at global step 10" in out, out
    assert "Traceback" not in out
    last = torch.load(root / "checkpoints/last.ckpt", weights_only=True)
    assert last["global_step"] == 10  # written after the 5th batch: the last one before the NaN
    assert all(torch.isfinite(v).all() for v in last["state_dict"].values() if v.is_floating_point())
    # and it is what `--ckpt_path last` resumes from, once the cause is removed
    code, out = run_cli(["fit", "--config", str(recipe), "--ckpt_path", "last"], capsys)
    assert code == 0, out
    assert torch.load(root / "checkpoints/last.ckpt", weights_only=True)["global_step"] == 48  # 2 epochs of 12


def test_metrics_and_sample_refuse_non_finite_samples() -> None:
    from lightning_gans.images import save_samples
    from lightning_gans.metrics.evaluation import SampleQuality

    images = torch.zeros(4, 1, 28, 28)
    quality = SampleQuality(["fid"], "fashion_classifier", images.uniform_(-1, 1).clone())
    broken = images.clone()
    broken[1, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="1 of 4 generated samples hold NaN or infinite values"):
        quality.evaluate(lambda n: broken[:n], 4)
    with pytest.raises(ValueError, match="1 of 4 samples hold NaN"):
        save_samples(broken, "never.png")
    assert not Path("never.png").exists()


# -- crafted files ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny run (1 epoch): its last.ckpt is the base of the crafted files."""
    folder = tmp_path_factory.mktemp("trained")
    root = finished_tiny_run(folder)
    return root


def crafted(trained: Path, tmp_path: Path, name: str, **hparams: object) -> Path:
    state = torch.load(trained / "checkpoints/last.ckpt", weights_only=True)
    for key, value in hparams.items():
        if isinstance(value, dict) and isinstance(state["hyper_parameters"].get(key), dict):
            state["hyper_parameters"][key] = {**state["hyper_parameters"][key], **value}
        else:
            state["hyper_parameters"][key] = value
    path = tmp_path / name
    torch.save(state, path)
    return path


@pytest.fixture
def evil_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A module outside the registry whose import writes a marker file."""
    marker = tmp_path / "imported.marker"
    site = tmp_path / "evil_site"
    site.mkdir()
    (site / "evil_parts.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).touch()\n"
        "from lightning_gans.variants.dcgan import DCGAN as Evil\n"
    )
    monkeypatch.syspath_prepend(str(site))
    return "evil_parts.Evil", marker


def test_a_pickle_that_runs_code_is_refused_everywhere(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "unpickled.marker"
    bomb = tmp_path / "bomb.ckpt"
    state = torch.load(trained / "checkpoints/last.ckpt", weights_only=True)
    state["payload"] = WritesMarker(marker)
    torch.save(state, bomb)
    with pytest.raises(UntrustedCheckpointError, match="pickled objects"):
        load_variant(bomb)
    for args in (["sample", "--ckpt", str(bomb), "--out", str(tmp_path / "x.png")],
                 ["evaluate", "--ckpt", str(bomb)], ["translate", "--ckpt", str(bomb), "--input", str(tmp_path)],
                 ["validate", "--config", str(tiny_recipe(tmp_path, trained)), "--ckpt_path", str(bomb)]):  # fmt: skip
        code, out = run_cli(args, capsys)
        assert code != 0 and "pickled objects" in out and "Traceback" not in out, (args, out)
    assert not marker.exists()
    # the opt-in does what its help says: the file's code runs
    read_checkpoint(bomb, trust=True)
    assert marker.exists()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that stops reading early is not the test's business


def test_a_checkpoint_from_a_url_is_never_unpickled_in_full(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "downloaded.marker"
    served = tmp_path / "served"
    served.mkdir()
    state = torch.load(trained / "checkpoints/last.ckpt", weights_only=True)
    state["payload"] = WritesMarker(marker)
    torch.save(state, served / "evil.ckpt")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    handler = functools.partial(QuietHandler, directory=str(served))
    server = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/evil.ckpt"
        root = tmp_path / "fresh"
        code, out = run_cli(["validate", "--config", str(tiny_recipe(tmp_path, root)), "--ckpt_path", url], capsys)
    finally:
        server.shutdown()
        server.server_close()
    assert code != 0 and "pickled objects" in out and "--trust_checkpoint" in out, out
    assert "Traceback" not in out
    assert not marker.exists()


@pytest.mark.parametrize("where", ["_class_path", "generator"])
def test_a_class_outside_the_registry_is_never_imported(
    where: str, trained: Path, tmp_path: Path, evil_module: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    class_path, marker = evil_module
    value: object = class_path if where == "_class_path" else {"class_path": class_path}
    path = crafted(trained, tmp_path, "evil.ckpt", **{where: value})
    recipe = str(tiny_recipe(tmp_path, tmp_path / "fresh"))
    for args in (["sample", "--ckpt", str(path), "--out", str(tmp_path / "x.png")], ["evaluate", "--ckpt", str(path)],
                 ["validate", "--config", recipe, "--ckpt_path", str(path)],
                 ["fit", "--config", recipe, "--ckpt_path", str(path)]):  # fmt: skip
        code, out = run_cli(args, capsys)
        assert code != 0 and f"names '{class_path}'" in out and "registered" in out, out
    with pytest.raises(UntrustedCheckpointError):
        load_variant(path)
    assert not marker.exists()


def test_an_instantiator_other_than_lightning_clis_is_refused(trained: Path, tmp_path: Path) -> None:
    path = crafted(trained, tmp_path, "evil.ckpt", _instantiator="os.system")
    with pytest.raises(UntrustedCheckpointError, match="os.system"):
        load_variant(path)


def test_the_default_checkpoint_loads_without_trust(trained: Path) -> None:
    model = load_variant(trained / "checkpoints/last.ckpt")
    assert torch.isfinite(model.sample(4, seed=0)).all()


# -- run folders ------------------------------------------------------------------------------------------
def test_wandb_files_go_under_the_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = run_cli(["fit", "--config", str(REPO / "recipes/gan_ring.yaml"), "--trainer.max_epochs", "1",
                         "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
                         "--trainer.default_root_dir", "elsewhere/run"], capsys)  # fmt: skip
    assert code == 0, out
    assert list((tmp_path / "elsewhere/run/wandb").glob("offline-run-*"))
    assert not (tmp_path / "wandb").exists() and not (tmp_path / "runs/wandb").exists()


def test_last_ckpt_holds_the_other_checkpoint_callbacks_state_of_the_same_epoch(tmp_path: Path) -> None:
    root = tmp_path / "run"
    recipe = tiny_recipe(tmp_path, root, epochs=1)
    best = "    - class_path: lightning.pytorch.callbacks.ModelCheckpoint\n      init_args: {monitor: val/d_loss}\n"
    recipe.write_text(recipe.read_text().replace("  callbacks:\n", "  callbacks:\n" + best))  # listed first
    subprocess.run(cli("fit", "--config", str(recipe)), env=ENV, check=True, capture_output=True)
    states = torch.load(root / "checkpoints/last.ckpt", weights_only=True)["callbacks"]
    scores = [state["best_model_score"] for key, state in states.items() if "val/d_loss" in key]
    assert scores and scores[0] is not None  # on resume, "best" goes on from the right score


def test_last_checkpoint_rejects_a_negative_interval() -> None:
    with pytest.raises(ValueError, match="every_minutes"):
        LastCheckpoint(every_minutes=-1)


def test_a_new_learning_rate_given_on_resume_is_applied_and_reported(
    trained: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    before = torch.load(run / "checkpoints/last.ckpt", weights_only=True)["optimizer_states"][0]["param_groups"][0]
    assert before["lr"] == pytest.approx(2e-4)
    recipe = str(tiny_recipe(tmp_path, run, epochs=2))
    code, out = run_cli(["fit", "--config", recipe, "--ckpt_path", "last", "--model.g_optimizer", "torch.optim.Adam",
                         "--model.g_optimizer.lr", "1e-3"], capsys)  # fmt: skip
    assert code == 0, out
    after = torch.load(run / "checkpoints/last.ckpt", weights_only=True)
    assert after["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(1e-3)
    assert after["optimizer_states"][1]["param_groups"][0]["lr"] == pytest.approx(2e-4)  # D's unchanged
    assert "lr: 0.001" in (run / "config.yaml").read_text()
    assert "resumed with the generator optimiser's lr = 0.001 (the checkpoint had 0.0002)" in caplog.text


def test_inception_weights_that_would_run_code_are_refused_before_torch_fidelity_unpickles_them(
    tmp_path: Path,
) -> None:
    """torch-fidelity loads ``weights_path`` with ``weights_only=False``: a pickle that runs code must never get
    there."""
    pytest.importorskip("torch_fidelity", reason="the inception extra is not installed")
    from lightning_gans.metrics.features import FeatureNetworkUnavailable, InceptionV3

    marker = tmp_path / "unpickled.marker"
    torch.save({"fc.weight": torch.zeros(1), "payload": WritesMarker(marker)}, tmp_path / "weights.pth")
    with pytest.raises(FeatureNetworkUnavailable, match="not a file of weights only"):
        InceptionV3(weights_path=str(tmp_path / "weights.pth"))
    assert not marker.exists()


def test_a_rank_that_had_not_drawn_noise_when_saved_resumes_with_its_seeds_stream() -> None:
    from lightning_gans.variants.dcgan import DCGAN

    model = DCGAN()
    fresh = torch.randn(4, generator=model.noise_generator)
    resumed = DCGAN()
    resumed.on_load_checkpoint({"lightning_gans": {"noise_seed": model._noise_seed, "noise_state": None}})
    assert torch.equal(torch.randn(4, generator=resumed.noise_generator), fresh)

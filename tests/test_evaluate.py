"""Validation metrics during fit, `lightning-gans evaluate` and the latent tools of `lightning-gans sample`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import REPO
from PIL import Image

from lightning_gans.cli import main
from lightning_gans.sampling import (
    arithmetic_latents,
    interpolation_latents,
    parse_arithmetic,
    slerp,
    truncated_latents,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny DCGAN run of the default recipe, validated (and scored) after each of 2 epochs."""
    root = tmp_path_factory.mktemp("run")
    code = main(["fit", "--config", str(REPO / "recipes/dcgan_fashion_mnist.yaml"), "--trainer.logger", "false",
                 "--trainer.default_root_dir", str(root), "--trainer.max_epochs", "2",
                 "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "1",
                 "--trainer.check_val_every_n_epoch", "1",
                 "--model.generator.init_args.width", "8", "--model.discriminator.init_args.width", "8"])  # fmt: skip
    assert code == 0
    return root


def test_fit_logs_sample_quality_and_keeps_the_best_fid_checkpoint(run: Path) -> None:
    best = list((run / "checkpoints").glob("best-fid-epoch=*.ckpt"))
    assert len(best) == 1
    state = torch.load(best[0], weights_only=False)
    callback = next(v for k, v in state["callbacks"].items() if "val/fid" in k)
    assert math.isfinite(float(callback["best_model_score"])) and float(callback["best_model_score"]) > 0


def test_evaluate_prints_a_table_and_writes_json_with_the_protocol(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval.json"
    code = main(["evaluate", "--ckpt", str(run / "checkpoints/last.ckpt"), "--n_fake", "500", "--n_real", "500",
                 "--out", str(out)])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed

    def not_strict_json(constant: str) -> None:
        raise AssertionError(f"{constant} in the JSON: strict parsers reject it")

    report = json.loads(out.read_text(), parse_constant=not_strict_json)
    protocol, results = report["protocol"], report["results"]
    assert protocol["feature_network"] == "fashion_classifier"
    assert protocol["n_real"] == 500 and protocol["n_fake"] == 500 and protocol["seed"] == 0
    assert "train split (500 images)" in protocol["real_split"]
    # knn searches the whole train split (9000 images of the shipped data) and holds out the whole val split
    assert protocol["knn_train"] == "9000 training images" and protocol["knn_holdout"] == "1000 held-out images"
    assert protocol["kid_subset_size"] == 500 and protocol["prdc_k"] == 5
    assert protocol["birthday"]["sample_sizes"] == [25, 50, 100, 200, 400]
    for key in ("fid", "kid", "is", "precision", "recall", "density", "coverage", "classes_covered", "class_kl",
                "knn_nn_ratio", "knn_memorised_fraction", "birthday_support_fake"):  # fmt: skip
        assert key in results and key in printed, key
    assert results["fid"] > 0 and 0 <= results["precision"] <= 1
    assert Image.open(protocol["knn_pairs_png"]).mode == "RGB"
    # the same command gives the same numbers
    main(["evaluate", "--ckpt", str(run / "checkpoints/last.ckpt"), "--n_fake", "500", "--n_real", "500",
          "--metrics", "fid,prdc", "--out", str(tmp_path / "again.json")])  # fmt: skip
    again = json.loads((tmp_path / "again.json").read_text())["results"]
    assert again["fid"] == results["fid"] and again["coverage"] == results["coverage"]


def test_evaluate_reports_bad_input(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["evaluate", "--ckpt", str(run / "checkpoints/last.ckpt"), "--metrics", "fid,fjd"])
    assert "choose from fid, kid" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--ckpt", str(run / "nope.ckpt")])
    assert "no checkpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--ckpt", str(run / "checkpoints/last.ckpt"), "--metrics", "fid,birthday", "--n_fake", "100"])
    assert "need --n_fake and --n_real of at least 400" in capsys.readouterr().err
    assert (
        main(["evaluate", "--ckpt", str(run / "checkpoints/last.ckpt"), "--feature_network", "fashion_clasifier"]) == 2
    )
    assert "unknown feature network 'fashion_clasifier'" in capsys.readouterr().err


def test_sample_truncation_interpolation_and_arithmetic(run: Path, tmp_path: Path) -> None:
    ckpt = str(run / "checkpoints/last.ckpt")
    cases = {
        "truncated.png": (["--n", "16", "--truncation", "0.5"], (4 * 30 + 2, 4 * 30 + 2)),
        "interp.png": (["--interpolate", "spherical", "--rows", "3", "--steps", "5"], (5 * 30 + 2, 3 * 30 + 2)),
        "arith.png": (["--arithmetic", "0,1,2 - 3,4 + 5"], (8 * 30 + 2, 4 * 30 + 2)),
    }
    for name, (extra, size) in cases.items():
        assert main(["sample", "--ckpt", ckpt, "--out", str(tmp_path / name), *extra]) == 0
        assert Image.open(tmp_path / name).size == size, name
    with pytest.raises(SystemExit):
        main(["sample", "--ckpt", ckpt, "--arithmetic", "0,1 - 99"])


def test_truncation_resamples_inside_the_threshold_or_scales() -> None:
    z = truncated_latents(500, 8, 0.7, "resample", seed=1)
    assert z.abs().max() <= 0.7 and z.std() > 0.3
    plain = truncated_latents(500, 8, None, seed=1)
    assert torch.equal(plain, torch.randn(500, 8, generator=torch.Generator().manual_seed(1)))
    assert torch.allclose(truncated_latents(500, 8, 0.5, "scale", seed=1), 0.5 * plain)
    with pytest.raises(ValueError, match="psi"):
        truncated_latents(4, 8, 1.5, "scale")


def test_interpolations_start_and_end_at_their_endpoints_and_slerp_keeps_the_norm() -> None:
    a, b = torch.randn(1, 64), torch.randn(1, 64)
    t = torch.linspace(0, 1, 7).view(7, 1)
    path = slerp(a.expand(7, -1), b.expand(7, -1), t)
    assert torch.allclose(path[0], a[0], atol=1e-5) and torch.allclose(path[-1], b[0], atol=1e-5)
    # between two vectors of similar norm the spherical path stays near that norm; the linear one dips
    middle_linear = ((a + b) / 2).norm()
    assert path[3].norm() > middle_linear
    grid = interpolation_latents(3, 5, 16, "linear", seed=0)
    assert grid.shape == (15, 16)
    assert torch.allclose(grid[2], (grid[0] + grid[4]) / 2, atol=1e-6)


def test_latent_arithmetic_averages_groups_like_dcgan() -> None:
    assert parse_arithmetic("0,1 - 2 + 3,4,5") == [(1, [0, 1]), (-1, [2]), (1, [3, 4, 5])]
    pool = torch.randn(10, 4)
    rows = arithmetic_latents(pool, "0,1 - 2 + 3,4,5", variations=7, spread=0.0)
    expected = pool[[0, 1]].mean(0) - pool[2] + pool[[3, 4, 5]].mean(0)
    assert [len(row) for row in rows] == [3, 2, 4, 8]  # members + average per group; result + 7 variations
    assert torch.equal(rows[0][:2], pool[[0, 1]]) and torch.allclose(rows[0][2], pool[[0, 1]].mean(0))
    assert torch.allclose(rows[3][0], expected)
    assert torch.allclose(rows[3][1:], expected.expand(7, -1))  # spread 0: the variations are the result
    with pytest.raises(ValueError, match="outside the pool"):
        arithmetic_latents(pool, "0 - 10")
    with pytest.raises(ValueError, match="bad latent arithmetic"):
        parse_arithmetic("0,a - 1")

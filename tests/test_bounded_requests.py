"""Bounded work for every request (issue 26, item 4; and item 7's `--out` and small-sample evaluation): a picture
too large to open is refused before any latent is drawn, samples are drawn a batch at a time, truncation that
cannot finish or is not a number is refused, the demo names the field of a bad value, and evaluate warns of
metrics measured on few images."""

from __future__ import annotations

import json
import math
import re
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import ENV, cli, run_cli, tiny_recipe
from PIL import Image

from lightning_gans import registry
from lightning_gans.images import (
    POINTS_MAX,
    check_picture_size,
    grid_capacity,
    grid_pixels_max,
    image_grid,
    picture_size,
    sample_picture,
    save_samples,
)
from lightning_gans.inference import LatentSampling
from lightning_gans.sampling import (
    RESAMPLE_PSI_MIN,
    check_truncation,
    generate_in_chunks,
    style_mixing_grid,
    truncated_latents,
)


@pytest.fixture(scope="module")
def last(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The last checkpoint of a tiny DCGAN run (1x28x28 samples, latent_dim 16)."""
    folder = tmp_path_factory.mktemp("bounded")
    recipe = tiny_recipe(folder, folder / "run", epochs=1)
    subprocess.run(cli("fit", "--config", str(recipe)), env=ENV, check=True, capture_output=True)
    return str(folder / "run/checkpoints/last.ckpt")


def pixels(path: str | Path) -> bytes:
    with Image.open(path) as image:
        return image.convert("RGB").tobytes()


# -- pictures too large to open --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n", "shape", "nrow"),
    [(1, (1, 28, 28), None), (2, (1, 28, 28), None), (7, (3, 8, 8), None), (10, (4, 5, 6), 3), (5, (2, 4, 4), 2),
     (64, (1, 28, 28), 10), (3, (1, 9, 7), 8), (1, (5, 4, 4), None)],
)  # fmt: skip
def test_picture_size_is_the_size_of_the_picture_drawn(n: int, shape: tuple[int, ...], nrow: int | None) -> None:
    picture = sample_picture(torch.zeros(n, *shape), nrow)
    assert picture_size(n, shape, nrow) == tuple(picture.shape[1:])


def test_the_grid_capacity_is_the_last_count_under_pils_limit() -> None:
    shape = (1, 28, 28)
    capacity = grid_capacity(shape)
    assert capacity == 99_225  # a 315 x 315 grid of 30-pixel cells
    assert grid_pixels_max() == Image.MAX_IMAGE_PIXELS
    for n, fits in ((capacity, True), (capacity + 1, False)):
        height, width = picture_size(n, shape)
        assert (height * width <= Image.MAX_IMAGE_PIXELS) is fits
    assert grid_capacity((2,)) == POINTS_MAX
    assert grid_capacity((3, 10_000, 10_000)) == 0  # one sample is too large already
    check_picture_size(capacity, shape)
    with pytest.raises(ValueError, match="at most 99,225 of these samples"):
        check_picture_size(capacity + 1, shape)
    with pytest.raises(ValueError, match="at most 1,000,000"):
        check_picture_size(POINTS_MAX + 1, (2,))


def test_a_grid_too_large_to_open_is_refused_before_any_latent_is_drawn(
    last: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import lightning_gans.sampling as sampling

    def no_latents(*args: Any, **kwargs: Any) -> torch.Tensor:
        raise AssertionError("latents were drawn for a picture that cannot be drawn")

    monkeypatch.setattr(sampling, "truncated_latents", no_latents)
    monkeypatch.setattr(sampling, "interpolation_latents", no_latents)
    for asked in (["--n", "100000000"], ["--interpolate", "linear", "--rows", "100000", "--steps", "10"],
                  ["--arithmetic", "0 - 1", "--pool", "1000000"]):  # fmt: skip
        code, out = run_cli(["sample", "--ckpt", last, *asked, "--out", str(tmp_path / "big.png")], capsys)
        assert code == 2, out
        assert " ".join(asked[-2:]) in out and "Image.MAX_IMAGE_PIXELS" in out and "of shape (1, 28, 28)" in out, out
        assert "--seed" in out and "Traceback" not in out, out  # what to do instead
    assert "at most 99,225" in run_cli(["sample", "--ckpt", last, "--n", "100000000"], capsys)[1]
    assert not (tmp_path / "big.png").exists()


# -- a batch at a time -----------------------------------------------------------------------------------
@pytest.fixture
def batch_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of latents of every forward pass of any model's ``generate``."""
    sizes: list[int] = []
    generate = LatentSampling.generate

    def counted(self: LatentSampling, z: torch.Tensor, labels: torch.Tensor | int | None = None) -> torch.Tensor:
        sizes.append(len(z))
        return generate(self, z, labels)

    monkeypatch.setattr(LatentSampling, "generate", counted)
    return sizes


@pytest.mark.parametrize(
    ("asked", "total", "largest"),
    [(["--n", "600"], 600, 256), (["--n", "600", "--batch_size", "100"], 600, 100),
     (["--interpolate", "spherical", "--rows", "30", "--steps", "20"], 600, 256),
     (["--vary_latent", "2", "--rows", "50", "--steps", "7"], 350, 256)],
)  # fmt: skip
def test_sample_draws_at_most_a_batch_at_a_time_and_the_same_picture(
    asked: list[str],
    total: int,
    largest: int,
    last: str,
    tmp_path: Path,
    batch_sizes: list[int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run_cli(["sample", "--ckpt", last, *asked, "--out", str(tmp_path / "chunked.png")], capsys)
    assert code == 0, out
    probe, *drawn = batch_sizes  # one latent first: the sample's shape sizes the picture
    assert probe == 1 and sum(drawn) == total and max(drawn) == largest, batch_sizes

    from lightning_gans.checkpoints import load_variant
    from lightning_gans.sampling import interpolation_latents, latent_sweep

    model = load_variant(last)
    if "--interpolate" in asked:
        z, nrow = interpolation_latents(30, 20, model.latent_dim), 20
    elif "--vary_latent" in asked:
        z, nrow = latent_sweep(50, 7, model.latent_dim, 2), 7
    else:
        z, nrow = truncated_latents(600, model.latent_dim, None), None
    one_pass = save_samples(model.generate(z), tmp_path / "one.png", nrow)
    assert pixels(tmp_path / "chunked.png") == pixels(one_pass)  # the same picture as one forward pass draws


def test_batches_keep_each_class_and_caption_in_turn_across_the_whole_grid() -> None:
    def same(batches: Iterator[torch.Tensor], whole: torch.Tensor) -> None:
        # a batch of another size may round differently (1e-8 here); a class or caption restarting in each batch
        # would change the samples by 1e-3 or more
        torch.testing.assert_close(torch.cat(list(batches)), whole, rtol=0, atol=1e-6)

    torch.manual_seed(0)
    conditional = registry.variants.create("cgan").eval()
    z = torch.randn(25, conditional.latent_dim)
    same(generate_in_chunks(conditional, z, batch_size=4), conditional.generate(z))  # classes 0..9 over all 25
    rows = torch.arange(25) % 3
    same(generate_in_chunks(conditional, z, rows, batch_size=4), conditional.generate(z, rows))
    texts = registry.variants.create("gan_cls").eval()
    texts.grid_captions = ["a dark dress", "a light bag", "a dark shirt"]
    z = torch.randn(10, texts.latent_dim)
    same(generate_in_chunks(texts, z, batch_size=4), texts.generate(z))
    with pytest.raises(AssertionError):  # the check above can tell: captions restarting in each batch
        same((texts.generate(part) for part in z.split(4)), texts.generate(z))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        next(generate_in_chunks(texts, z, batch_size=0))


def test_the_style_mixing_grid_synthesises_a_batch_at_a_time() -> None:
    from lightning_gans.nets.stylegan import StyleGANGenerator

    torch.manual_seed(0)
    generator = StyleGANGenerator(latent_dim=8, w_dim=8)
    whole, per_row = style_mixing_grid(generator, rows=3, columns=4, seed=1)
    sizes: list[int] = []
    synthesis = generator.synthesis

    def counted(ws: torch.Tensor, noise: torch.Generator | None = None) -> torch.Tensor:
        sizes.append(len(ws))
        return synthesis(ws, noise)

    generator.synthesis = counted  # type: ignore[method-assign]
    batched, same_per_row = style_mixing_grid(generator, rows=3, columns=4, seed=1, batch_size=5)
    assert max(sizes) == 5 and sum(sizes) == 3 + 4 + 3 * 4
    assert per_row == same_per_row
    torch.testing.assert_close(batched, whole, rtol=0, atol=1e-5)  # batches of 5 may round differently


# -- truncation that cannot finish, or is not a number ---------------------------------------------------
def test_resample_truncation_that_cannot_finish_is_refused_and_ordinary_psi_keep_their_samples() -> None:
    for psi in (1e-30, 0.001, math.nextafter(RESAMPLE_PSI_MIN, 0)):
        with pytest.raises(ValueError, match=r"smallest psi it takes is 0\.01.*--truncation_mode scale"):
            check_truncation(psi, "resample")
    check_truncation(1e-30, "scale")  # scale truncation draws nothing again: any psi in (0, 1] finishes
    check_truncation(1e-30, "w")

    def redrawn_until_inside(n: int, dim: int, psi: float, seed: int) -> torch.Tensor:  # the loop of before
        rng = torch.Generator().manual_seed(seed)
        z = torch.randn(n, dim, generator=rng)
        outside = z.abs() > psi
        while outside.any():
            z[outside] = torch.randn(int(outside.sum()), generator=rng)
            outside = z.abs() > psi
        return z

    for psi, seed in ((RESAMPLE_PSI_MIN, 0), (0.05, 1), (0.5, 2), (1.0, 3), (2.0, 4)):
        assert torch.equal(truncated_latents(64, 16, psi, "resample", seed), redrawn_until_inside(64, 16, psi, seed))


def test_sample_refuses_truncation_that_cannot_finish_at_once(last: str, tmp_path: Path) -> None:
    done = subprocess.run(
        cli("sample", "--ckpt", last, "--truncation", "1e-30", "--n", "4", "--out", str(tmp_path / "t.png")),
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,  # it used to redraw for ever
    )
    assert done.returncode == 2, done.stderr
    assert "--truncation: resample truncation" in done.stderr and "smallest psi it takes is 0.01" in done.stderr
    assert "--truncation_mode scale" in done.stderr and not (tmp_path / "t.png").exists()


@pytest.mark.parametrize("psi", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("mode", ["resample", "scale", "w"])
def test_truncation_that_is_not_a_number_is_refused(psi: float, mode: str) -> None:
    with pytest.raises(ValueError, match="truncation psi must be a finite number"):
        truncated_latents(4, 8, psi, mode)  # type: ignore[arg-type]


# -- --out -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("out", "cause"),
    [("s_noext", "s_noext has no file suffix"), ("s.unknownext", ".unknownext is not an image type PIL writes"),
     ("folder", "folder is a folder")],
)  # fmt: skip
def test_a_bad_out_is_named_as_the_cause_not_the_checkpoint(
    out: str, cause: str, last: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "folder").mkdir()
    code, message = run_cli(["sample", "--ckpt", last, "--n", "4", "--out", str(tmp_path / out)], capsys)
    error = next(line for line in message.splitlines() if "error:" in line)
    assert code == 2 and "error: --out: " in error and cause in error, message
    assert last not in error, "blames the checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]


# -- the demo page ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """A conditional generator's page on a free localhost port: its address and a client."""
    gradio_client = pytest.importorskip("gradio_client", reason="the demo extra (gradio) is not installed")
    from lightning_gans.demo import launch
    from lightning_gans.pretrained import Pretrained, from_pretrained

    folder = tmp_path_factory.mktemp("cgan")
    torch.manual_seed(0)
    model = registry.variants.create("cgan").eval()
    Pretrained.from_module(model, {"_class_path": registry.variants.entry("cgan").class_path}).save_pretrained(folder)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    served, url = launch(from_pretrained(folder), "cgan", "127.0.0.1", port, block=False)
    try:
        yield url, gradio_client.Client(url, verbose=False)
    finally:
        served.close()


def raw_call(url: str, endpoint: str, body: str) -> str:
    """What the page answers to a request sent as raw JSON (which, unlike gradio's client, may hold NaN)."""
    api = url.rstrip("/") + f"/gradio_api/call/{endpoint}"
    request = urllib.request.Request(api, data=body.encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        event = json.loads(response.read())["event_id"]
    with urllib.request.urlopen(f"{api}/{event}", timeout=60) as response:
        return response.read().decode()


@pytest.mark.parametrize(
    ("endpoint", "data", "field"),
    [("samples", '[0, 4, "3", "", true, NaN]', "truncation ψ must be a finite number"),
     ("samples", '[0, 4, "3", "", false, NaN]', "truncation ψ must be a finite number"),
     ("samples", '[NaN, 4, "3", "", false, 0.7]', "seed must be a finite number"),
     ("samples", '[0, NaN, "3", "", false, 0.7]', "samples must be a finite number"),
     ("samples", '[0, 4, "3", "", true, Infinity]', "truncation ψ must be a finite number"),
     ("samples", '[1e300, 4, "3", "", false, 0.7]', "seed must lie in 0..9223372036854775807"),
     ("interpolation", '[0, 1, NaN, "3", "", false, 0.7]', "interpolation steps must be a finite number"),
     ("interpolation", '[0, Infinity, 4, "3", "", false, 0.7]', "interpolate to seed must be a finite number")],
)  # fmt: skip
def test_the_page_refuses_a_value_that_is_not_a_number_naming_its_field(
    page: tuple[str, Any], endpoint: str, data: str, field: str
) -> None:
    url, _ = page
    answer = raw_call(url, endpoint, '{"data": ' + data + "}")
    assert answer.startswith("event: error"), answer
    assert field in json.loads(answer.split("data:", 1)[1])["error"], answer


def test_the_page_names_the_field_of_a_value_out_of_range(page: tuple[str, Any]) -> None:
    url, client = page
    with pytest.raises(Exception, match=r"samples must lie in 1\.\.64, got 100"):
        client.predict(0, 100, "3", "", False, 0.7, api_name="/samples")
    with pytest.raises(Exception, match=r"truncation ψ must lie in 0\.1\.\.2\.0, got 1e-30"):
        client.predict(0, 4, "3", "", True, 1e-30, api_name="/samples")
    assert raw_call(url, "samples", '{"data": [0, 4, "3", "", true, 0.7]}').startswith("event: complete")


def test_the_explorer_refuses_what_the_page_would(tmp_path: Path) -> None:
    from lightning_gans.demo import Explorer

    explorer = Explorer(registry.variants.create("dcgan").eval(), tmp_path)
    for args, cause in (((0, 4, None, "", math.nan), "truncation ψ: truncation psi must be a finite number"),
                        ((0, 10**6, None, "", None), "samples must lie in 1..64"),
                        ((-1, 4, None, "", None), "seed must lie in 0..")):  # fmt: skip
        with pytest.raises(ValueError, match=re.escape(cause)):
            explorer.samples(*args)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="interpolation steps must lie in 2..16"):
        explorer.interpolation(0, 1, 10**6, None, "", None)
    assert not list(tmp_path.iterdir())


# -- evaluate on few images ------------------------------------------------------------------------------
def test_evaluate_warns_that_metrics_on_few_images_are_biased(
    last: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "few.json"
    code, printed = run_cli(["evaluate", "--ckpt", last, "--metrics", "fid,classes", "--n_fake", "10", "--n_real",
                             "10", "--out", str(out)], capsys)  # fmt: skip
    assert code == 0, printed
    warning = next(line for line in printed.splitlines() if "warning:" in line)
    assert "FID measured on --n_fake 10 and --n_real 10 images are strongly biased" in warning
    assert "at least 10,000" in warning and "10k-50k" in warning
    assert json.loads(out.read_text())["warning"] in warning
    code, printed = run_cli(["evaluate", "--ckpt", last, "--metrics", "classes", "--n_fake", "10", "--n_real", "10",
                             "--out", str(tmp_path / "classes.json")], capsys)  # fmt: skip
    assert code == 0 and "warning" not in printed, printed  # a class count is no biased estimate


def test_image_grid_takes_uint8_images_as_sample_picture_draws_floats() -> None:
    from lightning_gans.images import to_uint8

    images = torch.rand(5, 3, 6, 6, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert torch.equal(image_grid(to_uint8(images), 2), sample_picture(images, 2))

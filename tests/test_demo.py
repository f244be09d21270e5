"""``lightning-gans demo``: the page is served on localhost and driven through gradio's client API, as a
browser's clicks would drive it; the pictures are the model's own."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import run_cli
from PIL import Image

from lightning_gans import demo, registry
from lightning_gans.demo import EACH_CLASS, Explorer, launch, page_title
from lightning_gans.images import save_samples
from lightning_gans.pretrained import Pretrained, from_pretrained
from lightning_gans.sampling import truncated_latents


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def exported(name: str, folder: Path, captions: list[str] | None = None) -> Any:
    torch.manual_seed(0)
    model = registry.variants.create(name).eval()
    if captions is not None:
        model.grid_captions = captions
    Pretrained.from_module(model, {"_class_path": registry.variants.entry(name).class_path}).save_pretrained(folder)
    return from_pretrained(folder)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    """A conditional generator's page on a free localhost port, and a client connected to it."""
    gradio_client = pytest.importorskip("gradio_client", reason="the demo extra (gradio) is not installed")
    model = exported("cgan", tmp_path_factory.mktemp("cgan"))
    served, url = launch(model, "cgan", "127.0.0.1", free_port(), block=False)
    try:
        yield model, gradio_client.Client(url, verbose=False)
    finally:
        served.close()


def pixels(path: str | Path) -> bytes:
    with Image.open(path) as image:
        return image.convert("RGB").tobytes()


def test_the_page_draws_the_models_samples_for_a_seed_and_class(page: tuple[Any, Any], tmp_path: Path) -> None:
    model, client = page
    shown, download = client.predict(7, 6, "3", "", False, 0.7, api_name="/samples")
    expected = save_samples(model.generate(truncated_latents(6, model.latent_dim, None, seed=7), 3), tmp_path / "e.png")
    assert pixels(shown) == pixels(expected)
    assert Path(download).read_bytes() == Path(shown).read_bytes()  # the download button offers the same PNG
    again, _ = client.predict(7, 6, "3", "", False, 0.7, api_name="/samples")
    other, _ = client.predict(8, 6, "3", "", False, 0.7, api_name="/samples")
    assert pixels(again) == pixels(shown) and pixels(other) != pixels(shown)


def test_truncation_and_each_class_in_turn(page: tuple[Any, Any], tmp_path: Path) -> None:
    model, client = page
    shown, _ = client.predict(0, 10, EACH_CLASS, "", True, 0.5, api_name="/samples")
    latents = truncated_latents(10, model.latent_dim, 0.5, "resample", seed=0)
    expected = save_samples(model.generate(latents), tmp_path / "e.png", nrow=model.num_classes)
    assert pixels(shown) == pixels(expected)


def test_interpolation_walks_from_one_seed_to_the_other(page: tuple[Any, Any], tmp_path: Path) -> None:
    model, client = page
    walk, _ = client.predict(1, 2, 5, "4", "", False, 0.7, api_name="/interpolation")
    first, _ = client.predict(1, 1, "4", "", False, 0.7, api_name="/samples")
    last, _ = client.predict(2, 1, "4", "", False, 0.7, api_name="/samples")
    with Image.open(walk) as row, Image.open(first) as a, Image.open(last) as b:
        side = a.width  # a single sample is drawn without a border; a row of them with 2-pixel borders
        assert row.size == (5 * (side + 2) + 2, side + 4)
        assert row.crop((2, 2, 2 + side, 2 + side)).tobytes() == a.tobytes()  # starts at seed 1 ...
        end = 2 + 4 * (side + 2)
        assert row.crop((end, 2, end + side, 2 + side)).tobytes() == b.tobytes()  # ... ends at seed 2


def test_a_bad_request_is_answered_with_its_reason(page: tuple[Any, Any]) -> None:
    _, client = page
    with pytest.raises(Exception, match="12 is not in the list of choices"):  # the page lists the classes
        client.predict(0, 4, "12", "", False, 0.7, api_name="/samples")


def test_a_text_model_draws_for_the_caption(tmp_path: Path) -> None:
    """Without a server: the explorer behind the page, for a caption model (its page shows a caption box)."""
    model = exported("gan_cls", tmp_path / "m", captions=["a dark dress"])
    explorer = Explorer(model, tmp_path / "pictures")
    assert explorer.takes_captions and not explorer.style_based
    shown = explorer.samples(3, 4, None, "a light bag", None)
    z = truncated_latents(4, model.latent_dim, None, seed=3)
    assert pixels(shown) == pixels(save_samples(model.generate_text(z, ["a light bag"]), tmp_path / "e.png"))
    with pytest.raises(ValueError, match="write one"):
        explorer.samples(3, 4, None, " ", None)


def test_demo_without_gradio_says_which_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exported("dcgan", tmp_path / "m")
    monkeypatch.setitem(__import__("sys").modules, "gradio", None)
    code, out = run_cli(["demo", "--ckpt", str(tmp_path / "m")], capsys)
    assert code == 2 and 'pip install "lightning-gans[demo]"' in out


def test_the_page_keeps_few_pictures_and_deletes_them_when_it_closes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gradio_client = pytest.importorskip("gradio_client", reason="the demo extra (gradio) is not installed")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    monkeypatch.setattr(demo, "PICTURES_KEPT", 3)
    model = exported("dcgan", tmp_path / "dcgan")
    served, url = launch(model, "dcgan", "127.0.0.1", free_port(), block=False)
    try:
        client = gradio_client.Client(url, verbose=False)
        for seed in range(5):
            client.predict(seed, 4, EACH_CLASS, "", False, 0.7, api_name="/samples")
        folders = list(temporary.glob("lightning-gans-demo-*"))
        assert len(folders) == 1 and 1 <= len(list(folders[0].glob("*.png"))) <= 3
    finally:
        served.close()
    assert not folders[0].exists()


def test_the_title_names_the_variant_and_the_run_without_repeating_itself() -> None:
    assert page_title("dcgan", "exports/dcgan") == "dcgan generator"
    assert page_title("dcgan", "you/dcgan-fashion") == "dcgan generator · you/dcgan-fashion"
    assert page_title("dcgan", "runs/dcgan_fashion_mnist/checkpoints/last.ckpt") == (
        "dcgan generator · dcgan_fashion_mnist/last.ckpt"
    )

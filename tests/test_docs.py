"""The documentation is checked like code, so that it cannot rot.

* The "Write a variant" page's example, written to a file exactly as printed and registered through a (fake)
  distribution, trains, validates, resumes exactly, samples and evaluates through the public kit and the
  command line; every other Python block of the site is run too, or at least compiled, as the table
  ``PYTHON_BLOCKS`` says (a new block must be added there: a decision, not an accident).
* The README is a landing page: at most 200 lines, the two commands of a fresh machine first (CI extracts
  them), the same commands as the Get started page, and headline figures that agree with the results files.
* No results table on the site is typed by hand: every number comes from ``benchmarks/results/*.json`` through
  the site's ``results-table`` directive, and every registered variant has a card on a family page.

The built site itself (images load, internal links resolve) is opened in a browser by ``tests/test_site.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, FakeDistributions, tiny_images

from lightning_gans import registry
from lightning_gans.cli import main
from lightning_gans.testing import check_datamodule, check_variant

DOCS = REPO / "docs"
README = REPO / "README.md"
RESULTS = REPO / "benchmarks" / "results"


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts and p.name != "README.md")


def python_blocks(page: Path) -> list[str]:
    """The fenced ```python blocks of a page, dedented (a block may sit in a list item)."""
    blocks = []
    for match in re.finditer(r"^( *)```python\n(.*?)^\1```", page.read_text(), re.S | re.M):
        indent = len(match.group(1))
        blocks.append("\n".join(line[indent:] for line in match.group(2).splitlines()) + "\n")
    return blocks


def page_block(page: str) -> str:
    """The first ```python block of ``docs/<page>``."""
    blocks = python_blocks(DOCS / page)
    assert blocks, f"no python block in docs/{page}"
    return blocks[0]


@pytest.fixture
def docs_variant(fake_dists: FakeDistributions) -> str:
    code = page_block("write-a-variant.md")
    module = code.splitlines()[0].removeprefix("# ").removesuffix(".py").replace("/", ".")  # my_gans.hinge
    fake_dists.add("my-gans", {"lightning_gans.variants": {"hinge_gan": f"{module}:HingeGAN"}}, {module: code})
    registry.variants.refresh()
    return "hinge_gan"


def test_the_docs_variant_trains_validates_resumes_exactly_and_samples(docs_variant: str, tmp_path: Path) -> None:
    values = check_variant(lambda: registry.variants.create(docs_variant), tiny_images, tmp_path / "default")
    assert set(values) == {"val/d_loss", "val/g_loss", "val/d_real", "val/d_fake"}  # the base's, with self.loss
    # every option it shows: a relativistic loss, R1 (compiled too: through uncompiled), instance noise, the EMA
    options = {"loss": "relativistic_average", "r1_gamma": 1.0, "instance_noise": 0.1, "ema_decay": 0.9}
    check_variant(lambda: registry.variants.create(docs_variant, **options), tiny_images, tmp_path / "options")


def test_the_docs_variant_runs_from_the_command_line_then_validates_samples_and_evaluates(
    docs_variant: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "run"
    cap = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "4", "--trainer.limit_val_batches", "1",
           "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]  # fmt: skip
    fit = ["fit", "--model", docs_variant, "--model.n_critic", "2", "--data", "fashion_mnist",
           "--data.batch_size", "16", "--trainer.default_root_dir", str(root), *cap]  # fmt: skip
    assert main(fit) == 0, capsys.readouterr().err
    (ckpt,) = (root / "checkpoints").glob("*.ckpt")
    assert main(["validate", "--config", str(root / "config.yaml"), "--ckpt_path", str(ckpt), *cap[6:]]) == 0
    assert "val/d_real" in capsys.readouterr().out
    assert main(["sample", "--ckpt", str(ckpt), "--n", "16", "--out", str(tmp_path / "grid.png")]) == 0
    report = tmp_path / "eval.json"
    code = main(["evaluate", "--ckpt", str(ckpt), "--metrics", "fid,kid", "--n_fake", "200", "--n_real", "200",
                 "--out", str(report)])  # fmt: skip
    assert code == 0 and report.is_file()


# (page, the first 60 characters of the block's first line) -> "run" (executed as printed, with the substitutions
# below) or "compile" (syntax only: it names your own classes or a folder of yours)
PYTHON_BLOCKS = {
    ("write-a-variant.md", "# my_gans/hinge.py"): "run",  # the two tests above
    ("using.md", "import lightning_gans"): "run",
    ("write-a-plugin.md", "class MyPoints(GANDataModule):"): "run",
    ("check-your-parts.md", "from lightning_gans.testing import check_datamodule, check_d"): "compile",
    ("evaluation.md", "from lightning_gans.metrics import SampleQuality"): "compile",
    ("sharing.md", "from lightning_gans import from_pretrained"): "compile",
}  # fmt: skip


def every_block() -> list[tuple[str, str, str]]:
    return [(str(p.relative_to(DOCS)), b.splitlines()[0][:60], b) for p in pages() for b in python_blocks(p)]


def test_every_python_block_of_the_site_is_run_or_compiled() -> None:
    found = {(page, first): code for page, first, code in every_block()}
    unknown = sorted(set(found) - set(PYTHON_BLOCKS))
    assert not unknown, f"python blocks nobody decided about (add them to PYTHON_BLOCKS): {unknown}"
    gone = sorted(set(PYTHON_BLOCKS) - set(found))
    assert not gone, f"PYTHON_BLOCKS names blocks that are no longer on the site: {gone}"
    for (page, _), code in found.items():
        compile(code, f"docs/{page}", "exec")


def test_the_python_from_python_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`Using it`'s block, with its Trainer capped to two batches (it trains five epochs as printed)."""
    code = next(c for p, f, c in every_block() if (p, f) == ("using.md", "import lightning_gans"))
    printed = "Trainer(max_epochs=5)"
    assert printed in code
    capped = "Trainer(max_steps=2, limit_val_batches=0, logger=False, enable_checkpointing=False, " + (
        "enable_progress_bar=False, enable_model_summary=False)"
    )
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    exec(compile(code.replace(printed, capped), "docs/using.md", "exec"), namespace)
    assert tuple(namespace["images"].shape) == (16, 1, 28, 28)
    assert "dcgan" in namespace["lightning_gans"].list_variants()


def test_the_plugin_pages_data_module_passes_its_own_check() -> None:
    code = next(c for p, f, c in every_block() if p == "write-a-plugin.md" and f.startswith("class MyPoints"))
    namespace: dict[str, Any] = {}
    prelude = "import torch\nfrom torch.utils.data import TensorDataset\n"
    prelude += "from lightning_gans.data.base import GANDataModule\n"
    exec(compile(prelude + code, "docs/write-a-plugin.md", "exec"), namespace)
    check_datamodule(lambda: namespace["MyPoints"](batch_size=8))


def readme_lines() -> list[str]:
    return README.read_text().splitlines()


def test_the_readme_states_command_1s_measured_time_with_its_machine() -> None:
    """The figure users check first comes from benchmarks/results/command1.json, not from memory."""
    measured = json.loads((RESULTS / "command1.json").read_text())
    row = measured["rows"]["command 1 (fit)"]
    line = next(line for line in readme_lines() if line.startswith("# 1. "))
    cpu = measured["machine"].split(",")[0]
    expected = f"({row['wall_min']:.1f} min, {row['cpu_s']:.0f} CPU-s: {cpu}, {measured['machine'].split(', ')[1]})"
    assert line.endswith(expected), (line, expected)


def test_the_readme_is_a_landing_page_whose_first_block_holds_the_two_commands() -> None:
    lines = readme_lines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; the site holds the rest"
    first_block = README.read_text().split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert first_block[0].startswith("# 1. ") and any(line.startswith("# 2. ") for line in first_block)
    for link in re.findall(r"\]\((docs/[^)#]+)", README.read_text()):
        assert (REPO / link).is_file(), f"README links to {link}, which does not exist"


def test_the_get_started_page_shows_the_readmes_two_commands() -> None:
    def commands(text: str) -> list[str]:
        lines = text.splitlines()
        return [lines[i + 1] for i, line in enumerate(lines) if re.match(r"^# [12]\. ", line)]

    readme = commands(README.read_text())
    assert len(readme) == 2
    assert commands((DOCS / "get-started.md").read_text()) == readme


def test_the_readmes_headline_figures_agree_with_the_results_files() -> None:
    text = README.read_text().split("## Headline figures", 1)[1].split("\n## ", 1)[0]
    command1 = json.loads((RESULTS / "command1.json").read_text())["rows"]["command 1 (fit)"]
    overhead = {r["run"]: r for r in json.loads((RESULTS / "overhead.json").read_text())["rows"]}
    expected = [
        f"best `val/fid` in command 1's measured run: {command1['best_val_fid']:.2f} ",
        f"a plain PyTorch loop: {overhead['Lightning, lean']['paired_wall_ratio']:.3f}× ",
    ]
    for figure in expected:
        assert figure in text, f"README's headline figures do not say {figure!r}:\n{text}"
    assert len(re.findall(r"^\* ", text, re.M)) == len(expected), "a headline figure without a check here"


DECIMAL = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.])|\d,\d{3}")


def test_no_table_on_the_site_is_typed_by_hand() -> None:
    """Markdown tables may describe (names, options); measured numbers come from the results-table directive."""
    typed = []
    for page in pages():
        for number, line in enumerate(page.read_text().splitlines(), 1):
            if line.startswith("|") and DECIMAL.search(line):
                typed.append(f"docs/{page.relative_to(DOCS)}:{number}: {line[:100]}")
    assert not typed, "tables with numbers typed by hand (use {results-table}):\n" + "\n".join(typed)


def test_every_results_table_names_a_results_file_that_exists() -> None:
    for page in pages():
        for name in re.findall(r"```\{results-table\} (\S+)", page.read_text()):
            assert (RESULTS / name).is_file(), f"docs/{page.relative_to(DOCS)} tables {name}, which does not exist"


def test_every_registered_variant_has_a_card_and_a_picture_or_a_reason() -> None:
    family_pages = sorted((DOCS / "variants").glob("*.md"))
    text = {page.name: page.read_text() for page in family_pages}
    for name in registry.variants.names():
        holders = [page for page, body in text.items() if f"```{{variant-card}} {name}\n" in body]
        assert len(holders) == 1, f"variant {name!r} has a card on {holders or 'no page'}; it needs exactly one"
        section = text[holders[0]].split(f"```{{variant-card}} {name}\n", 1)[1].split("\n## ", 1)[0]
        assert "{variant-picture}" in section or "](../../benchmarks/results/" in section, (
            f"variant {name!r} has no picture (or :missing: reason) in its section of {holders[0]}"
        )


def test_the_pictures_record_matches_its_pngs() -> None:
    record = json.loads((RESULTS / "variant_pictures.json").read_text())
    for name, entry in record["pictures"].items():
        png = RESULTS / entry["picture"]
        assert png.is_file(), f"{name}: {png} is recorded but missing"
        assert png.stat().st_size < 100_000, f"{png.name} is {png.stat().st_size} bytes: keep pictures small"
        for key in ("recipe", "budget", "generator_steps", "results_file", "seed"):
            assert key in entry, f"{name}: no {key!r} for its caption"
        assert (REPO / entry["results_file"]).is_file()

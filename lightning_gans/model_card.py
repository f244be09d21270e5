"""The model card of an exported generator, in the Hub's own format, written from its ``config.json``.

The metadata is ``huggingface_hub.ModelCardData``'s (so the Hub reads it as it reads any model's): the library,
license, tags, the pipeline tag of the task, the datasets by Hub id where the data is a public one, and a
``model-index`` with an ``eval_results`` entry for each metric measured at export, which the Hub shows beside
the model. The text says what the model is (the variant's paper), how it was trained, what was measured with
which protocol, and how to use it, with the repo id once it is known.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from lightning_gans.registry import recorded_distribution

if TYPE_CHECKING:
    from huggingface_hub import EvalResult, ModelCard

DEFAULT_LICENSE = "mit"  # the project's own (pyproject.toml), as a Hub license id
SAMPLES_NAME = "samples.png"
# the Hub datasets that the built-in data modules read (a copy ships in the package or comes from Debian)
HUB_DATASETS = {
    "fashion_mnist": ("zalando-datasets/fashion_mnist", "Fashion-MNIST"),
    "fashion_mnist_captions": ("zalando-datasets/fashion_mnist", "Fashion-MNIST"),
    "stacked_mnist": ("ylecun/mnist", "MNIST"),
}
PLACEHOLDER = "PATH_TO_THIS_FOLDER_OR_HUB_ID"


def pipeline_tag(config: dict[str, Any]) -> str | None:
    """The Hub's task of the model: a class-conditional generator has none of its own on the Hub (it is not
    ``unconditional-image-generation``), so it gets none, and the tag ``class-conditional-image-generation``."""
    task = config.get("task")
    if task == "text":
        return "text-to-image"
    if task == "translation":
        return "image-to-image"
    return None if config.get("num_classes") else "unconditional-image-generation"


def dataset_of(config: dict[str, Any]) -> tuple[str, str] | None:
    """``(Hub dataset id, name)`` of the training data, when it is a public dataset of the Hub."""
    data = (config.get("training") or {}).get("data") or {}
    return HUB_DATASETS.get(str(data.get("class_path")))


def eval_results(config: dict[str, Any], task_type: str) -> list[EvalResult]:
    """An ``EvalResult`` per finite scalar metric measured at export (``lightning-gans export --metrics``)."""
    from huggingface_hub import EvalResult

    results = (config.get("metrics") or {}).get("results") or {}
    dataset = dataset_of(config)
    data = (config.get("training") or {}).get("data") or {}
    dataset_type, dataset_name = dataset or (str(data.get("class_path") or "unknown"), str(data.get("class_path")))
    return [
        EvalResult(
            task_type=task_type,
            dataset_type=dataset_type,
            dataset_name=dataset_name,
            dataset_split="test",
            metric_type=name,
            metric_name=name.upper(),
            metric_value=float(value),
        )  # fmt: skip
        for name, value in results.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ]


def plugins_of(config: dict[str, Any]) -> list[str]:
    """The plugin distributions that provided parts of the model (``config.json``'s ``provided_by``): what a user
    installs besides lightning-gans to load it."""
    recorded = (recorded_distribution(who) for who in (config.get("provided_by") or {}).values())
    names = {who.split()[0] for who in recorded if who is not None}
    return sorted(name for name in names if name.lower().replace("_", "-") != "lightning-gans")


def model_card(config: dict[str, Any], repo_id: str | None = None, has_samples: bool = False) -> ModelCard:
    """The card of the generator ``config`` describes; ``repo_id`` goes into the usage snippet (a placeholder
    until the folder is pushed), and ``has_samples`` shows the folder's sample grid."""
    from huggingface_hub import ModelCard, ModelCardData

    variant = str(config.get("variant") or "generator")
    tag = pipeline_tag(config)
    results = eval_results(config, tag or "class-conditional-image-generation")
    dataset = dataset_of(config)
    tags = {"lightning-gans", "gan", variant} | ({"class-conditional-image-generation"} if tag is None else set())
    data = ModelCardData(
        library_name="lightning-gans",
        license=config.get("license") or DEFAULT_LICENSE,
        tags=sorted(tags),
        pipeline_tag=tag,
        datasets=[dataset[0]] if dataset else None,
        model_name=(repo_id or variant).split("/")[-1] if results else None,
        eval_results=results or None,
    )
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{card_text(config, repo_id, has_samples)}")


def card_text(config: dict[str, Any], repo_id: str | None, has_samples: bool) -> str:
    """The card's text: what the model is, how it was trained and measured, how to use it."""
    variant, task = config.get("variant", "?"), config.get("task", "")
    training = config.get("training") or {}
    lines = [f"# {variant} generator (lightning-gans)", ""]
    what = {"latent": "draws images from noise", "text": "draws images for captions",
            "translation": "translates images"}.get(task, "generates images")  # fmt: skip
    if config.get("num_classes"):
        what += f", one of {config['num_classes']} classes each"
    lines += [f"A model of the `{variant}` variant, trained with lightning-gans, that {what}. Weights: "
              f"{config.get('weights', 'the generator')}.", ""]  # fmt: skip
    if has_samples:
        lines += [f"![samples drawn with seed 0]({SAMPLES_NAME})", ""]
    paper = config.get("paper") or {}
    if paper.get("citation"):
        links = ", ".join(f"[arXiv:{i}](https://arxiv.org/abs/{i})" for i in paper.get("arxiv") or [])
        lines += ["## Paper", "", str(paper["citation"]) + (f" ({links})" if links else ""), ""]
    lines += ["## Model", "", "| | |", "|---|---|", f"| variant | `{variant}` |"]
    for role, spec in (config.get("nets") or {}).items():
        if "built_by_variant" in spec:
            lines.append(f"| {role} | the default {role} of `{variant}` |")
        else:
            lines.append(f"| {role} | `{spec['class_path']}` {json.dumps(spec.get('init_args') or {})} |")
    for role, count in (config.get("parameters") or {}).items():
        lines.append(f"| {role} parameters | {count:,} |")
    provided = {part: who for part, who in (config.get("provided_by") or {}).items() if recorded_distribution(who)}
    if provided:
        lines.append(f"| provided by | {'; '.join(f'{part}: `{who}`' for part, who in provided.items())} |")
    output = config.get("output") or {}
    if output:
        shape = "×".join(str(n) for n in output.get("shape") or []) or "as the input's"
        lines.append(f"| output | {shape} images, values in {output.get('value_range')} |")
    lines += ["", "## Training", "", "| | |", "|---|---|"]
    loss = training.get("loss")
    if loss:
        lines.append(f"| loss | `{loss.get('class_path')}` {json.dumps(loss.get('init_args') or {})} |")
    data = training.get("data")
    if data:
        lines.append(f"| data | `{data.get('class_path')}` {json.dumps(data.get('init_args') or {})} |")
    for key in ("generator_steps", "discriminator_steps", "epochs", "checkpoint"):
        if training.get(key) is not None:
            lines.append(f"| {key.replace('_', ' ')} | {training[key]} |")
    lines += ["", "## Metrics", ""]
    metrics = config.get("metrics")
    if metrics:
        lines += ["| metric | value |", "|---|---|"]
        for name, value in metrics.get("results", {}).items():
            values = value if isinstance(value, list) else [value]  # "inf" and "nan" arrive as strings (strict JSON)
            lines.append(f"| {name} | {', '.join(f'{v:.4g}' if isinstance(v, float) else str(v) for v in values)} |")
        protocol = metrics.get("protocol", {})
        lines += ["", "Protocol: " + "; ".join(f"{k}: {v}" for k, v in protocol.items()) + "."]
    elif output.get("shape") and len(output["shape"]) != 3:
        lines.append("Not measured at export: the generator draws points or vectors, which the image metrics "
                     "(FID, KID, ...) cannot take.")  # fmt: skip
    else:
        lines.append("Not measured at export (`lightning-gans export --metrics none`, or a translation model: "
                     "`lightning-gans validate` reports its L1, PSNR and SSIM).")  # fmt: skip
    source = repo_id or PLACEHOLDER
    lines += ["", "## Use", "", "```bash", " ".join(["pip install lightning-gans", *plugins_of(config)])]
    if task == "translation":
        lines.append(f"lightning-gans translate --ckpt {source} --input photos/ --out translated/")
    elif task == "text":
        lines.append(f"lightning-gans sample --ckpt {source} --text 'a dark pullover' --out samples.png")
    else:
        lines.append(f"lightning-gans sample --ckpt {source} --n 64 --out samples.png")
    lines += ["```", "", "```python", "from lightning_gans import from_pretrained", "",
              f"model = from_pretrained({source!r})"]  # fmt: skip
    if task == "translation":
        lines.append("images = model.translate(batch)  # (N, C, H, W) in [-1, 1]")
    else:
        lines.append("images = model.sample(16, seed=0)  # (16, C, H, W) in [-1, 1]")
    lines += ["```", "", "Loading reads JSON and safetensors only: nothing is unpickled, only registered "
              "lightning-gans parts are built, and neither Lightning nor jsonargparse is imported.", ""]  # fmt: skip
    return "\n".join(lines)

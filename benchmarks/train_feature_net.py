"""Train the shipped Fashion-MNIST feature network (``FashionClassifier``) and record its test accuracy.

Protocol: the 60k train split only (Debian's ``dataset-fashion-mnist`` files), Adam 2e-3 with a cosine
schedule, batch 128, random translations of up to 2 pixels and horizontal flips, fixed seed; the 10k test
split is used once, at the end, to report accuracy. Writes the weights into the package
(``lightning_gans/metrics/weights/fashion_classifier.pt``) and the protocol and accuracy to
``benchmarks/results/fashion_classifier.json``.

    python benchmarks/train_feature_net.py --root /usr/share/datasets/fashion-mnist
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from jsonargparse import CLI
from torch import Tensor

from lightning_gans.data.idx import DEBIAN_FASHION_MNIST, load_idx_split, to_model_range
from lightning_gans.metrics.features import FASHION_CLASSIFIER_WEIGHTS, FashionClassifier, SmallGreyClassifier

REPO = Path(__file__).resolve().parents[1]


def augment(images: Tensor, generator: torch.Generator, max_shift: int = 2) -> Tensor:
    """Random translation (background padding) and horizontal flip."""
    n, _, h, w = images.shape
    padded = F.pad(images, [max_shift] * 4, value=-1.0)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator).tolist()
    shifted = torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])
    flip = torch.rand(n, generator=generator) < 0.5
    shifted[flip] = shifted[flip].flip(-1)
    return shifted


def fit_classifier(
    net: SmallGreyClassifier,
    images: Tensor,
    labels: Tensor,
    augment: Callable[[Tensor, torch.Generator], Tensor],
    epochs: int,
    batch_size: int,
    lr: float,
    generator: torch.Generator,
) -> None:
    """Cross-entropy on ``augment``-ed shuffled batches, Adam at ``lr`` with a cosine schedule; prints the loss of
    each epoch. Shared by this script and ``train_digit_classifier.py``."""
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    steps = epochs * (len(images) // batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    start = time.time()
    for epoch in range(epochs):
        # FeatureNetwork.train() keeps eval mode on purpose; training the classifier itself needs batch
        # statistics, so switch the modules directly.
        for module in net.modules():
            module.training = True
        order = torch.randperm(len(images), generator=generator)
        total = 0.0
        for i in range(len(images) // batch_size):
            index = order[i * batch_size : (i + 1) * batch_size]
            loss = F.cross_entropy(net.head(net.embed(augment(images[index], generator))), labels[index])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item()
        print(f"epoch {epoch + 1}/{epochs}: train loss {total / (i + 1):.4f}  ({time.time() - start:.0f} s)")
    net.eval()


@torch.no_grad()
def accuracy(net: FashionClassifier, images: Tensor, labels: Tensor) -> float:
    net.eval()
    predictions = torch.cat([net.logits(chunk).argmax(1) for chunk in images.split(1000)])
    return float((predictions == labels).float().mean())


def main(
    root: str = str(DEBIAN_FASHION_MNIST), epochs: int = 20, batch_size: int = 128, lr: float = 2e-3, seed: int = 0
) -> None:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    train_x, train_y = load_idx_split(root, "train")
    test_x, test_y = load_idx_split(root, "t10k")
    train_x, test_x = to_model_range(train_x, 28), to_model_range(test_x, 28)
    net = FashionClassifier(pretrained=False)
    start, cpu_start = time.time(), time.process_time()
    fit_classifier(net, train_x, train_y, augment, epochs, batch_size, lr, generator)
    result = {
        "network": "fashion_classifier",
        "parameters": sum(p.numel() for p in net.parameters()),
        "train_split": f"{root} train (60k)",
        "test_split": f"{root} t10k (10k)",
        "train_accuracy": accuracy(net, train_x, train_y),
        "test_accuracy": accuracy(net, test_x, test_y),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "wall_s": round(time.time() - start, 1),
        "cpu_s": round(time.process_time() - cpu_start, 1),
        "hardware": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
        "torch": torch.__version__,
    }
    weights = REPO / "lightning_gans" / "metrics" / FASHION_CLASSIFIER_WEIGHTS
    weights.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.clone() for k, v in net.state_dict().items()}, weights)
    out = REPO / "benchmarks" / "results" / "fashion_classifier.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"test accuracy {result['test_accuracy']:.4f}, train accuracy {result['train_accuracy']:.4f}")
    print(f"wrote {weights} ({weights.stat().st_size / 1e6:.2f} MB) and {out}")


if __name__ == "__main__":
    CLI(main)

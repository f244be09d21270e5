"""``digit_classifier``: a small CNN classifier of grey MNIST digits, the offline classifier behind Stacked
MNIST mode counting (``lightning_gans.metrics.stacked``) and a feature network for MNIST-like digits.

Trained by ``benchmarks/train_digit_classifier.py`` on the 5,000 MNIST digits shipped in the package, except a
seeded 1,000 (100 per class) held out to measure its accuracy (``benchmarks/results/digit_classifier.json``),
with small random rotations, scalings and shifts: the digits a generator stacks are imperfect, and a
classifier that only knows centred, upright digits would count a slightly shifted 3 as another mode.
"""

from __future__ import annotations

from lightning_gans.metrics.features import SmallGreyClassifier


class DigitClassifier(SmallGreyClassifier):
    """A small CNN classifier of MNIST digits (LeCun et al. 1998), used to count the modes of Stacked MNIST
    the way VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018) do: a pretrained MNIST classifier
    labels each colour channel.

    ``benchmarks/train_digit_classifier.py`` retrains it and records its accuracy on held-out digits. Stacked
    MNIST's 32x32 images are padded, not resized, so ``StackedMNISTModes`` crops them itself; colour images are
    refused: classify a stacked image one channel at a time.

    Args:
        pretrained: load the shipped weights (``False`` gives a randomly initialised net, for training).
    """

    name = "digit_classifier"
    weights_file = "weights/digit_classifier.pt"
    trainer = "benchmarks/train_digit_classifier.py"
    refusal = (
        "It classifies one grey MNIST digit: for Stacked MNIST use the metric stacked_modes, which classifies "
        "each colour channel."
    )

"""Text encoders: captions -> embeddings, a registry kind of their own (``lightning_gans.text_encoders``).

The contract (checked by ``tests/test_text.py`` for every registered encoder): ``forward(captions)`` maps a
sequence of N strings to a float tensor (N, ``embedding_dim``) on the encoder's device, the same caption to
the same embedding in eval mode. A trainable encoder (the built-in ``words``) learns with the discriminator
that reads its embeddings; a pretrained one from a plugin (a sentence-transformer, CLIP's text tower) freezes
its parameters (``requires_grad_(False)``) and is then used as it is.

A plugin registers one like any other part::

    [project.entry-points."lightning_gans.text_encoders"]
    minilm = "my_package.text:MiniLMEncoder"          # a subclass of lightning_gans.text.TextEncoder
"""

from __future__ import annotations

import re
import zlib
from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
from torch import Tensor, nn

WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


class TextEncoder(nn.Module, ABC):
    """Base class of every text encoder: ``forward(captions) -> (N, embedding_dim)``."""

    embedding_dim: int

    @abstractmethod
    def forward(self, captions: Sequence[str]) -> Tensor:
        """Embeddings (N, embedding_dim) of N captions."""


def words_of(caption: str) -> list[str]:
    """Lower-cased words (letters and digits, joined by inner hyphens or apostrophes): 'T-shirt, dark.' ->
    ['t-shirt', 'dark']."""
    return WORD.findall(caption.lower())


class WordEncoder(TextEncoder):
    """A small trainable word-level encoder: words hashed into ``buckets`` embeddings, a one-layer bidirectional GRU,
    the mean of its outputs over the words, a linear map to ``embedding_dim``.

    Hashing (CRC-32 of the word, stable across processes and machines) needs no vocabulary file, so any caption
    set works out of the box; distinct words share an embedding only by collision, rare with 4096 buckets for
    the vocabularies of caption sets (a few thousand words). Bucket 0 is padding. It stands in for Reed et al.
    2016's char-CNN-RNN, which was pretrained on the captions: this one trains with the discriminator.

    Args:
        embedding_dim: size of the caption embedding.
        buckets: number of word embeddings (hash buckets).
        word_dim: size of a word embedding and of the GRU's state in each direction.
        max_words: longer captions are cut to their first ``max_words`` words.
    """

    def __init__(self, embedding_dim: int = 128, buckets: int = 4096, word_dim: int = 64, max_words: int = 32) -> None:
        super().__init__()
        if min(embedding_dim, buckets - 1, word_dim, max_words) < 1:
            raise ValueError("embedding_dim, word_dim and max_words must be >= 1 and buckets >= 2")
        self.embedding_dim, self.buckets, self.max_words = embedding_dim, buckets, max_words
        self.words = nn.Embedding(buckets, word_dim, padding_idx=0)
        self.gru = nn.GRU(word_dim, word_dim, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * word_dim, embedding_dim)

    def token_ids(self, captions: Sequence[str]) -> Tensor:
        """(N, L) bucket ids, 0-padded to the longest caption (at least one id per caption)."""
        if isinstance(captions, str):
            raise TypeError("give a sequence of captions, not one string")
        ids = [
            [1 + zlib.crc32(w.encode()) % (self.buckets - 1) for w in words_of(c)][: self.max_words] for c in captions
        ]
        length = max([1, *map(len, ids)])
        return torch.tensor([row + [0] * (length - len(row)) for row in ids], dtype=torch.long)

    def forward(self, captions: Sequence[str]) -> Tensor:
        ids = self.token_ids(captions).to(self.words.weight.device)
        states, _ = self.gru(self.words(ids))
        mask = (ids != 0).unsqueeze(2).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        return self.out(pooled)


__all__ = ["TextEncoder", "WordEncoder", "words_of"]

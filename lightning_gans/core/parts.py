"""The types a variant's constructor gives its generator and discriminator parameters.

Both are ``nn.Module`` at run time; the annotation tells the registry which names a parameter takes, so
``generator_ba: dcgan`` in a CycleGAN recipe means the ``dcgan`` *generator* because ``generator_ba`` is typed
``Generator``, whatever the parameter is called. A variant of your own types its parts the same way.

The contracts (checked by ``lightning_gans.testing``):

* ``Generator``: ``forward(z)`` maps a latent batch ``(N, latent_dim)`` to samples ``(N, *sample_shape)`` in
  [-1, 1]; it has an integer attribute ``latent_dim``. A class-conditional one has a positive
  ``num_classes`` attribute and is called as ``forward(z, labels)``. Image-to-image variants (pix2pix,
  CycleGAN, SRGAN) use generators that map images to images instead.
* ``Discriminator``: ``forward(x)`` maps samples ``(N, *sample_shape)`` to one raw score (logit) per sample,
  shape ``(N,)`` or ``(N, 1)``; a multi-head one (ACGAN, InfoGAN) says which outputs it has in an ``outputs``
  attribute, and a patch discriminator (PatchGAN) sets ``score_map = True``.
"""

from __future__ import annotations

from typing import Annotated

from torch import nn

from lightning_gans.registry import PartKind

Generator = Annotated[nn.Module, PartKind("generators")]
Discriminator = Annotated[nn.Module, PartKind("discriminators")]

__all__ = ["Discriminator", "Generator"]

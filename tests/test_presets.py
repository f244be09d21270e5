"""The presets: registered variants that subclass ``GAN`` to give a paper's defaults (dcgan, wgan, wgan_gp, lsgan,
hinge_sn, pacgan, unrolled). Each repeats GAN's constructor signature to change defaults, so these tests keep
them from drifting from it, and keep their real defaults visible in ``--model.help``.

A preset whose ``None`` default means something else than it does for ``GAN`` (WGAN's ``loss=None`` is a
``WassersteinLoss()``) must say so in its own docstring, as ``NAME: ``None`` (the default) means ``EXPR``.``:
jsonargparse shows that line in ``--model.help``, and EXPR is evaluated here and compared with what the
constructor really builds.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any, get_type_hints

import docstring_parser
import pytest
import torch
from jsonargparse import ArgumentParser
from torch import nn
from torch.optim import SGD, Optimizer

from lightning_gans import registry
from lightning_gans.losses.gan import MinimaxLoss
from lightning_gans.nets.ebgan import MLPAutoencoderDiscriminator
from lightning_gans.nets.mlp import MLPDiscriminator, MLPGenerator
from lightning_gans.nets.progan import ProGANDiscriminator, ProGANGenerator
from lightning_gans.nets.stylegan import StyleGANGenerator
from lightning_gans.regularisers import Regularisation
from lightning_gans.variants.gan import GAN

PRESETS = [
    name
    for name in registry.variants.names()
    if issubclass(registry.variants.load(name), GAN) and registry.variants.load(name) is not GAN
]
GAN_PARAMETERS = [name for name in inspect.signature(GAN.__init__).parameters if name != "self"]
STATED_DEFAULT = re.compile(r"``None`` \(the default\) means ``([^`]+)``")


def test_the_seven_presets_are_all_checked() -> None:
    assert set(PRESETS) >= {"dcgan", "wgan", "wgan_gp", "lsgan", "hinge_sn", "pacgan", "unrolled"}


def own_parameters(cls: type[GAN]) -> dict[str, inspect.Parameter]:
    return {k: v for k, v in inspect.signature(cls.__init__).parameters.items() if k != "self"}


@pytest.mark.parametrize("name", PRESETS)
def test_preset_takes_every_gan_parameter_with_the_same_type_and_place(name: str) -> None:
    """A preset may add parameters and change defaults, but takes all of GAN's, typed alike and in GAN's order (so a
    positional call means the same)."""
    cls = registry.variants.load(name)
    parameters = own_parameters(cls)
    assert [p for p in GAN_PARAMETERS if p not in parameters] == [], f"{cls.__name__} lacks GAN parameters"
    hints, gan_hints = (
        get_type_hints(cls.__init__, include_extras=True),
        get_type_hints(GAN.__init__, include_extras=True),
    )
    for parameter in GAN_PARAMETERS:
        assert hints.get(parameter) == gan_hints.get(parameter), f"{cls.__name__}.{parameter} is typed differently"
        assert parameters[parameter].kind == inspect.signature(GAN.__init__).parameters[parameter].kind
    assert [p for p in parameters if p in GAN_PARAMETERS] == GAN_PARAMETERS, f"{cls.__name__} reorders GAN's"


def sgd(params: Iterable[Any]) -> Optimizer:
    return SGD(params, lr=0.1)


# For each GAN parameter: a value that differs from every preset's default, and how to see that it arrived.
GIVEN: dict[str, tuple[Callable[[], Any], Callable[[GAN, Any], bool]]] = {
    "generator": (lambda: MLPGenerator(latent_dim=3), lambda model, value: model.generator is value),
    "discriminator": (
        lambda: MLPDiscriminator(in_shape=(2, 28, 28)),  # for pack=2, below
        lambda model, value: model.discriminator is value,
    ),
    "loss": (lambda: MinimaxLoss(label_smoothing=0.1), lambda model, value: model.loss is value),
    "n_critic": (lambda: 3, lambda model, value: model.n_critic == value),
    "regularisation": (lambda: Regularisation(r1_gamma=0.5), lambda model, value: model.regularisation is value),
    "pack": (lambda: 2, lambda model, value: model.pack == value),
    "g_optimizer": (lambda: sgd, lambda model, value: model.g_optimizer is value),
    "d_optimizer": (lambda: sgd, lambda model, value: model.d_optimizer is value),
    "ema_decay": (lambda: 0.5, lambda model, value: model.generator_ema is not None),
    "n_grid_samples": (lambda: 7, lambda model, value: model.fixed_noise.shape[0] == value),
}


def test_every_gan_parameter_has_a_given_value_here() -> None:
    assert sorted(GIVEN) == sorted(GAN_PARAMETERS), "a new GAN parameter: add a value for it to GIVEN"


# Presets that only work with nets of their own kind (progan grows its nets, stylegan mixes styles) get those,
# given all the same.
OWN_NETS: dict[str, Callable[[], dict[str, nn.Module]]] = {
    "progan": lambda: {"generator": ProGANGenerator(latent_dim=3), "discriminator": ProGANDiscriminator(channels=2)},
    "stylegan": lambda: {"generator": StyleGANGenerator(latent_dim=3)},
    "ebgan": lambda: {"discriminator": MLPAutoencoderDiscriminator(in_shape=(2, 28, 28))},  # codes for its PT term
}


@pytest.mark.parametrize("name", PRESETS)
def test_preset_passes_every_given_gan_argument_on(name: str) -> None:
    values = {parameter: make() for parameter, (make, _) in GIVEN.items()}
    values.update(OWN_NETS.get(name, dict)())
    model = registry.variants.create(name, **values)
    for parameter, (_, arrived) in GIVEN.items():
        assert arrived(model, values[parameter]), f"{name} drops or replaces the given {parameter}"


def describe(value: Any) -> Any:
    """What tells two defaults apart: a net's class and parameter shapes, a dataclass's fields, an object's
    class and attributes."""
    if isinstance(value, nn.Module):  # sorted: spectral norm re-registers a layer's weight after its bias
        return type(value), sorted(tuple(p.shape) for p in value.parameters())
    if dataclasses.is_dataclass(value):
        return value
    return type(value), vars(value)


# What the constructor made of each parameter whose default is None.
BUILT: dict[str, Callable[[GAN], Any]] = {
    "generator": lambda model: describe(model.generator),
    "discriminator": lambda model: describe(model.discriminator),
    "loss": lambda model: describe(model.loss),
    "regularisation": lambda model: describe(model.regularisation),
    "ema_decay": lambda model: model.generator_ema,  # None: no EMA, for every preset alike
}


def stated_defaults(cls: type) -> dict[str, str]:
    """``{parameter: EXPR}`` for the preset's own Args lines ``NAME: ``None`` (the default) means ``EXPR``...``."""
    stated = {}
    for param in docstring_parser.parse(inspect.getdoc(cls) or "").params:
        match = STATED_DEFAULT.search(" ".join((param.description or "").split()))
        if match:
            stated[param.arg_name] = match.group(1)
    return stated


def model_help(cls: type) -> str:
    parser = ArgumentParser()
    parser.add_class_arguments(cls, "model")
    return " ".join(parser.format_help().split())


def help_of(text: str, parameter: str) -> str:
    """The help of ``--model.PARAMETER``, up to the next option (the options come after the usage line)."""
    start = text.rindex(f"--model.{parameter} {parameter.upper()}")
    end = text.find(" --model.", start + 1)
    return text[start : end if end > 0 else len(text)]


@pytest.mark.parametrize("name", PRESETS)
def test_preset_states_what_its_none_defaults_build_and_help_shows_it(name: str) -> None:
    cls = registry.variants.load(name)
    parameters = own_parameters(cls)
    torch.manual_seed(0)
    model, plain = cls(), GAN()
    stated = stated_defaults(cls)
    shown = model_help(cls)
    namespace = {**vars(inspect.getmodule(cls)), **{k: p.default for k, p in parameters.items()}}
    for parameter, signature in parameters.items():
        if signature.default is not None:
            continue  # a real value, which --model.help shows as the default
        assert parameter in BUILT, f"{name}.{parameter} defaults to None: teach this test what it builds"
        built = BUILT[parameter](model)
        if parameter in stated:
            expected = eval(stated[parameter], namespace)  # the docstring's expression, in the preset's module
            assert built == describe(expected), f"{name}: {parameter}=None does not build {stated[parameter]}"
            assert f"``{stated[parameter]}``" in help_of(shown, parameter), f"--model.help hides {name}.{parameter}"
        else:
            assert built == BUILT[parameter](plain), (
                f"{name}.{parameter}=None builds something else than GAN's None; state it in {cls.__name__}'s "
                f"docstring as '{parameter}: ``None`` (the default) means ``...``'"
            )


@pytest.mark.parametrize("name", PRESETS)
def test_parameters_a_preset_adds_are_documented_in_it(name: str) -> None:
    cls = registry.variants.load(name)
    added = [p for p in own_parameters(cls) if p not in GAN_PARAMETERS]
    documented = {p.arg_name for p in docstring_parser.parse(inspect.getdoc(cls) or "").params}
    assert [p for p in added if p not in documented] == []

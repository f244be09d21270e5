"""Developer sessions: `nox -s tests`, `nox -s tests_minimum`, `nox -s lint`, `nox -s typecheck`, `nox -s plugins`,
`nox -s train`, `nox -s demo_screenshot`, `nox -s docs`, `nox -s slurm`.

Every session installs torch and torchvision as a matching pair from PyPI first, with `--isolated` so
that a machine-wide pip configuration pointing at another torch build (e.g. a CPU-only wheel that PyPI's
torchvision cannot load) is not used.
"""

from __future__ import annotations

import sys

import nox
from packaging.requirements import Requirement  # a dependency of nox

if sys.version_info >= (3, 11):
    import tomllib
else:  # nox itself running on Python 3.10
    import tomli as tomllib

nox.options.sessions = ["lint", "tests", "plugins"]
nox.options.reuse_existing_virtualenvs = True

TORCH_PAIR = ["torch==2.13.0", "torchvision==0.28.0"]
PLUGIN = "plugins/lightning-gans-example"


def install_project(session: nox.Session, *extras: str) -> None:
    suffix = f"[{','.join(extras)}]" if extras else ""
    session.install("--isolated", *TORCH_PAIR, "-e", f".{suffix}")


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The test suite (offline; W&B runs offline)."""
    install_project(session, "test")
    session.run("pytest", *session.posargs, env={"WANDB_MODE": "offline"})


def minimum_pins() -> list[str]:
    """pyproject.toml's dependencies, each pinned at its lower bound: ``name>=X`` becomes ``name==X``."""
    with open("pyproject.toml", "rb") as file:
        dependencies = tomllib.load(file)["project"]["dependencies"]
    pins = []
    for dependency in dependencies:
        requirement = Requirement(dependency)
        lower = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if len(lower) != 1:
            raise ValueError(f"{dependency!r} in pyproject.toml needs exactly one lower bound (>=X) to pin")
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        marker = f"; {requirement.marker}" if requirement.marker else ""
        pins.append(f"{requirement.name}{extras}=={lower[0]}{marker}")
    return pins


@nox.session(python="3.11")
def tests_minimum(session: nox.Session) -> None:
    """The test suite against the oldest versions pyproject.toml allows, every dependency at its lower bound.

    The lower bounds of torch and torchvision must be a matching pair (tests/test_dependencies.py checks it);
    the test tools (pytest, ...) are the latest. Not in the default sessions: it downloads a second torch.
    """
    pins = minimum_pins()
    session.install("--isolated", *pins, "-e", ".[test]")
    session.run("pip", "check")
    # tests/test_dependencies.py then asserts that each installed version is exactly the lower bound
    env = {"WANDB_MODE": "offline", "LIGHTNING_GANS_MINIMUM_VERSIONS": "1"}
    session.run("pytest", *session.posargs, env=env)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff: lint and format check."""
    session.install("--isolated", "ruff>=0.6")
    session.run("ruff", "check", "lightning_gans", "tests", "benchmarks", "plugins", "noxfile.py")
    session.run("ruff", "format", "--check", "lightning_gans", "tests", "benchmarks", "plugins", "noxfile.py")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    """mypy over the library, against the real torch/lightning types."""
    install_project(session)
    session.install("--isolated", "mypy>=1.10")
    session.run("mypy", "lightning_gans")


@nox.session(python="3.11")
def plugins(session: nox.Session) -> None:
    """pip-install the example plugin, list it, and train a recipe that names its parts by registry name."""
    install_project(session)
    session.install("--isolated", "--no-deps", PLUGIN)
    output = session.run("lightning-gans", "list", silent=True)
    for name in ("upsample_conv", "minibatch_std", "reverse_kl"):
        if name not in str(output):
            session.error(f"the example plugin's {name!r} is missing from `lightning-gans list`:\n{output}")
    print(output)
    session.run(
        "lightning-gans", "fit", "--config", f"{PLUGIN}/recipe.yaml", "--trainer.max_epochs", "1",
        "--trainer.limit_train_batches", "20", "--trainer.limit_val_batches", "2",
        env={"WANDB_MODE": "offline"},
    )  # fmt: skip


@nox.session(python="3.11")
def train(session: nox.Session) -> None:
    """The default recipe: DCGAN on the shipped Fashion-MNIST (about 5 minutes on 2 CPU cores)."""
    install_project(session)
    session.run("lightning-gans", "fit", "--config", "recipes/dcgan_fashion_mnist.yaml", *session.posargs)


@nox.session(python="3.11")
def demo_screenshot(session: nox.Session) -> None:
    """The README's screenshot of `lightning-gans demo`: the page on localhost in a headless Chromium.

    Give the model after `--`: `nox -s demo_screenshot -- --ckpt RUN/checkpoints/last.ckpt` (or an exported folder;
    add `--caption '...'` for a text-to-image model). Uses Debian's /usr/bin/chromium when installed (`apt-get
    install chromium`), else playwright's own Chromium, downloaded here.
    """
    install_project(session, "demo")
    session.install("--isolated", "playwright>=1.40")
    if not any(arg.startswith("--ckpt") for arg in session.posargs):
        session.error("give the model: nox -s demo_screenshot -- --ckpt RUN/checkpoints/last.ckpt")
    if not session.run("which", "chromium", external=True, success_codes=[0, 1], silent=True):
        session.run("playwright", "install", "chromium")
    session.run("python", "benchmarks/demo_screenshot.py", *session.posargs)


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    """The documentation site: `sphinx-build -W` (warnings are errors) into docs/_build/html, then the browser
    test of the built pages (tests/test_site.py; skipped without a Chromium). `nox -s docs -- serve` then
    serves the site on http://127.0.0.1:8000 until interrupted.
    """
    install_project(session, "docs", "test")
    session.run("sphinx-build", "-E", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")
    env = {"LIGHTNING_GANS_SITE": "docs/_build/html", "WANDB_MODE": "offline"}
    session.run("pytest", "tests/test_site.py", "tests/test_docs.py", env=env)
    if "serve" in session.posargs:
        session.log("serving docs/_build/html on http://127.0.0.1:8000 (Ctrl-C stops)")
        session.run("python", "-m", "http.server", "8000", "--bind", "127.0.0.1", "--directory", "docs/_build/html")


@nox.session(python="3.11")
def slurm(session: nox.Session) -> None:
    """recipes/slurm_2_nodes.sbatch on a real 2-node SLURM cluster on this host (tests/test_slurm.py, ~90 s).
    Needs root: installs Debian's slurmd, slurmctld, slurm-client and munge with apt-get."""
    install_project(session, "test")
    session.run("apt-get", "install", "-y", "-qq", "slurmd", "slurmctld", "slurm-client", "munge", external=True)
    env = {"LIGHTNING_GANS_REQUIRE_SLURM": "1", "WANDB_MODE": "offline"}
    session.run("pytest", "-q", "tests/test_slurm.py", *session.posargs, env=env)

"""Which install extra brings a missing module, said in one line.

The core install (``pip install jaxcurr``) brings what :mod:`jaxcurr.transforms`,
:mod:`jaxcurr.teachers` and :mod:`jaxcurr.signals` import; the runner, environments, datasets
and sinks come with extras (``pyproject.toml``). A ``ModuleNotFoundError`` for one of their
modules becomes ``"<feature> needs the 'run' extra (no module named 'gymnax'): pip install
'jaxcurr[run]'"``.
"""

from __future__ import annotations

# top-level module -> the extra that installs it (scipy and orbax are not here: jax requires
# scipy and flax orbax-checkpoint, so the core has them)
EXTRA_OF_MODULE = {
    **dict.fromkeys(("gymnax", "six", "flashbax", "sklearn", "matplotlib", "tqdm", "tomli_w"),
                    "run"),
    **dict.fromkeys(("tensorflow_datasets", "tensorflow", "importlib_resources"), "tfds"),
    **dict.fromkeys(("mujoco", "gymnasium_robotics"), "mujoco"),
    **dict.fromkeys(("tensorboardX", "tensorboard"), "tensorboard"),
    "wandb": "wandb",
    "torch": "torch",
}


def extra_of(err: ModuleNotFoundError) -> str | None:
    """The extra that installs the missing module, or None for a module no extra brings."""
    return EXTRA_OF_MODULE.get((err.name or "").split(".")[0])


def missing_module(err: BaseException | None) -> ModuleNotFoundError | None:
    """The ``ModuleNotFoundError`` in ``err`` or the exceptions it was raised from (libraries
    such as TFDS import lazily and wrap what they raise)."""
    while err is not None and not isinstance(err, ModuleNotFoundError):
        err = err.__cause__ or err.__context__
    return err


def needs_extra(feature: str, extra: str, err: ModuleNotFoundError) -> str:
    """One line: ``feature`` needs ``extra`` (``err`` says which module is missing)."""
    return (f"{feature} needs the {extra!r} extra (no module named {err.name!r}): "
            f"pip install 'jaxcurr[{extra}]'")

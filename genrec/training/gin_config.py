"""Resolving gin configs in the parent and re-parsing them on every rank.

absl flags and gin bindings do not survive a process spawn, so the parent turns
the config files plus bindings into one resolved string; ranks and checkpoints
carry that string and parse it again.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Sequence
from pathlib import Path

import gin

# Packages whose modules define gin configurables (encoders, losses, trainer...).
CONFIGURABLE_PACKAGES = ("genrec.modeling", "genrec.training")

NUM_ITEMS_MACRO = "NUM_ITEMS"


def import_configurables() -> None:
    """Import every module that registers configurables, so any config parses."""
    for package_name in CONFIGURABLE_PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.walk_packages(package.__path__, f"{package_name}."):
            if module.name.endswith(("_cli", ".cli")):
                continue  # entry points define absl flags at import time
            importlib.import_module(module.name)


def resolve_config(
    gin_files: Sequence[str | Path],
    gin_bindings: Sequence[str],
    *,
    num_items: int,
) -> str:
    """Parse config files and bindings, bind the catalogue size; return the result.

    `NUM_ITEMS` is a macro the configs reference wherever the model needs the
    catalogue size; it is always taken from the data, never from a file.

    Raises:
        FileNotFoundError: naming a missing config file.
    """
    import_configurables()
    for path in gin_files:
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: gin config file not found")
    gin.clear_config()
    gin.parse_config_files_and_bindings(
        [str(path) for path in gin_files],
        [*gin_bindings, f"{NUM_ITEMS_MACRO} = {num_items}"],
        finalize_config=False,
    )
    resolved = gin.config_str()
    gin.clear_config()
    return resolved


def check_trainer_config(config: str, *, build_model: bool = False) -> None:
    """Build the `Trainer` that `config` describes, to raise its refusals now.

    A Trainer only records its settings (the model and dataset are built by the
    ranks), so this is cheap; it lets a launcher refuse `Trainer.num_epochs = 0`
    or a misspelt selection metric before it spawns ranks or preprocesses.

    Args:
        config: a resolved config (`resolve_config`).
        build_model: also build the model, its optimizer and its schedule, to
            check their settings too (`adamw.learning_rate = -1`): cheap with the
            stand-in catalogue size of a check made before the data exists.

    Raises:
        ValueError: the refusal's own message on one line, gin's "In call to
            configurable" context folded in.
    """
    from genrec.training.trainer import Trainer

    parse_resolved(config)
    try:
        trainer = Trainer()
        if build_model:
            model = trainer.model_factory()
            trainer.scheduler_factory(trainer.optimizer_factory(model.parameters()))
    except (ValueError, TypeError) as error:
        raise ValueError(one_line(error)) from error
    finally:
        gin.clear_config()


def one_line(error: BaseException) -> str:
    """`error`'s message on one line: gin's added context becomes a suffix."""
    first, *context = [line.strip() for line in str(error).splitlines()]
    configurables = [
        match.group(1)
        for line in context
        if (match := re.match(r"In call to configurable '([^']+)'", line))
    ]
    others = [line for line in context if not line.startswith("In call to")]
    text = " ".join([first, *others])
    return f"{text} (in {configurables[0]})" if configurables else text


def parse_resolved(config: str, operative_config: str | None = None) -> None:
    """Make `config` (from `resolve_config` or a checkpoint) the active gin config.

    Args:
        config: the resolved config (explicit bindings only).
        operative_config: the operative config a training recorded (every
            parameter of every object it built, defaults included), parsed on
            top so that a default changed in the code since does not change
            what an old run or checkpoint means.
    """
    import_configurables()
    gin.clear_config()
    gin.parse_config(config)
    if operative_config:
        gin.parse_config(operative_config)


def operative_config() -> str:
    """The operative gin config of this process: every parameter used so far.

    Unlike `resolve_config`, which holds only what files and bindings set, it
    lists the value each configurable actually received, defaults included
    (`Trainer.bf16`, `adamw.betas`, ...); call it after the objects are built.
    """
    return gin.operative_config_str()

"""The `genrec` command: `genrec SUBCOMMAND --flag=value ...`.

Each subcommand lives in its own module, which defines its absl flags and a
`main(argv)`. Modules are imported lazily so that one subcommand's flags (and
heavy imports such as torch or prefect) never load for another.
"""

from __future__ import annotations

import importlib
import sys

from absl import app, flags

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "preprocess": ("genrec.data.cli", "Raw ratings -> Parquet sequences."),
    "train": ("genrec.training.cli", "Train a model from a gin config."),
    "evaluate": ("genrec.training.evaluate_cli", "Evaluate a checkpoint."),
    "pipeline": ("flows.cli", "preprocess -> train -> evaluate -> register."),
    "deploy": ("flows.deploy", "Serve the pipeline with a nightly schedule."),
    "ui": ("flows.ui", "Start the Prefect server and MLflow UI on 127.0.0.1."),
}


def _usage() -> str:
    lines = ["usage: genrec SUBCOMMAND [--flags]", "", "subcommands:"]
    for name, (_, summary) in SUBCOMMANDS.items():
        lines.append(f"  {name:<12}{summary}")
    lines.append("")
    lines.append("`genrec SUBCOMMAND --helpfull` lists a subcommand's flags.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    if len(argv) < 2 or argv[1] not in SUBCOMMANDS:
        print(_usage(), file=sys.stderr)
        sys.exit(0 if len(argv) >= 2 and argv[1] in {"-h", "--help"} else 2)
    name = argv[1]
    module = importlib.import_module(SUBCOMMANDS[name][0])
    _show_own_flags_in_help()
    # absl's --help opens with the main module's docstring: make it the command's.
    sys.modules["__main__"].__doc__ = module.__doc__
    app.run(module.main, argv=[f"genrec {name}", *argv[2:]])


def _show_own_flags_in_help() -> None:
    """Make genrec's flags key flags, so `--help` lists them (not only absl's)."""
    for module_name in flags.FLAGS.flags_by_module_dict():
        if module_name.split(".")[0] in {"genrec", "flows"}:
            flags.adopt_module_key_flags(sys.modules[module_name])


if __name__ == "__main__":
    main()

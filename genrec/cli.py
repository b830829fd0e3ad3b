"""The `genrec` command: `genrec SUBCOMMAND --flag=value ...`.

Each subcommand lives in its own module, which defines its absl flags and a
`main(argv)`; argv holds only the program name, as a stray word is refused
here for every subcommand. Modules are imported lazily so that one subcommand's
flags (and heavy imports such as torch or prefect) never load for another.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable

from absl import app, flags

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "preprocess": ("genrec.data.cli", "Raw ratings -> Parquet sequences."),
    "train": ("genrec.training.cli", "Train a model from a gin config."),
    "evaluate": ("genrec.training.evaluate_cli", "Evaluate a checkpoint."),
    "pipeline": ("flows.cli", "preprocess -> train -> evaluate -> register."),
    "deploy": ("flows.deploy", "Serve the pipeline with a nightly schedule."),
    "ui": ("flows.ui", "Start the Prefect server and MLflow UI on 127.0.0.1."),
}


# What a user's mistake raises: a flag value or gin binding (ValueError; gin's
# parser raises SyntaxError), a file (OSError).
USER_ERRORS = (ValueError, OSError, SyntaxError)


# absl's help flags, each spelt with one dash or two.
HELP_FLAGS = {
    dashes + name
    for name in ("help", "helpshort", "helpfull", "helpxml", "?")
    for dashes in ("-", "--")
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
    app.run(
        _one_line_errors(name, module.main),
        # absl knows no -h, the short help flag most commands take.
        argv=[
            f"genrec {name}",
            *("--help" if arg == "-h" else arg for arg in argv[2:]),
        ],
        flags_parser=functools.partial(_parse_flags, name),
    )


def _parse_flags(name: str, argv: list[str]) -> list[str]:
    """Parse the flags; a mistake in them is one line and exit 1, as in main.

    absl would print its own two lines for an unknown flag, a bad value or a
    missing required flag; a word that is not a flag (`--dedup false`, where a
    boolean takes no separate value) would reach the subcommand unseen.
    """
    try:
        rest = flags.FLAGS(argv)
        if len(rest) > 1:
            raise flags.Error(
                f"unexpected arguments {rest[1:]}: "
                "a flag takes its value after '=' (--flag=value)"
            )
    except SystemExit as done:
        # absl prints the help asked for, then exits with status 1: that is a
        # failure to a shell or a script, and the help was what was asked.
        if done.code == 1 and HELP_FLAGS & {arg.split("=")[0] for arg in argv[1:]}:
            sys.exit(0)
        raise
    except flags.Error as error:
        if os.environ.get("GENREC_TRACEBACK"):
            raise
        sys.exit(f"genrec {name}: {' '.join(str(error).split())}")
    return rest


def _one_line_errors(name: str, run: Callable[[list[str]], None]) -> Callable:
    """Wrap a subcommand so that a user's mistake prints as one line, exit 1.

    A bad flag value, a missing file, a gin typo or a run folder in use raises
    one of USER_ERRORS, whose message names the culprit: the traceback would
    only bury it. Ctrl-C says "interrupted" and exits 130 (128 + SIGINT, as a
    shell reports it). GENREC_TRACEBACK=1 keeps the traceback.
    """

    def main(argv: list[str]) -> None:
        from genrec.training.gin_config import one_line
        from genrec.training.runs import RunDirInUseError

        try:
            run(argv)
        except (*USER_ERRORS, RunDirInUseError) as error:
            if os.environ.get("GENREC_TRACEBACK"):
                raise
            # A rank's ValueError from a gin configurable carries gin's context
            # on further lines.
            sys.exit(f"genrec {name}: {one_line(error)}")
        except KeyboardInterrupt:
            if os.environ.get("GENREC_TRACEBACK"):
                raise
            # The `with` blocks it passed have cleaned up on the way (preprocess
            # keeps a previous output): a traceback would only say where it landed.
            print(f"genrec {name}: interrupted", file=sys.stderr)
            sys.exit(130)

    return main


def _show_own_flags_in_help() -> None:
    """Make genrec's flags key flags of the main module, so `--help` lists them.

    absl's `--help` lists the key flags of the module named by sys.argv[0]: the
    console script (`.../bin/genrec`) or, under `python -m`, this file.
    """
    for module_name, module_flags in flags.FLAGS.flags_by_module_dict().items():
        if module_name.split(".")[0] in {"genrec", "flows"}:
            for flag in module_flags:
                flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)


if __name__ == "__main__":
    main()

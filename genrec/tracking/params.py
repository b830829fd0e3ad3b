"""The resolved gin config as flat MLflow params: `Selector.arg -> value`.

MLflow params are short strings (keys up to 250 characters, values up to
6000), so each gin binding becomes one param; references keep their gin
spelling (`@AdamW`, `%NUM_ITEMS`) and scoped bindings keep their scope
(`eval/Trainer.batch_size`). The full text is logged as an artifact too.
"""

from __future__ import annotations

from typing import Any

from gin import config_parser

MAX_KEY_CHARS = 250
MAX_VALUE_CHARS = 6000


class _TextReferences(config_parser.ParserDelegate):
    """Keep configurable references and macros as their gin text."""

    def configurable_reference(self, scoped_configurable_name: str, evaluate: bool):
        return _Literal(f"@{scoped_configurable_name}{'()' if evaluate else ''}")

    def macro(self, macro_name: str):
        return _Literal(f"%{macro_name}")


class _Literal(str):
    """A string whose repr is itself, so nested references print unquoted."""

    def __repr__(self) -> str:
        return str(self)


def flatten_gin_config(config_text: str) -> dict[str, str]:
    """Parse a gin config string into `{"scope/Selector.arg": "value"}`.

    Args:
        config_text: a resolved (operative) gin config, as the trainer writes it.

    Returns:
        One entry per binding, in file order; imports and includes are skipped.

    Raises:
        SyntaxError: naming the line and column of text gin cannot parse.
    """
    params: dict[str, str] = {}
    for statement in config_parser.ConfigParser(config_text, _TextReferences()):
        if not isinstance(statement, config_parser.BindingStatement):
            continue
        selector = ".".join(p for p in (statement.selector, statement.arg_name) if p)
        key = f"{statement.scope}/{selector}" if statement.scope else selector
        params[key[:MAX_KEY_CHARS]] = _format_value(statement.value)
    return params


def run_params(config_text: str, operative_config_text: str) -> dict[str, str]:
    """The params of a training: its operative config over its resolved config.

    The operative config holds every parameter of the objects the training
    built, defaults included (`Trainer.bf16`, `adamw.betas`); the resolved
    config adds explicit bindings of configurables called only after it was
    captured (`evaluate_split.batch_size`). Where both have a key, the
    operative value is the one that was used.
    """
    return flatten_gin_config(config_text) | flatten_gin_config(operative_config_text)


def _format_value(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text[:MAX_VALUE_CHARS]

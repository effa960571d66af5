"""Command-line options from a config dataclass: one `--option` per field, so each default and help lives once.

    @dataclass
    class Config:
        steps: int | None = option(None, "stop after this many steps")  # field(default=None, metadata={"help": ...})
        select: str = option("best", "which epoch to keep", choices=("best", "last"))

    config = parse_config(Config, argv, "python -m stylist <command>", "one line")

A field `name_x` becomes `--name-x`, typed by its annotation (`int | None`: an int option whose default is None),
with the help and, where the field has a fixed set of values, the choices of its `field(metadata=...)`; a bool
becomes `--x/--no-x`, a tuple or list `--x A B ...`. `more` adds the few options of a command that are not
settings (whose pairs, a status file) to the same parser; `config_from` reads the dataclass back.

Not `transformers.HfArgumentParser`, which does the same in spirit: it would load transformers (seconds) for every
`--help` and into the app's page modules, which import no torch or transformers; it spells a bool
`--x [true|false]`, with `--no_x` only for a True default, where the commands take `--x/--no-x`; and it cannot
read `tuple[int, ...]` fields. The app reads its `--refine-args` with the same parser (`parse_known_config`), so
the app and the refine worker share one definition of the refine options.
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import MISSING, Field, field, fields
from typing import Any, TypeVar

Config = TypeVar("Config")


def summary(doc: str | None) -> str:
    """A command's description for `--help`: the first paragraph of its module docstring, whole (its first line
    alone often stops mid-sentence)."""
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def option(default: Any = MISSING, help: str = "", choices: Sequence | None = None) -> Any:
    """A dataclass field that carries its option's help, and its fixed set of values when it has one."""
    metadata = {"help": help} if choices is None else {"help": help, "choices": tuple(choices)}
    return field(default=default, metadata=metadata)


def _base_type(hint: Any) -> Any:
    """`int` of `int | None` / `Optional[int]`; the hint itself otherwise."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        kinds = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(kinds) == 1:
            return kinds[0]
    return hint


def _add_option(parser: argparse.ArgumentParser, f: Field, hint: Any) -> None:
    kind = _base_type(hint)
    kwargs: dict[str, Any] = {"help": (f.metadata.get("help") or "").replace("%", "%%") or None}
    if "choices" in f.metadata:
        kwargs["choices"] = tuple(f.metadata["choices"])
    if f.default is not MISSING:
        kwargs["default"] = f.default
    elif f.default_factory is not MISSING:
        kwargs["default"] = f.default_factory()
    else:
        kwargs["required"] = True
    if kind is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif typing.get_origin(kind) in (tuple, list):
        kwargs.update(nargs="+", type=typing.get_args(kind)[0])
    else:
        kwargs["type"] = kind if isinstance(kind, type) else type(kwargs.get("default"))
    parser.add_argument(f"--{f.name.replace('_', '-')}", **kwargs)


def config_from(config: type[Config], args: argparse.Namespace) -> Config:
    """The dataclass filled from parsed options (a tuple field from its list)."""
    hints = typing.get_type_hints(config)
    values = {}
    for f in fields(config):
        if f.init and hasattr(args, f.name):
            value = getattr(args, f.name)
            values[f.name] = tuple(value) if typing.get_origin(_base_type(hints[f.name])) is tuple else value
    return config(**values)


class _HelpWithDefaults(argparse.HelpFormatter):
    """Each option's help ends with its default, unless the default is nothing to show (None, off, '')."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help, default = action.help or "", action.default
        if (not action.option_strings or "%(default)" in help or default is None or default is False or default == ""
                or default is argparse.SUPPRESS):
            return help
        shown = " ".join(map(str, default)) if isinstance(default, (tuple, list)) else str(default)
        return f"{help} (default: {shown.replace('%', '%%')})".lstrip()


def config_parser(config: type, prog: str | None = None, description: str | None = None,
                  more: Callable[[argparse.ArgumentParser], None] | None = None,
                  add_help: bool = True) -> argparse.ArgumentParser:
    """A parser of `config`'s options, each help ending with its default, and the options `more` adds."""
    parser = argparse.ArgumentParser(prog=prog, description=description, add_help=add_help,
                                     formatter_class=_HelpWithDefaults)
    if more is not None:
        more(parser)
    hints = typing.get_type_hints(config)
    for f in fields(config):
        if f.init:
            _add_option(parser, f, hints[f.name])
    return parser


def parse_config(config: type[Config], argv: Sequence[str] | None, prog: str, description: str,
                 more: Callable[[argparse.ArgumentParser], None] | None = None) -> Config:
    """The dataclass filled from the command line (a bad value exits with argparse's status 2)."""
    return config_from(config, config_parser(config, prog, description, more).parse_args(argv))


def parse_known_config(config: type[Config], argv: Sequence[str]) -> Config:
    """The dataclass from the options of `argv` that are its fields; the others are left to whoever reads them."""
    return config_from(config, config_parser(config, add_help=False).parse_known_args(list(argv))[0])

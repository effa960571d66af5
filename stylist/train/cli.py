"""Command lines from config dataclasses: one `--option` per field, so a recipe's defaults live in one place."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields
from typing import TypeVar

Config = TypeVar("Config")


def parse_config(config: type[Config], argv: list[str] | None, prog: str, description: str) -> Config:
    """The dataclass filled from the command line; a field's type is its default's, its help its metadata's."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    for f in fields(config):
        default = f.default if f.default is not MISSING else f.default_factory()
        if isinstance(default, bool):  # a flag: --name / --no-name
            parser.add_argument(f"--{f.name.replace('_', '-')}", action=argparse.BooleanOptionalAction,
                                default=default, help=f.metadata.get("help"))
            continue
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(default), default=default,
                            help=f.metadata.get("help"))
    return config(**vars(parser.parse_args(argv)))

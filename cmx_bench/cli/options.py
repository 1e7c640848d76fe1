"""Parsing of option values shared by several commands."""

from __future__ import annotations

from pathlib import Path

from cmx_bench.errors import CmxError


def parse_weights(values: list[str], models: list[str]) -> dict[str, Path]:
    """`--weights PATH` (one model) or `--weights MODEL=PATH` (any number)."""
    weights = {}
    for value in values:
        name, sep, path = value.partition("=")
        if sep and name in models:
            weights[name] = Path(path)
        elif len(models) == 1:
            weights[models[0]] = Path(value)
        else:
            raise CmxError(f"--weights {value} is ambiguous with {len(models)} models; write --weights MODEL=PATH")
    return weights

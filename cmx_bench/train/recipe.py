"""Training recipes in a file: `train` and `sweep` options as TOML keys, checked, ranked preset < file < command
line, turned into a TrainConfig, and written back as a run folder's recipe.toml."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from cmx_bench.errors import CmxError, UnknownNameError
from cmx_bench.tomlcompat import tomllib
from cmx_bench.train.presets import TrainConfig, preset

RECIPE_FILE = "recipe.toml"


@dataclass(frozen=True)
class RecipeKey:
    """One option a recipe may set: its name (the option without '--'), its type and its smallest value."""

    name: str
    kind: type
    minimum: float | None = None

    @property
    def field(self) -> str:
        return self.name.replace("-", "_")


def _keys(*specs) -> dict[str, RecipeKey]:
    keys = [RecipeKey(*spec) if isinstance(spec, tuple) else spec for spec in specs]
    return {key.field: key for key in keys}


# Every option that says what a run learns. --out, --resume, --accelerator, --precision and --workers say where
# and how it runs, so they stay on the command line.
CONFIG_KEYS = _keys(("preset", str), ("epochs", int, 1), ("batch-size", int, 1), ("lr", float, 0.0),
                    ("optimizer", str), ("weight-decay", float, 0.0), ("schedule", str),
                    ("warmup-epochs", float, 0.0), ("bn-refresh", str), ("augment", str), ("balance", str),
                    ("ema", float), ("select", str), ("student-loss-at", str), ("input-size", int, 32),
                    ("loss", str), ("margin", float), ("seed", int), ("alpha", float), ("temperature", float))
TRAIN_KEYS = {**_keys(("data", Path), ("model", str), ("teacher", Path), ("init", str), ("snapshots", Path),
                      ("cache", Path), ("skip-bad", bool), ("tensorboard", bool), ("sync-bn", bool)),
              **CONFIG_KEYS}
SWEEP_KEYS = {**_keys(("model", str), ("data", Path), ("teacher", Path), ("snapshots", Path),
                      ("snapshot-teacher", Path), ("alphas", str), ("temperatures", str), ("losses", str)),
              **{k: v for k, v in CONFIG_KEYS.items()
                 if k in ("preset", "epochs", "select", "student_loss_at", "input_size", "lr", "augment", "balance",
                          "bn_refresh", "ema")}}
# TrainConfig fields that no option sets: a recipe keeps them at the preset's value.
_NOT_OPTIONS = ("arcface_scale", "arcface_margin", "student_loss_at_t")


def read_recipe(path: Path, keys: dict[str, RecipeKey]) -> dict:
    """The settings of a recipe file, by field name; one line naming the file and the key for anything wrong."""
    try:
        with open(path, "rb") as handle:
            table = tomllib.load(handle)
    except OSError as exc:
        raise CmxError(f"cannot read recipe {path} ({exc.strerror or exc}); pass an existing TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise CmxError(f"recipe {path} is not TOML ({exc}); fix the file or pass another") from None
    values = {}
    for name, value in table.items():
        key = keys.get(name.replace("-", "_"))
        if key is None:
            raise UnknownNameError(f"recipe {path}: unknown key '{name}'; known keys: "
                                   f"{', '.join(k.name for k in keys.values())}")
        values[key.field] = _checked(path, key, value)
    return values


def _checked(path: Path, key: RecipeKey, value):
    """The value as its option would take it, or one line saying what the key needs."""
    kind = key.kind
    fits = (isinstance(value, bool) if kind is bool else
            isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float else
            isinstance(value, int) and not isinstance(value, bool) if kind is int else isinstance(value, str))
    if not fits:
        wanted = {bool: "true or false", float: "a number", int: "an integer", str: "a string",
                  Path: "a path (a string)"}[kind]
        raise CmxError(f"recipe {path}: key '{key.name}' is {json.dumps(value, default=str)}; it needs {wanted}")
    if key.minimum is not None and value < key.minimum:
        raise CmxError(f"recipe {path}: key '{key.name}' is {value}; it needs at least {key.minimum:g}")
    return Path(value) if kind is Path else float(value) if kind is float else value


def resolve_recipe(keys: dict[str, RecipeKey], recipe: Path | None, given: dict) -> dict:
    """Every recipe setting, by field name: the command line's (`given`, None where not passed) over the file's;
    what neither sets is None (the preset's value, for a TrainConfig field). A flag set on either side is set."""
    from_file = read_recipe(recipe, keys) if recipe is not None else {}
    values = {}
    for field, key in keys.items():
        passed = given.get(field)
        if key.kind is bool:
            values[field] = bool(passed) or bool(from_file.get(field, False))
        else:
            values[field] = passed if passed is not None else from_file.get(field)
    return values


def recipe_config(values: dict) -> TrainConfig:
    """The TrainConfig of resolved recipe settings: their preset (default cpu), then every setting given."""
    overrides = {field: values.get(field) for field in CONFIG_KEYS if field not in ("preset", "student_loss_at")}
    return preset(values.get("preset") or "cpu", student_loss_at_t=student_loss_at_t(values.get("student_loss_at")),
                  **overrides)


def student_loss_at_t(value: str | None) -> bool | None:
    """`--student-loss-at t|1` as the config's flag (None: the preset's)."""
    if value is None:
        return None
    if value not in ("t", "1"):
        raise UnknownNameError(f"unknown --student-loss-at '{value}'; choose t (Eq. 2 as written) or 1 (Hinton et al.)")
    return value == "t"


def resolved_recipe(keys: dict[str, RecipeKey], values: dict, config: TrainConfig) -> dict:
    """The settings a run used, by field name: every config setting as the config holds it (so the preset no
    longer matters), and every other setting that was given."""
    config_values = {field: value for field, value in asdict(config).items()
                     if field in keys and field not in _NOT_OPTIONS}
    if "student_loss_at" in keys:
        config_values["student_loss_at"] = "t" if config.student_loss_at_t else "1"
    others = {field: values[field] for field in keys
              if field not in CONFIG_KEYS and values.get(field) not in (None, False)}
    return {"preset": values.get("preset") or "cpu", **others, **config_values}


def recipe_text(keys: dict[str, RecipeKey], settings: dict, command: str) -> str:
    """A recipe file that `--recipe` reads back to the same settings: one `key = value` line per setting."""
    lines = [f"# The recipe of this run, resolved. Repeat it with: {command} --recipe THIS_FILE --out NEW_FOLDER"]
    for field, key in keys.items():
        if settings.get(field) is not None:
            lines.append(f"{key.name} = {_toml_value(settings[field])}")
    return "\n".join(lines) + "\n"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    # A JSON string is a TOML basic string: the same quotes and escapes.
    return json.dumps(str(value.resolve()) if isinstance(value, Path) else value)

"""Load pydantic configs from YAML plus ``--set key.path=value`` overrides.

Every mistake is reported as one :class:`~glam_apps.errors.ConfigError` line that
names the offending key: an unknown key comes with the closest valid keys
(``difflib``), a bad value with pydantic's reason and the value given. Keys are
checked against the models' fields *before* validation, so a typo is never
silently ignored, whatever the ``extra`` policy of the library configs is.
"""

from __future__ import annotations

import difflib
import inspect
import os
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml
from pydantic import BaseModel

from glam_apps.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)

#: Marker for a field whose value is a free-form mapping (any key accepted).
_FREE = object()
#: Marker for a leaf field (a value, not a section).
_LEAF = object()


def _unwrap_optional(annotation: Any) -> list[Any]:
    """The non-None members of a union annotation (or the annotation itself)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if origin is typing.Annotated:
        return _unwrap_optional(typing.get_args(annotation)[0])
    return [annotation]


def _section_kind(annotation: Any) -> Any:
    """A nested model class, ``_FREE`` for mappings, or ``_LEAF`` for plain values."""
    members = _unwrap_optional(annotation)
    models = [m for m in members if inspect.isclass(m) and issubclass(m, BaseModel)]
    if len(models) == 1:
        return models[0]
    for member in members:
        origin = typing.get_origin(member) or member
        if inspect.isclass(origin) and issubclass(origin, Mapping):
            return _FREE
        if member is Any:
            return _FREE
    return _LEAF


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    """Field name (and alias) -> annotation for a model class."""
    names: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        names[name] = field.annotation
        if field.alias and field.alias != name:
            names[field.alias] = field.annotation
    return names


def valid_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every dotted key path the model accepts (sections and leaves)."""
    keys: list[str] = []
    for name, annotation in _fields(model).items():
        dotted = f"{prefix}{name}"
        keys.append(dotted)
        kind = _section_kind(annotation)
        if inspect.isclass(kind) and issubclass(kind, BaseModel):
            keys.extend(valid_keys(kind, prefix=f"{dotted}."))
    return keys


def _unknown_key_error(key: str, prefix: str, model: type[BaseModel]) -> ConfigError:
    dotted = f"{prefix}{key}"
    siblings = [f"{prefix}{name}" for name in _fields(model)]
    candidates = difflib.get_close_matches(dotted, siblings, n=3, cutoff=0.6)
    if not candidates:
        # A key misplaced in another section: look among every key of the tree.
        root_keys = valid_keys(model, prefix=prefix)
        leaf = key.lower()
        by_leaf = {k.rsplit(".", 1)[-1].lower(): k for k in root_keys}
        candidates = [
            by_leaf[m] for m in difflib.get_close_matches(leaf, list(by_leaf), n=3, cutoff=0.6)
        ]
    if candidates:
        hint = "did you mean " + ", ".join(f"'{c}'" for c in candidates) + "?"
    else:
        shown = ", ".join(f"'{s}'" for s in siblings[:12])
        hint = f"valid keys here: {shown}" + (", ..." if len(siblings) > 12 else "")
    return ConfigError(f"unknown config key '{dotted}'; {hint}")


def check_keys(data: Mapping[str, Any], model: type[BaseModel], prefix: str = "") -> None:
    """Raise :class:`ConfigError` for the first key ``model`` does not define."""
    fields = _fields(model)
    for key, value in data.items():
        if not isinstance(key, str) or key not in fields:
            raise _unknown_key_error(str(key), prefix, model)
        kind = _section_kind(fields[key])
        if isinstance(value, Mapping) and inspect.isclass(kind) and issubclass(kind, BaseModel):
            check_keys(value, kind, prefix=f"{prefix}{key}.")


def _leaf_annotation(model: type[BaseModel], path: Sequence[str]) -> Any:
    """The annotation at ``path`` (checking every segment), or ``Any`` under a free mapping."""
    current: Any = model
    for depth, key in enumerate(path):
        prefix = "".join(f"{p}." for p in path[:depth])
        if current is _FREE:
            return Any
        if not (inspect.isclass(current) and issubclass(current, BaseModel)):
            raise ConfigError(
                f"config key '{prefix.rstrip('.')}' is a value, not a section; "
                f"cannot set '{'.'.join(path)}'"
            )
        fields = _fields(current)
        if key not in fields:
            raise _unknown_key_error(key, prefix, current)
        annotation = fields[key]
        if depth == len(path) - 1:
            return annotation
        current = _section_kind(annotation)
    return Any


def _is_text_annotation(annotation: Any) -> bool:
    members = _unwrap_optional(annotation)
    return any(m is str or (inspect.isclass(m) and issubclass(m, os.PathLike)) for m in members)


def parse_override(text: str, model: type[BaseModel]) -> tuple[tuple[str, ...], Any]:
    """Parse ``key.path=value``; the value is typed by YAML unless the field is text.

    ``--set ppo.learning_rate=1e-5`` gives a float, ``--set env.level=GoToLocal`` a
    string, ``--set run.eval_every=null`` None, ``--set policy.model=123`` the string
    ``"123"`` because the field is text.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override '{text}' is not of the form key.path=value")
    path = tuple(key.split("."))
    if any(not part for part in path):
        raise ConfigError(f"override key '{key}' has an empty part")
    annotation = _leaf_annotation(model, path)
    if _is_text_annotation(annotation) and raw.strip().lower() not in {"null", "none", "~"}:
        return path, raw
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return path, value


def set_path(data: dict[str, Any], path: Sequence[str], value: Any) -> None:
    """Set ``data[path[0]][path[1]]... = value``, creating sections on the way."""
    node = data
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[path[-1]] = value


def load_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML (or JSON) mapping; a missing or malformed file is a :class:`ConfigError`."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"config file not found: {file}")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"config file {file} is not valid YAML{where}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {file} must hold a mapping of keys, not {type(data).__name__}"
        )
    return data


def format_validation_error(error: pydantic.ValidationError) -> str:
    """One line naming each bad key, the reason and the value given."""
    parts = []
    for item in error.errors():
        loc = ".".join(str(part) for part in item.get("loc", ()))
        message = " ".join(str(item.get("msg", "invalid value")).split())
        message = message.removeprefix("Value error, ")
        given = item.get("input")
        shown = "" if isinstance(given, dict) else f" (got {given!r})"
        parts.append(f"{loc or 'config'}: {message}{shown}")
    return "invalid config: " + "; ".join(parts)


def validate(model: type[ModelT], data: Mapping[str, Any]) -> ModelT:
    """Check the keys, then validate; every failure is a one-line :class:`ConfigError`."""
    check_keys(data, model)
    try:
        return model.model_validate(dict(data))
    except pydantic.ValidationError as error:
        raise ConfigError(format_validation_error(error)) from error
    except (ValueError, TypeError) as error:
        raise ConfigError(f"invalid config: {error}") from error


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive dict merge: sections merge key by key, values in ``update`` win."""
    merged: dict[str, Any] = {key: value for key, value in base.items()}
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def compose(
    model: type[ModelT],
    *,
    base: Mapping[str, Any] | None = None,
    path: str | os.PathLike[str] | None = None,
    overrides: Iterable[str] = (),
) -> ModelT:
    """``base`` dict, then the YAML file at ``path``, then ``key=value`` overrides."""
    data: dict[str, Any] = merge({}, base or {})
    if path is not None:
        file_data = load_yaml(path)
        check_keys(file_data, model)
        data = merge(data, file_data)
    for text in overrides:
        key_path, value = parse_override(text, model)
        set_path(data, key_path, value)
    return validate(model, data)

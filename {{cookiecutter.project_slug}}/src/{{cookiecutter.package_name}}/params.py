"""Reading params.yaml and schema.yaml, the two files that configure the pipeline."""

from pathlib import Path
from typing import Any

import yaml

from .errors import UserError


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} not found; run this command from the project root.")
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML ({exc.__class__.__name__}); fix its syntax.") from exc
    if not isinstance(content, dict):
        raise UserError(f"{path} must be a mapping of sections; see the template's version of it.")
    return content


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    return load_yaml(path)


def load_schema(path: str | Path = "schema.yaml") -> dict[str, Any]:
    schema = load_yaml(path)
    if not isinstance(schema.get("features"), dict) or not schema["features"]:
        raise UserError(f"{path} has no `features` mapping; list each feature column with its dtype.")
    if not isinstance(schema.get("target"), dict) or "name" not in schema["target"]:
        raise UserError(f"{path} has no `target` with a `name`; name the column the model predicts.")
    return schema


def feature_names(schema: dict[str, Any]) -> list[str]:
    return list(schema["features"])


def target_classes(schema: dict[str, Any]) -> list | None:
    """The target's classes as schema.yaml lists them (classification), else None."""
    allowed = schema["target"].get("allowed")
    return list(allowed) if allowed is not None else None


def positive_class(params: dict[str, Any], schema: dict[str, Any]):
    """The class that precision, recall, f1 and the ROC curve are about in a binary task."""
    classes = target_classes(schema) or []
    chosen = (params.get("evaluate") or {}).get("positive_class")
    return chosen if chosen is not None else (classes[-1] if classes else 1)

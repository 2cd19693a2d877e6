"""Edit a generated params.yaml as its user would: values changed in place, comments kept."""

import re

import yaml

# A comment line of the train section suggesting a model's hyperparameters: `#   name: {k: v, ...}`.
SUGGESTION = re.compile(r"^\s*#\s+(\w+):\s+(\{.*\})\s*$")


def suggested_hyperparameters(text: str) -> dict[str, dict]:
    """model -> hyperparameters, from the comment lines of params.yaml's train section."""
    train = text.split("\ntrain:\n", 1)[1].split("\n\n", 1)[0]
    return {m[1]: yaml.safe_load(m[2]) for line in train.splitlines() if (m := SUGGESTION.match(line))}


def _section(text: str, section: str) -> tuple[int, int]:
    start = re.search(rf"^{section}:.*\n", text, flags=re.MULTILINE)
    assert start, f"params.yaml has no {section} section"
    end = re.search(r"^\S", text[start.end() :], flags=re.MULTILINE)
    return start.end(), start.end() + (end.start() if end else len(text) - start.end())


def set_value(text: str, section: str, key: str, value) -> str:
    """Set `section.key` to a scalar, keeping the line's comment."""
    begin, end = _section(text, section)
    rendered = yaml.safe_dump(value).removesuffix("\n").removesuffix("\n...")
    block, found = re.subn(
        rf"^(  {key}:)[ \t]*[^#\n]*?([ \t]*#.*)?$",
        lambda m: f"{m[1]} {rendered}{m[2] or ''}",
        text[begin:end],
        count=1,
        flags=re.MULTILINE,
    )
    assert found == 1, f"params.yaml has no {section}.{key}"
    return text[:begin] + block + text[end:]


def set_mapping(text: str, section: str, key: str, mapping: dict) -> str:
    """Replace the block mapping under `section.key` (its lines indented four spaces) with `mapping`."""
    begin, end = _section(text, section)
    lines = "".join(
        f"    {name}: {yaml.safe_dump(value).splitlines()[0]}\n" for name, value in mapping.items()
    )
    block, found = re.subn(
        rf"^(  {key}:.*\n)(?:    .*\n)*", lambda m: m[1] + lines, text[begin:end], count=1, flags=re.MULTILINE
    )
    assert found == 1, f"params.yaml has no {section}.{key} mapping"
    return text[:begin] + block + text[end:]


def edit(text: str, edits: dict[str, dict]) -> str:
    """Apply {section: {key: value}}: a mapping value replaces the block under its key."""
    for section, values in edits.items():
        for key, value in values.items():
            setter = set_mapping if isinstance(value, dict) else set_value
            text = setter(text, section, key, value)
    return text

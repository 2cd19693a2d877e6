"""Requests checked against GitHub's published REST API description (the excerpt in
tests/standins/github-rest/, see its extract.py for where it comes from): the method and path must
be an operation, the query names its parameters, and a JSON body must match the operation's schema."""

import json
import re
from functools import cache
from pathlib import Path

import jsonschema

EXCERPT = Path(__file__).parent / "standins" / "github-rest" / "api.github.com.excerpt.json"


@cache
def operations() -> list[tuple[re.Pattern, dict]]:
    found = []
    for op in json.loads(EXCERPT.read_text())["operations"]:
        pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(op["path"]))
        found.append((re.compile(pattern), op))
    return found


def violation(method: str, path: str, query: dict, body) -> str | None:
    """Why GitHub would not take this request as its description defines it; None if it would."""
    ops = [op for pattern, op in operations() if pattern.fullmatch(path)]
    op = next((op for op in ops if op["method"] == method), None)
    if op is None:
        return f"{method} {path} is not an operation of GitHub's REST API (as far as this stand-in knows)"
    known = {p["name"] for p in op["parameters"] if p["in"] == "query"}
    strangers = sorted(set(query) - known)
    if strangers:
        return f"{op['operationId']} has no query parameter {strangers[0]!r}"
    schema = op["requestBody"]
    if schema is None:
        return f"{op['operationId']} takes no body" if body not in (None, b"", {}) else None
    if body in (None, b"") and not op["bodyRequired"]:
        return None
    try:
        jsonschema.validate(body, schema)
    except jsonschema.ValidationError as error:
        where = "/".join(map(str, error.absolute_path)) or "the body"
        return f"{op['operationId']}: {where}: {error.message}"
    return None

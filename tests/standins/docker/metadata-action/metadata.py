"""Stand-in for docker/metadata-action: tags, version and OCI labels from the workflow context."""

import csv
import json
import os
import sys
import urllib.request
from datetime import UTC, datetime

PRIORITY = {"schedule": 1000, "edge": 700, "ref": 600, "raw": 200, "sha": 100}
DEFAULT_TAGS = ["type=schedule", "type=ref,event=branch", "type=ref,event=tag", "type=ref,event=pr"]


def fail(message: str) -> None:
    print(f"::error::{message}")
    sys.exit(1)


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def attributes(line: str) -> dict[str, str]:
    attrs = {}
    for field in next(csv.reader([line])):
        key, sep, value = field.partition("=")
        if not sep:
            fail(f"Invalid tag attribute: {field}")  # a bare value is only allowed as a raw shorthand
        attrs[key.strip().lower()] = value.strip()
    return attrs


def repository(env) -> dict:
    request = urllib.request.Request(
        f"{env['GITHUB_API_URL']}/repos/{env['GITHUB_REPOSITORY']}",
        headers={
            "Authorization": f"token {env['INPUT_GITHUB_TOKEN']}",
            "Accept": "application/vnd.github+json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except OSError as exc:
        fail(f"Cannot get the repository {env['GITHUB_REPOSITORY']} from the GitHub API: {exc}")


def tag_value(attrs: dict, env, repo: dict) -> str | None:
    """The tag one `tags` line gives in this context, or None when it does not apply here."""
    kind, event, ref, sha = attrs["type"], env["GITHUB_EVENT_NAME"], env["GITHUB_REF"], env["GITHUB_SHA"]
    if kind == "raw":
        if not attrs.get("value"):
            fail("Raw value attribute is empty")
        return attrs["value"]
    if kind == "sha":
        fmt = attrs.get("format", "short")
        if fmt not in ("short", "long"):
            fail(f"Invalid format for sha tag: {fmt}")
        return attrs.get("prefix", "sha-") + (sha if fmt == "long" else sha[:7])
    if kind == "schedule":
        return attrs.get("pattern", "nightly") if event == "schedule" else None
    branch = ref.removeprefix("refs/heads/").replace("/", "-") if ref.startswith("refs/heads/") else None
    if kind == "edge":
        return "edge" if branch and branch == attrs.get("branch", repo["default_branch"]) else None
    if kind == "ref":
        wanted = attrs.get("event")
        if wanted not in ("branch", "tag", "pr"):
            fail(f"Invalid event for ref tag: {wanted}")
        if wanted == "branch":
            return branch
        if wanted == "tag" and ref.startswith("refs/tags/"):
            return ref.removeprefix("refs/tags/").replace("/", "-")
        if wanted == "pr" and ref.startswith("refs/pull/"):
            return "pr-" + ref.removeprefix("refs/pull/").removesuffix("/merge")
        return None
    fail(f"stand-in: tag type {kind!r} is not implemented here (only {', '.join(PRIORITY)})")


def write_output(name: str, value: str) -> None:
    with open(os.environ["GITHUB_OUTPUT"], "a") as out:
        out.write(f"{name}<<__STANDIN_EOF__\n{value}\n__STANDIN_EOF__\n")


def main() -> None:
    env = os.environ
    if env["INPUT_CONTEXT"] not in ("workflow", "git"):
        fail(f"Unknown context: {env['INPUT_CONTEXT']}")
    if env["INPUT_FLAVOR"].strip():
        fail("stand-in: flavor is not implemented here")
    repo = repository(env)
    images = [attributes(f"name={i}" if "=" not in i else i) for i in lines(env["INPUT_IMAGES"])]
    images = [i["name"] for i in images if i.get("enable", "true") == "true"]

    versions = []  # (priority, tag), stable-sorted below
    for line in lines(env["INPUT_TAGS"]) or DEFAULT_TAGS:
        attrs = attributes(line if "=" in line else f"type=raw,value={line}")
        if attrs.get("type") not in PRIORITY:
            fail(f"Unknown tag type attribute: {attrs.get('type')}")
        if attrs.get("enable", "true") != "true":
            continue
        value = tag_value(attrs, env, repo)
        if value and value not in (v for _, v in versions):
            versions.append((int(attrs.get("priority", PRIORITY[attrs["type"]])), value))
    versions.sort(key=lambda item: -item[0])
    names = [v for _, v in versions]
    if not names:
        print("::warning::No Docker tag has been generated. Check tags input.")
    tags = [f"{image}:{name}" for image in images for name in names] if images else names

    labels = {
        "org.opencontainers.image.title": repo.get("name") or "",
        "org.opencontainers.image.description": repo.get("description") or "",
        "org.opencontainers.image.url": repo.get("html_url") or "",
        "org.opencontainers.image.source": repo.get("html_url") or "",
        "org.opencontainers.image.version": names[0] if names else "",
        "org.opencontainers.image.created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "org.opencontainers.image.revision": env["GITHUB_SHA"],
        "org.opencontainers.image.licenses": (repo.get("license") or {}).get("spdx_id") or "",
    }
    for line in lines(env["INPUT_LABELS"]):
        key, sep, value = line.partition("=")
        if not sep:
            fail(f"Invalid label: {line}")
        labels[key] = value
    label_lines = [f"{k}={v}" for k, v in labels.items()]

    write_output("version", names[0] if names else "")
    write_output("tags", (env["INPUT_SEP_TAGS"] or "\n").join(tags))
    write_output("tag-names", "\n".join(names))
    write_output("labels", (env["INPUT_SEP_LABELS"] or "\n").join(label_lines))
    write_output("annotations", "")
    write_output("json", json.dumps({"tags": tags, "labels": labels, "annotations": []}))
    print("stand-in metadata-action: tags " + ", ".join(tags))


if __name__ == "__main__":
    main()

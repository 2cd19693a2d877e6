"""Stand-in for docker/build-push-action: check and record the build context, Dockerfile and tags."""

import fnmatch
import hashlib
import json
import os
import re
import shlex
import sys
from pathlib import Path

BOOLEANS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
# Docker's reference grammar (distribution/reference): lowercase path components, a tag of up to 128.
COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
DOMAIN = r"(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*(?::[0-9]+)?)"
REFERENCE = re.compile(rf"(?:{DOMAIN}/)?{COMPONENT}(?:/{COMPONENT})*(?::[\w][\w.-]{{0,127}})?")


def fail(message: str) -> None:
    print(f"::error::{message}")
    sys.exit(1)


def boolean(name: str) -> bool:
    value = os.environ[f"INPUT_{name.upper()}"]
    if value not in BOOLEANS:
        fail(
            f'Input does not meet YAML 1.2 "Core Schema" specification: {name}\n'
            "Support boolean input list: `true | True | TRUE | false | False | FALSE`"
        )
    return BOOLEANS[value]


def items(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def context_files(context: Path, dockerfile: Path) -> list[str]:
    """The files the builder sends: everything in the context minus .dockerignore's patterns."""
    ignore_file = next(
        (p for p in (Path(f"{dockerfile}.dockerignore"), context / ".dockerignore") if p.is_file()), None
    )
    patterns = items(ignore_file.read_text()) if ignore_file else []
    patterns = [p for p in patterns if not p.startswith("#")]
    kept = []
    for path in sorted(context.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(context).as_posix()
        ignored = False
        for pattern in patterns:
            negate, pattern = pattern.startswith("!"), pattern.lstrip("!").strip("/")
            parts = relative.split("/")
            if any(fnmatch.fnmatch("/".join(parts[: i + 1]), pattern) for i in range(len(parts))):
                ignored = not negate
        if not ignored:
            kept.append(relative)
    return kept


def instructions(dockerfile: Path) -> list[tuple[str, list[str]]]:
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def copy_sources(rest: str) -> list[str] | None:
    """The context paths a COPY/ADD reads, or None when it copies from another stage or image."""
    flags = []
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        flags.append(flag)
        rest = rest.strip()
    if any(f.startswith("--from=") for f in flags):
        return None
    args = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
    return args[:-1]


def check_sources(context: Path, files: list[str], dockerfile: Path) -> None:
    for word, rest in instructions(dockerfile):
        if word not in ("COPY", "ADD"):
            continue
        for source in copy_sources(rest) or []:
            if "$" in source or re.match(r"https?://|git@", source):
                continue
            wanted = os.path.normpath(source.lstrip("/")).removeprefix("./")
            if wanted == ".":
                continue
            present = any(fnmatch.fnmatch(f, wanted) or f.startswith(wanted.rstrip("/") + "/") for f in files)
            if not present:
                fail(
                    f'ERROR: failed to solve: failed to compute cache key: "/{wanted}": not found '
                    f"({word} {rest} in {dockerfile})"
                )


def bento_models(context: Path, files: list[str]) -> list[str]:
    """A Bento's context must carry every model its bento.yaml names, or the image has no model."""
    manifest = context / "bento.yaml"
    if "bento.yaml" not in files:
        return []
    tags = re.findall(r"^\s*-?\s*tag:\s*['\"]?([^'\"\s]+)", manifest.read_text(), re.MULTILINE)
    for tag in tags:
        name, _, version = tag.partition(":")
        if f"models/{name}/{version}/model.yaml" not in files:
            fail(
                f"stand-in: bento.yaml names the model {tag}, but models/{name}/{version}/ is not in "
                f"the build context {context}: the image would start without its model"
            )
    return tags


def registry_of(tag: str) -> str:
    first, sep, _ = tag.partition("/")
    return first if sep and ("." in first or ":" in first or first == "localhost") else "docker.io"


def main() -> None:
    env = os.environ
    if not env.get("STANDIN_OUTPUT_DIR"):
        fail("stand-in: STANDIN_OUTPUT_DIR must name the directory for records")
    records = Path(env["STANDIN_OUTPUT_DIR"]) / "docker"
    workspace = Path(env["GITHUB_WORKSPACE"])
    push, load = boolean("push"), boolean("load")
    if not env["INPUT_CONTEXT"]:
        fail("stand-in: the Git context (no `context` input) is not implemented here; give a path")
    context = workspace / env["INPUT_CONTEXT"]
    if not context.is_dir():
        fail(f'ERROR: unable to prepare context: path "{env["INPUT_CONTEXT"]}" not found')
    dockerfile = workspace / env["INPUT_FILE"] if env["INPUT_FILE"] else context / "Dockerfile"
    if not dockerfile.is_file():
        fail(
            f"ERROR: failed to solve: failed to read dockerfile: open {dockerfile}: no such file or directory"
        )
    tags = items(env["INPUT_TAGS"].replace(",", "\n"))
    for tag in tags:
        if not REFERENCE.fullmatch(tag):
            fail(f'ERROR: invalid tag "{tag}": invalid reference format')
    if push and not tags:
        fail("ERROR: tag is needed when pushing to registry")

    files = context_files(context, dockerfile)
    check_sources(context, files, dockerfile)
    models = bento_models(context, files)
    labels = dict(line.partition("=")[::2] for line in items(env["INPUT_LABELS"]))
    # The image is built before it is pushed: a push without a login to its registry fails last.
    logins = (records / "logins").read_text().split() if (records / "logins").is_file() else []
    for tag in tags if push else []:
        if registry_of(tag) not in logins[0::2]:
            fail(f"ERROR: failed to push {tag}: unauthorized: authentication required")

    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + b"\0" + (context / name).read_bytes())
    digest.update(dockerfile.read_bytes() + json.dumps(labels, sort_keys=True).encode())
    image = f"sha256:{digest.hexdigest()}"
    record = {
        "context": str(context.relative_to(workspace)),
        "context_path": str(context),
        "file": str(dockerfile.relative_to(workspace))
        if dockerfile.is_relative_to(workspace)
        else str(dockerfile),
        "dockerfile_sha256": hashlib.sha256(dockerfile.read_bytes()).hexdigest(),
        "files": files,
        "models": models,
        "tags": tags,
        "labels": labels,
        "push": push,
        "load": load,
        "platforms": env["INPUT_PLATFORMS"],
        "builder": (records / "builder").read_text().strip()
        if (records / "builder").is_file()
        else "default",
        "digest": image,
    }
    records.mkdir(parents=True, exist_ok=True)
    with (records / "builds.jsonl").open("a") as out:
        out.write(json.dumps(record) + "\n")
    metadata = {"containerimage.digest": image, "image.name": ",".join(tags)}
    with open(env["GITHUB_OUTPUT"], "a") as out:
        out.write(f"imageid={image}\ndigest={image}\nmetadata={json.dumps(metadata)}\n")
    print(
        f"stand-in build-push-action: {len(files)} context files, {'pushed' if push else 'built'} {', '.join(tags)}"
    )


if __name__ == "__main__":
    main()

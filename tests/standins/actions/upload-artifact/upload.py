"""Stand-in for actions/upload-artifact: copy the matched files into $STANDIN_ARTIFACT_DIR/<name>/."""

import hashlib
import os
import shutil
import sys
from pathlib import Path


def fail(message: str) -> None:
    print(f"::error::{message}")
    sys.exit(1)


def matches(workspace: Path, pattern: str, hidden: bool) -> set[Path]:
    base = Path(pattern) if Path(pattern).is_absolute() else workspace / pattern
    if any(ch in pattern for ch in "*?["):
        anchor = Path(base.anchor)
        found = set(anchor.glob(str(base.relative_to(anchor))))
    else:
        found = {base} if base.exists() else set()
    files = set()
    for path in found:
        for file in [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]:
            shown = file.relative_to(workspace) if file.is_relative_to(workspace) else file
            if hidden or not any(part.startswith(".") for part in shown.parts):
                files.add(file.resolve())
    return files


def main() -> None:
    env = os.environ
    store = env.get("STANDIN_ARTIFACT_DIR")
    if not store:
        fail("stand-in: STANDIN_ARTIFACT_DIR must name the directory artifacts are copied to")
    name, paths = env["INPUT_NAME"], env["INPUT_PATH"]
    if not paths.strip():
        fail("Input required and not supplied: path")
    if not name or any(ch in name for ch in '":<>|*?\\/\r\n'):
        fail(f"The artifact name is not valid: {name}")
    mode = env["INPUT_IF_NO_FILES_FOUND"]
    if mode not in ("warn", "error", "ignore"):
        fail(
            f"Unexpected input provided for if-no-files-found: {mode}. Available options: warn, error, ignore"
        )
    level = env["INPUT_COMPRESSION_LEVEL"]
    if not level.isdigit() or not 0 <= int(level) <= 9:
        fail(f"Invalid compression-level: {level}. Valid values are 0-9")
    days = env["INPUT_RETENTION_DAYS"]
    if days and (not days.isdigit() or not 1 <= int(days) <= 90):
        fail(f"Invalid retention-days: {days}")

    workspace = Path(env["GITHUB_WORKSPACE"])
    hidden = env["INPUT_INCLUDE_HIDDEN_FILES"] == "true"
    patterns = [line.strip() for line in paths.splitlines() if line.strip()]
    files: set[Path] = set()
    for pattern in patterns:
        if not pattern.startswith("!"):
            files |= matches(workspace, pattern, hidden)
    for pattern in patterns:
        if pattern.startswith("!"):
            files -= matches(workspace, pattern[1:], True)
    if not files:
        message = f"No files were found with the provided path: {paths}. No artifacts will be uploaded."
        if mode == "error":
            fail(message)
        print(f"::warning::{message}" if mode == "warn" else message)
        return

    target = Path(store) / name
    if target.exists():
        if env["INPUT_OVERWRITE"] != "true":
            fail(
                "Failed to CreateArtifact: Received non-retryable error: Failed request: (409) Conflict: "
                "an artifact with this name already exists on the workflow run"
            )
        shutil.rmtree(target)
    root = Path(os.path.commonpath([str(f.parent) for f in files]))
    digest = hashlib.sha256()
    for file in sorted(files):
        dest = target / file.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, dest)
        digest.update(file.read_bytes())
    artifact_id = len(list(Path(store).iterdir()))
    run_url = f"{env['GITHUB_SERVER_URL']}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    with open(env["GITHUB_OUTPUT"], "a") as out:
        out.write(
            f"artifact-id={artifact_id}\nartifact-url={run_url}/artifacts/{artifact_id}\n"
            f"artifact-digest={digest.hexdigest()}\n"
        )
    print(f"stand-in upload-artifact: {len(files)} file(s) stored as '{name}' in {target}")


if __name__ == "__main__":
    main()

"""Stand-in for actions/download-artifact: copy artifacts from $STANDIN_ARTIFACT_DIR."""

import fnmatch
import os
import shutil
import sys
from pathlib import Path


def fail(message: str) -> None:
    print(f"::error::{message}")
    sys.exit(1)


def main() -> None:
    env = os.environ
    if not env.get("STANDIN_ARTIFACT_DIR"):
        fail("stand-in: STANDIN_ARTIFACT_DIR must name the directory artifacts were copied to")
    store = Path(env["STANDIN_ARTIFACT_DIR"])
    if env["INPUT_ARTIFACT_IDS"]:
        fail("stand-in: artifact-ids is not supported here; use name or pattern")
    if env["INPUT_NAME"] and env["INPUT_PATTERN"]:
        print("::warning::Both name and pattern are set; pattern is ignored")
    if env["INPUT_REPOSITORY"] != env["GITHUB_REPOSITORY"] or env["INPUT_RUN_ID"] != env["GITHUB_RUN_ID"]:
        if not env["INPUT_GITHUB_TOKEN"]:
            fail(
                "Inputs `github-token`, `repository` and `run-id` must be set together to download from "
                "another repository or run"
            )
        fail("stand-in: only artifacts of the current run exist here")
    workspace = Path(env["GITHUB_WORKSPACE"])
    target = workspace / env["INPUT_PATH"] if env["INPUT_PATH"] else workspace
    if env["INPUT_NAME"]:
        source = store / env["INPUT_NAME"]
        if not source.is_dir():
            fail(f"Unable to download artifact(s): Artifact not found for name: {env['INPUT_NAME']}")
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        names = [p.name for p in store.iterdir() if fnmatch.fnmatch(p.name, env["INPUT_PATTERN"] or "*")]
        for name in names:
            dest = target if env["INPUT_MERGE_MULTIPLE"] == "true" else target / name
            shutil.copytree(store / name, dest, dirs_exist_ok=True)
    with open(env["GITHUB_OUTPUT"], "a") as out:
        out.write(f"download-path={target}\n")
    print(f"stand-in download-artifact: copied to {target}")


if __name__ == "__main__":
    main()

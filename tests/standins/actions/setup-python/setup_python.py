"""Stand-in for actions/setup-python: a matching interpreter of this machine on PATH."""

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path


def fail(message: str) -> None:
    print(f"::error::{message}")
    sys.exit(1)


def append(variable: str, line: str) -> None:
    with open(os.environ[variable], "a") as f:
        f.write(line + "\n")


def requested(workspace: Path) -> str:
    version, version_file = (
        os.environ["INPUT_PYTHON_VERSION"].strip(),
        os.environ["INPUT_PYTHON_VERSION_FILE"],
    )
    if version:
        return version
    path = workspace / (version_file or ".python-version")
    if not path.is_file():
        if version_file:
            fail(f"The specified python version file at: {path} doesn't exist.")
        return ""
    if path.name == "pyproject.toml":
        spec = tomllib.loads(path.read_text()).get("project", {}).get("requires-python", "")
        return re.sub(r"^[>=~^ ]+", "", spec.split(",")[0])
    return path.read_text().split()[0]


def interpreters() -> dict[str, str]:
    """Version -> path of each CPython on PATH, as `pythonX.Y` names."""
    found = {}
    for minor in range(8, 20):
        path = shutil.which(f"python3.{minor}")
        if path:
            out = subprocess.run(
                [path, "-c", "import platform; print(platform.python_version())"],
                check=False,
                capture_output=True,
                text=True,
            )
            if out.returncode == 0:
                found[out.stdout.strip()] = os.path.realpath(path)
    return found


def main() -> None:
    env = os.environ
    workspace = Path(env["GITHUB_WORKSPACE"])
    if env["INPUT_CACHE"] and env["INPUT_CACHE"] not in ("pip", "pipenv", "poetry"):
        fail(f"Caching for '{env['INPUT_CACHE']}' is not supported")
    if env["INPUT_ARCHITECTURE"] not in ("", "x64"):
        fail(f"stand-in: only x64 interpreters exist here, not '{env['INPUT_ARCHITECTURE']}'")
    if env["INPUT_CACHE"]:
        patterns = env["INPUT_CACHE_DEPENDENCY_PATH"].split() or ["**/requirements.txt"]
        if not any(next(workspace.glob(p), None) for p in patterns):
            fail(
                f"No file in {workspace} matched to [{', '.join(patterns)}], make sure you have checked out "
                "the target repository"
            )

    version = requested(workspace)
    available = interpreters()
    if not version:
        print(
            "::warning::Neither 'python-version' nor 'python-version-file' inputs were supplied. "
            "Attempting to find '.python-version' file."
        )
    matching = [
        v for v in available if not version or v == version or v.startswith(version.rstrip(".x") + ".")
    ]
    if not matching:
        fail(
            f"The version '{version}' with architecture 'x64' was not found for this operating system. "
            f"(stand-in: this machine has {', '.join(available) or 'none'})"
        )
    best = max(matching, key=lambda v: tuple(int(p) for p in v.split(".")))
    interpreter = available[best]

    bin_dir = Path(env["RUNNER_TEMP"]) / "setup-python-standin" / best / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    major_minor = ".".join(best.split(".")[:2])
    for name in ("python", "python3", f"python{major_minor}"):
        link = bin_dir / name
        link.unlink(missing_ok=True)
        link.symlink_to(interpreter)
    append("GITHUB_PATH", str(bin_dir))
    if env["INPUT_UPDATE_ENVIRONMENT"] == "true":
        root = str(Path(interpreter).parent.parent)
        for variable in ("pythonLocation", "Python_ROOT_DIR", "Python3_ROOT_DIR"):
            append("GITHUB_ENV", f"{variable}={root}")
    for key, value in (
        ("python-version", best),
        ("python-path", str(bin_dir / "python")),
        ("cache-hit", "false"),
    ):
        append("GITHUB_OUTPUT", f"{key}={value}")
    print(f"stand-in setup-python: Python {best} on PATH from {interpreter}")


if __name__ == "__main__":
    main()

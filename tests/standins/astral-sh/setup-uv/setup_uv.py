"""Stand-in for astral-sh/setup-uv: the test environment's uv on PATH, inputs checked as the real action does."""

import os
import re
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


def as_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def satisfies(version: str, spec: str) -> bool:
    """True if `version` meets `spec`: 'latest', an exact version, or PEP 440 comparisons joined by commas."""
    spec = spec.strip()
    if spec in ("", "latest"):
        return True
    if re.fullmatch(r"v?\d+(\.\d+){0,2}", spec):
        wanted = as_tuple(spec)
        return as_tuple(version)[: len(wanted)] == wanted
    have = as_tuple(version)
    checks = {
        ">=": lambda a, b: a >= b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        "<": lambda a, b: a < b,
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
    }
    for clause in spec.split(","):
        match = re.fullmatch(r"\s*(>=|<=|==|!=|>|<|~=)\s*(\d+(\.\d+)*)\s*", clause)
        if not match:
            fail(f"Invalid version specifier: {spec}")
        op, bound = match.group(1), as_tuple(match.group(2))
        if op == "~=":
            if not (have >= bound and have[: len(bound) - 1] == bound[: len(bound) - 1]):
                return False
        elif not checks[op](have, bound):
            return False
    return True


def required_version(workdir: Path, version_file: str) -> str:
    """The uv version a project asks for: version-file, else uv.toml, else pyproject.toml [tool.uv]."""
    candidates = (
        [workdir / version_file] if version_file else [workdir / "uv.toml", workdir / "pyproject.toml"]
    )
    for path in candidates:
        if not path.is_file():
            if version_file:
                fail(f"Could not find file: {path}")
            continue
        if path.suffix != ".toml":
            return path.read_text().strip()
        data = tomllib.loads(path.read_text())
        table = data if path.name == "uv.toml" else data.get("tool", {}).get("uv", {})
        if "required-version" in table:
            return table["required-version"]
        if path.name == "uv.toml":
            continue
    return ""


def main() -> None:
    env = os.environ
    uv = env.get("STANDIN_UV", "")
    if not uv or not os.access(uv, os.X_OK):
        fail("stand-in: STANDIN_UV must name the test environment's uv executable")
    for name, allowed in (
        ("enable-cache", ("true", "false", "auto")),
        ("activate-environment", ("true", "false")),
        ("resolution-strategy", ("highest", "lowest")),
    ):
        value = env[f"INPUT_{name.upper().replace('-', '_')}"]
        if value not in allowed:
            fail(f"Input {name} must be one of {', '.join(allowed)}; got '{value}'")
    workdir = Path(env["INPUT_WORKING_DIRECTORY"] or env["GITHUB_WORKSPACE"])
    if not workdir.is_dir():
        fail(f"Working directory '{workdir}' does not exist")

    have = subprocess.run([uv, "--version"], capture_output=True, text=True, check=True).stdout.split()[1]
    wanted = env["INPUT_VERSION"] or required_version(workdir, env["INPUT_VERSION_FILE"])
    if not satisfies(have, wanted):
        fail(f"stand-in: this machine has uv {have}, which does not satisfy the requested version '{wanted}'")

    bin_dir = Path(env["RUNNER_TEMP"]) / "setup-uv-standin" / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in ("uv", "uvx"):
        link = bin_dir / tool
        link.unlink(missing_ok=True)
        link.symlink_to(Path(uv).with_name(tool))
    append("GITHUB_PATH", str(bin_dir))
    outputs = {
        "uv-version": have,
        "uv-path": str(bin_dir / "uv"),
        "uvx-path": str(bin_dir / "uvx"),
        "cache-hit": "false",
        "cache-key": "",
        "python-cache-hit": "false",
    }

    if env["INPUT_ENABLE_CACHE"] == "true":
        patterns = [p.strip() for p in env["INPUT_CACHE_DEPENDENCY_GLOB"].splitlines() if p.strip()]
        if not any(next(workdir.glob(p), None) for p in patterns if not p.startswith("!")):
            print(
                f"::warning::No file matched to [{', '.join(patterns)}]. The cache will never get invalidated."
            )
    for name, variable in (("TOOL_DIR", "UV_TOOL_DIR"), ("TOOL_BIN_DIR", "UV_TOOL_BIN_DIR")):
        if env.get(f"INPUT_{name}"):
            append("GITHUB_ENV", f"{variable}={env[f'INPUT_{name}']}")

    python = env.get("INPUT_PYTHON_VERSION", "")
    if python:
        # The real action lets uv download the interpreter; nothing is downloaded here, so say so early.
        found = subprocess.run(
            [uv, "python", "find", "--no-python-downloads", python],
            check=False,
            capture_output=True,
            text=True,
            cwd=workdir,
        )
        if found.returncode != 0:
            fail(f"stand-in: no Python {python} on this machine and uv cannot download one here")
        append("GITHUB_ENV", f"UV_PYTHON={python}")
        outputs["python-version"] = python

    if env["INPUT_ACTIVATE_ENVIRONMENT"] == "true":
        venv = workdir / (env["INPUT_VENV_PATH"] or ".venv")
        command = [uv, "venv", str(venv)] + (["--python", python] if python else [])
        subprocess.run(command, check=True, cwd=workdir)
        append("GITHUB_PATH", str(venv / "bin"))
        append("GITHUB_ENV", f"VIRTUAL_ENV={venv}")
        outputs["venv"] = str(venv)

    for key, value in outputs.items():
        append("GITHUB_OUTPUT", f"{key}={value}")
    print(f"stand-in setup-uv: uv {have} on PATH from {uv}")


if __name__ == "__main__":
    main()

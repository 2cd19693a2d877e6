"""Throw-away uv environments for comparing the generated drift check with Evidently.

Evidently 0.7 does not import with pandas 3, so it gets an environment of its own
(pandas<3), and the drift module runs in a second, lean one with what it imports. Both are
cached by their requirements under ~/.cache (or $XDG_CACHE_HOME, or $TEMPLATE_ENV_CACHE)
and built once; later runs reuse them.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EVIDENTLY = ("evidently==0.7.23", "pandas<3", "pyarrow")
DRIFT = ("numpy", "pandas", "scipy", "pyarrow", "pyyaml")
RUN_EVIDENTLY = HERE / "run_evidently.py"
DATASETS = HERE / "datasets.py"


def cache_root() -> Path:
    configured = os.environ.get("TEMPLATE_ENV_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlops-gitops-template" / "envs"


def ensure(name: str, requirements: tuple[str, ...]) -> Path:
    """The python of an environment with `requirements`, created on first use."""
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeError(
            "uv is not on PATH; install it (https://docs.astral.sh/uv/) to run the drift comparison."
        )
    key = hashlib.sha256("\n".join((sys.version, *requirements)).encode()).hexdigest()[:12]
    root = cache_root()
    target = root / f"{name}-{key}"
    python = target / "bin" / "python"
    if python.exists():
        return python
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(scratch)], check=True)
        subprocess.run(
            [uv, "pip", "install", "--quiet", "--python", str(scratch / "bin" / "python"), *requirements],
            check=True,
        )
        os.rename(scratch, target)  # atomic: a parallel worker sees no half-built environment
    except OSError:
        if not python.exists():
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return python

"""What dvc.yaml and dvc.lock say about the pipeline's outputs: which stage writes each one,
whether DVC caches it or git tracks it, and the hash dvc.lock records for it."""

import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

DVC_YAML = Path("dvc.yaml")
LOCK_PATH = Path("dvc.lock")


@dataclass(frozen=True)
class Output:
    path: str
    stage: str
    kind: str  # outs, metrics or plots
    cached: bool  # False: `cache: false`, the file is committed to git


def _norm(path: str) -> str:
    return str(PurePosixPath(path))


def outputs(dvc_yaml: Path = DVC_YAML) -> dict[str, Output]:
    """Every output of every stage, by path."""
    stages = (yaml.safe_load(dvc_yaml.read_text()) or {}).get("stages") or {}
    found = {}
    for name, stage in stages.items():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind) or []:
                if isinstance(entry, str):
                    path, options = entry, {}
                else:
                    path, options = next(iter(entry.items()))
                cached = bool((options or {}).get("cache", True))
                found[_norm(path)] = Output(_norm(path), name, kind, cached)
    return found


def stages_writing(paths: list[str], dvc_yaml: Path = DVC_YAML) -> list[str]:
    """The stages whose outputs include `paths`, in dvc.yaml order (unknown paths are left out)."""
    known = outputs(dvc_yaml)
    wanted = {known[_norm(p)].stage for p in paths if _norm(p) in known}
    return [stage for stage in dict.fromkeys(o.stage for o in known.values()) if stage in wanted]


def lock_hashes(text: str | None) -> dict[str, str]:
    """Output path -> md5 recorded in the text of a dvc.lock."""
    lock = (yaml.safe_load(text) if text else None) or {}
    hashes = {}
    for stage in (lock.get("stages") or {}).values():
        for out in stage.get("outs") or []:
            if out.get("md5"):
                hashes[_norm(out["path"])] = out["md5"]
    return hashes


def committed(path: Path | str, rev: str = "HEAD") -> str | None:
    """The text of a file at a git revision, or None when it is not there."""
    result = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None

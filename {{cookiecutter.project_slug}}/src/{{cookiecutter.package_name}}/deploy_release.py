"""What each environment runs, as git declares it: the `release` component of its Kustomize overlay
(deploy/overlays/<environment>/release/kustomization.yaml) names the service image, pinned by
digest, and the MLflow model version inside it. The deploy commands rewrite that file whole; the
rest of the overlay (replicas, resources) is the team's to edit.
"""

import re
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from .errors import UserError

OVERLAYS = Path("deploy/overlays")
ENVIRONMENTS = ("staging", "production")
UNRELEASED = "unreleased"  # the image tag, and "none" the model version, until a first release
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
IMAGE = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+")
NAME_KEY, VERSION_KEY = "org.mlflow.model.name", "org.mlflow.model.version"
WRITER = {"staging": "stage", "production": "promote"}
HEADER = """\
# What {env} runs: the service image, pinned by digest, and the MLflow model version inside it.
# Written by `{package} deploy {command}` in a pull request; `git revert` of such a change is
# the rollback. When a change lands on main, the deploy workflow sets the registry's alias
# `{env}` to the version named here.
"""


@dataclass(frozen=True)
class Release:
    environment: str
    name: str  # the image name the base refers to; the overlay maps it to `image`
    image: str
    digest: str | None
    model: str
    version: str | None

    @property
    def released(self) -> bool:
        return self.digest is not None and self.version is not None

    @property
    def reference(self) -> str:
        return f"{self.image}@{self.digest}" if self.digest else f"{self.image}:{UNRELEASED}"

    def runs(self, image: str, digest: str, model: str, version: str) -> "Release":
        return replace(self, image=image, digest=digest, model=model, version=str(version))


def path(environment: str) -> Path:
    return OVERLAYS / environment / "release/kustomization.yaml"


def read(environment: str) -> Release:
    """The release of `environment`; a UserError says what is wrong with its file."""
    file = path(environment)
    if not file.is_file():
        raise UserError(
            f"{file} not found: this repository has no {environment} overlay (generated with deploy=none?)."
        )
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        (image,) = doc["images"]
        annotations = doc["commonAnnotations"]
        model, version = str(annotations[NAME_KEY]), str(annotations[VERSION_KEY])
        name, new_name = str(image["name"]), str(image["newName"])
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise UserError(
            f"{file} is not a release component (one image with name and newName, and the annotations "
            f"{NAME_KEY} and {VERSION_KEY}): {_fault(exc)}; restore it with `git checkout` of a good "
            "revision."
        ) from exc
    digest = image.get("digest")
    if digest is not None and not DIGEST.fullmatch(str(digest)):
        raise UserError(f"{file} pins the digest {digest!r}, which is not sha256:<64 hex digits>.")
    return Release(environment, name, new_name, digest, model, None if version == "none" else version)


def _fault(exc: Exception) -> str:
    """What is wrong with the file, on one line (a YAML error's own message spans several)."""
    if isinstance(exc, yaml.YAMLError):
        mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
        where = f" at line {mark.line + 1}" if mark else ""
        return f"invalid YAML{where} ({problem})" if problem else f"invalid YAML{where}"
    if isinstance(exc, KeyError):
        return f"{exc.args[0]} is missing"
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def render(release: Release, package: str) -> str:
    image = {"name": release.name, "newName": release.image}
    image.update({"digest": release.digest} if release.digest else {"newTag": UNRELEASED})
    doc = {
        "apiVersion": "kustomize.config.k8s.io/v1alpha1",
        "kind": "Component",
        "images": [image],
        "commonAnnotations": {NAME_KEY: release.model, VERSION_KEY: release.version or "none"},
    }
    header = HEADER.format(env=release.environment, package=package, command=WRITER[release.environment])
    return header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=200)


def write(release: Release) -> str:
    """Write the release component; returns its path."""
    file = path(release.environment)
    file.write_text(render(release, __package__), encoding="utf-8")
    return str(file)


def check_image(image: str, digest: str) -> None:
    if not IMAGE.fullmatch(image):
        raise UserError(f"--image {image!r} is not an image name without tag or digest (ghcr.io/owner/name).")
    if not DIGEST.fullmatch(digest):
        raise UserError(f"--digest {digest!r} is not sha256:<64 hex digits>; pass the build's digest output.")

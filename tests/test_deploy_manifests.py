"""Fast tier: the generated deploy/ folder builds, validates and says what its users rely on.

Each case renders the template once; `kubectl kustomize` (the test environment's, next to this
interpreter) builds both overlays and the Argo CD or Flux folder, as the controller or a user's
`kubectl apply -k` would. Then:

- every core resource validates strictly (unknown fields are errors) against the Kubernetes
  schemas kubernetes-validate ships for its newest release, and uses the newest version of its
  API that release serves, not one the release no longer serves or calls deprecated;
- the Argo CD Application and the Flux GitRepository and Kustomization validate against their
  CRDs' schemas (tests/standins/crds, with unknown fields rejected as a strict apply would);
- what a user relies on holds: the image the release component names, probes and metrics on the
  service's named port, the prediction log on its volume, the pod's hardening and resources, one
  namespace per environment, controllers watching the overlays on main;
- the tracking server's platform/kubernetes, with every deploy answer, builds and validates the same
  way and takes its credentials from a Secret created in the cluster, never from a committed one.

Nothing here needs a cluster or the network.
"""

import copy
import functools
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.act_runner import find_tool
from tests.conftest import bake

K8S = kubernetes_validate.latest_version()  # the newest release the installed package knows
CRDS = Path(__file__).resolve().parent / "standins" / "crds"
ENVIRONMENTS = ("staging", "production")
CONTROLLER = {"argocd": "deploy/argocd", "flux": "deploy/flux", "kustomize": None}
CLUSTER_SCOPED = {"Namespace"}
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")

# Every deploy answer with manifests, and the answers that change names, images and URLs.
CASES = {
    "argocd": {"deploy": "argocd"},
    "flux": {"deploy": "flux", "github_owner": "Acme-Labs", "container_registry": "registry.example.com"},
    "kustomize": {"deploy": "kustomize", "project_name": "Churn Forecast Service"},
    "argocd-registry-port": {
        "deploy": "argocd",
        "project_name": "Fraud Detector",
        "github_owner": "Acme-Labs",
        "container_registry": "registry.example.com:5000/ml",
    },
}


def kustomize(folder: Path) -> list[dict]:
    result = subprocess.run(
        [find_tool("kubectl"), "kustomize", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"kubectl kustomize {folder} failed:\n{result.stderr}"
    assert "deprecated" not in result.stderr.lower(), result.stderr  # kustomize warns of deprecated fields
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


class Case:
    """A rendered project, its answers as the template derives them, and its built folders."""

    def __init__(self, output: Path, answers: dict):
        self.project = bake(output, **answers)
        self.path = self.project.path
        self.slug = self.path.name
        owner = self.project.answers["github_owner"]
        self.image = f"{self.project.answers['container_registry']}/{owner.lower()}/{self.slug}"
        self.repo_url = f"https://github.com/{owner}/{self.slug}.git"
        self.controller = CONTROLLER[answers["deploy"]]
        folders = [f"deploy/overlays/{env}" for env in ENVIRONMENTS]
        if self.controller:
            folders.append(self.controller)
        self.builds = {folder: kustomize(self.path / folder) for folder in folders}

    def overlay(self, env: str) -> list[dict]:
        return self.builds[f"deploy/overlays/{env}"]

    def one(self, env: str, kind: str) -> dict:
        (resource,) = (r for r in self.overlay(env) if r["kind"] == kind)
        return resource


class Cases(dict):
    """Each case rendered and built on first use, once for the module; a failing build fails its own tests."""

    def __init__(self, tmp_path_factory):
        super().__init__()
        self.tmp_path_factory = tmp_path_factory

    def __missing__(self, name: str) -> Case:
        self[name] = Case(self.tmp_path_factory.mktemp(name), CASES[name])
        return self[name]


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Cases:
    return Cases(tmp_path_factory)


def each_overlay():
    return pytest.mark.parametrize(("case", "env"), [(c, e) for c in CASES for e in ENVIRONMENTS])


def empty_folders(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_dir() and ".git" not in p.parts and not any(p.iterdir())]


def name_of(resource: dict) -> str:
    return f"{resource['kind']}/{resource['metadata']['name']}"


def maturity(version: str) -> tuple:
    """Kubernetes' order of API versions: GA over beta over alpha, then by number (v2 > v1 > v1beta2)."""
    major, stage, minor = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version).groups()
    return (stage is None, stage == "beta", int(major), int(minor or 0))


@functools.cache
def served_versions() -> dict[tuple[str, str], dict[str, str]]:
    """(group, kind) -> {version: description} of every kind the release's schema set serves."""
    definitions = kubernetes_validate.utils.schema_contents(
        f"kubernetes-json-schema/v{K8S}-local-strict/_definitions.json", K8S
    )["$defs"]
    served: dict[tuple[str, str], dict[str, str]] = {}
    for definition in definitions.values():
        description = definition.get("description", "")
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            served.setdefault((gvk["group"], gvk["kind"]), {})[gvk["version"]] = description
    return served


def strict(schema):
    """A CRD schema as a strict apply checks it: an object with listed fields takes no others."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: strict(value) for key, value in schema.items()}
    open_ = "additionalProperties" in schema or schema.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in schema and not open_:
        schema["additionalProperties"] = False
    return schema


@pytest.mark.parametrize("case", CASES)
def test_every_folder_builds_and_no_other_controller_is_left(cases, case):
    rendered = cases[case]
    assert set(rendered.builds) == {f"deploy/overlays/{env}" for env in ENVIRONMENTS} | (
        {rendered.controller} if rendered.controller else set()
    )
    for folder in set(CONTROLLER.values()) - {rendered.controller, None}:
        assert not (rendered.path / folder).exists(), f"{folder} rendered for deploy={CASES[case]['deploy']}"
    assert empty_folders(rendered.path) == []


def assert_valid_on_served_apis(resource: dict) -> None:
    group, _, version = resource["apiVersion"].rpartition("/")
    versions = served_versions().get((group, resource["kind"]), {})
    assert version in versions, f"{name_of(resource)}: {resource['apiVersion']} is not served by {K8S}"
    assert version == max(versions, key=maturity), f"{name_of(resource)}: {K8S} prefers a newer version"
    assert "deprecated" not in versions[version].lower(), f"{name_of(resource)}: deprecated in {K8S}"
    problem = None
    try:
        kubernetes_validate.validate(resource, K8S, strict=True)
    except kubernetes_validate.ValidationError as error:
        problem = f"{'.'.join(map(str, error.path))}: {error.message}"
    assert problem is None, f"{name_of(resource)}: {problem}"


@each_overlay()
def test_core_resources_validate_strictly_on_served_apis(cases, case, env):
    for resource in cases[case].overlay(env):
        assert_valid_on_served_apis(resource)


@pytest.mark.parametrize("case", [c for c, a in CASES.items() if CONTROLLER[a["deploy"]]])
def test_controller_resources_validate_against_their_crds(cases, case):
    rendered = cases[case]
    for resource in rendered.builds[rendered.controller]:
        group, version = resource["apiVersion"].split("/")
        stored = CRDS / f"{group}_{version}_{resource['kind'].lower()}.json"
        assert stored.is_file(), f"{name_of(resource)}: no CRD schema for {resource['apiVersion']} in {CRDS}"
        validator = jsonschema.Draft202012Validator(strict(json.loads(stored.read_text())))
        errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(resource)]
        assert errors == [], f"{name_of(resource)}: {errors}"


@each_overlay()
def test_the_deployment_runs_what_the_release_component_names(cases, case, env):
    rendered = cases[case]
    release = yaml.safe_load(rendered.project.read(f"deploy/overlays/{env}/release/kustomization.yaml"))
    (image,) = release["images"]
    assert (image["name"], image["newName"]) == (rendered.slug, rendered.image)
    pinned = f"@{image['digest']}" if "digest" in image else f":{image['newTag']}"
    deployment = rendered.one(env, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == rendered.image + pinned
    assert release["commonAnnotations"]["org.mlflow.model.name"] == rendered.slug
    for resource in rendered.overlay(env):  # the model version is visible on everything the release deploys
        assert release["commonAnnotations"].items() <= resource["metadata"]["annotations"].items()


def test_a_pinned_digest_replaces_the_tag(cases, tmp_path):
    """What the deploy command writes into release/: a digest, which kustomize puts in place of the tag."""
    rendered = cases["argocd-registry-port"]
    deploy = shutil.copytree(rendered.path / "deploy", tmp_path / "deploy")
    component = deploy / "overlays/production/release/kustomization.yaml"
    release = yaml.safe_load(component.read_text())
    digest = "sha256:" + "0123456789abcdef" * 4
    release["images"] = [
        {**{k: v for k, v in release["images"][0].items() if k != "newTag"}, "digest": digest}
    ]
    component.write_text(yaml.safe_dump(release))
    (deployment,) = (r for r in kustomize(deploy / "overlays/production") if r["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"{rendered.image}@{digest}"


@each_overlay()
def test_the_pod_serves_probes_metrics_and_logs_predictions_as_the_service_expects(cases, case, env):
    rendered = cases[case]
    template = rendered.one(env, "Deployment")["spec"]["template"]
    pod = template["spec"]
    (container,) = pod["containers"]
    (port,) = container["ports"]
    for probe, path in (
        ("livenessProbe", "/livez"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/livez"),
    ):
        assert container[probe]["httpGet"] == {"path": path, "port": port["name"]}, probe
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert annotations["prometheus.io/port"] == str(port["containerPort"])
    # MONITORING_DIR is where the volume backed by the prediction-log claim is mounted.
    claim = rendered.one(env, "PersistentVolumeClaim")["metadata"]["name"]
    (volume,) = (
        v["name"] for v in pod["volumes"] if v.get("persistentVolumeClaim", {}).get("claimName") == claim
    )
    (mount,) = (m["mountPath"] for m in container["volumeMounts"] if m["name"] == volume)
    env_vars = {e["name"]: e.get("value") for e in container["env"]}
    assert env_vars["MONITORING_DIR"] == mount
    # Hardened: not root, nothing written outside the volumes, no capabilities.
    assert pod["securityContext"]["runAsNonRoot"] is True
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= container["resources"][bound].keys(), bound


@each_overlay()
def test_service_budget_and_autoscaler_reach_the_deployment(cases, case, env):
    rendered = cases[case]
    deployment = rendered.one(env, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    service = rendered.one(env, "Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= {p["name"] for p in container["ports"]}
    assert (
        rendered.one(env, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items()
        <= pod_labels.items()
    )
    target = rendered.one(env, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert target == {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment["metadata"]["name"]}


@pytest.mark.parametrize("case", CASES)
def test_each_environment_has_its_own_namespace_and_everything_lands_in_it(cases, case):
    rendered = cases[case]
    namespaces = {}
    for env in ENVIRONMENTS:
        namespace = rendered.one(env, "Namespace")["metadata"]["name"]
        assert DNS_LABEL.fullmatch(namespace), namespace
        for resource in rendered.overlay(env):
            if resource["kind"] not in CLUSTER_SCOPED:
                assert resource["metadata"].get("namespace") == namespace, f"{env}: {name_of(resource)}"
        assert DNS_LABEL.fullmatch(rendered.one(env, "Service")["metadata"]["name"])
        namespaces[env] = namespace
    assert namespaces["staging"] != namespaces["production"]


@pytest.mark.parametrize("case", CASES)
def test_staging_and_production_differ_in_autoscaling_bounds(cases, case):
    bounds = {}
    for env in ENVIRONMENTS:
        spec = cases[case].one(env, "HorizontalPodAutoscaler")["spec"]
        assert 1 <= spec["minReplicas"] <= spec["maxReplicas"], env
        bounds[env] = (spec["minReplicas"], spec["maxReplicas"])
    assert bounds["staging"] != bounds["production"]


@pytest.mark.parametrize("case", [c for c, a in CASES.items() if a["deploy"] == "argocd"])
def test_argocd_applications_sync_the_overlays_on_main(cases, case):
    rendered = cases[case]
    applications = {r["metadata"]["name"]: r for r in rendered.builds["deploy/argocd"]}
    assert applications.keys() == {f"{rendered.slug}-{env}" for env in ENVIRONMENTS}
    for env in ENVIRONMENTS:
        app = applications[f"{rendered.slug}-{env}"]
        assert app["metadata"]["namespace"] == "argocd"  # where Argo CD looks for Applications
        assert app["spec"]["source"] == {
            "repoURL": rendered.repo_url, "targetRevision": "main", "path": f"deploy/overlays/{env}",
        }  # fmt: skip
        namespace = rendered.one(env, "Namespace")["metadata"]["name"]
        assert app["spec"]["destination"]["namespace"] == namespace
        assert app["spec"]["syncPolicy"]["automated"]["prune"] is True


@pytest.mark.parametrize("case", [c for c, a in CASES.items() if a["deploy"] == "flux"])
def test_flux_kustomizations_apply_the_overlays_of_main(cases, case):
    rendered = cases[case]
    built = rendered.builds["deploy/flux"]
    assert {r["metadata"]["namespace"] for r in built} == {"flux-system"}
    (source,) = (r for r in built if r["kind"] == "GitRepository")
    assert source["spec"]["url"] == rendered.repo_url
    assert source["spec"]["ref"] == {"branch": "main"}
    kustomizations = {r["metadata"]["name"]: r for r in built if r["kind"] == "Kustomization"}
    assert kustomizations.keys() == {f"{rendered.slug}-{env}" for env in ENVIRONMENTS}
    for env in ENVIRONMENTS:
        spec = kustomizations[f"{rendered.slug}-{env}"]["spec"]
        assert spec["path"].removeprefix("./") == f"deploy/overlays/{env}"
        assert spec["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"]}
        assert spec["prune"] is True


def test_deploy_none_renders_no_deploy_folder_and_no_empty_folder(tmp_path):
    project = bake(tmp_path, deploy="none")
    assert not (project.path / "deploy").exists()
    assert empty_folders(project.path) == []


def test_the_strict_crd_check_catches_a_misspelt_field():
    """The CRD check is not vacuous: a field the CRD does not define is an error, as in a strict apply."""
    schema = strict(json.loads((CRDS / "kustomize.toolkit.fluxcd.io_v1_kustomization.json").read_text()))
    good = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "x"},
        "spec": {"interval": "5m", "prune": True, "sourceRef": {"kind": "GitRepository", "name": "x"}},
    }  # fmt: skip
    jsonschema.validate(good, schema)
    bad = copy.deepcopy(good)
    bad["spec"]["sourceref"] = bad["spec"].pop("sourceRef")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


@pytest.mark.parametrize(
    "answers", [{"deploy": "none"}, CASES["argocd-registry-port"]], ids=["none", "registry"]
)
def test_the_tracking_servers_manifests_build_validate_and_take_their_secrets_from_the_cluster(
    tmp_path, answers
):
    """platform/kubernetes comes with every deploy answer: the tracking server is the team's either way."""
    project = bake(tmp_path, **answers)
    built = kustomize(project.path / "platform/kubernetes")
    for resource in built:
        assert_valid_on_served_apis(resource)
    kinds = {r["kind"]: r for r in built}
    assert set(kinds) == {"Namespace", "Deployment", "Service"}  # no Secret: it is created in the cluster
    namespace = kinds["Namespace"]["metadata"]["name"]
    assert DNS_LABEL.fullmatch(namespace)
    assert all(r["metadata"].get("namespace") == namespace for r in built if r["kind"] not in CLUSTER_SCOPED)
    pod = kinds["Deployment"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    owner = project.answers["github_owner"].lower()
    assert (
        container["image"]
        == f"{project.answers['container_registry']}/{owner}/{project.path.name}-mlflow:unbuilt"
    )
    assert container["envFrom"] == [{"secretRef": {"name": "mlflow-server"}}]
    assert not any("value" in e and "PASSWORD" in e["name"] for e in container.get("env", []))
    (port,) = container["ports"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": port["name"]}, probe
    service = kinds["Service"]["spec"]
    assert service["selector"].items() <= pod["metadata"]["labels"].items()
    assert {p["targetPort"] for p in service["ports"]} == {port["name"]}
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True

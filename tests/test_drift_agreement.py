"""The generated drift check reaches Evidently's verdicts, column by column, on the same data.

Evidently 0.7.23 (pandas<3) and the generated drift module (pandas 3) each run in their own
uv environment; see tests/evidently_env. The cases cover every default test (small and
large references, numbers with many, few and two values, integer codes, strings, missing
values, a category new in current, the 1000-row boundary counted per column) and the
configurable methods and thresholds.
"""

import json
import math
import subprocess
from pathlib import Path

import pytest

from tests.conftest import bake, clean_env
from tests.evidently_env import envs

pytestmark = pytest.mark.slow

# Every case in one process per environment: imports, not the checks, took most of the time.
RUN_DRIFT = """
import json, sys
sys.path.insert(0, {here!r})
import datasets
from {package} import drift
for job in json.loads(sys.argv[1]):
    sys.argv = ["datasets.py", *job["datasets"]]
    datasets.main()
    params = {{"data": {{"target": "target"}}, "drift": job["options"]}}
    drift.run(params, job["reference"], job["current"], job["ours"], False, None)
"""
RUN_EVIDENTLY = """
import json, sys
sys.path.insert(0, {here!r})
import run_evidently
for job in json.loads(sys.argv[1]):
    options = ["--options", json.dumps(job["options"])]  # DataDriftPreset's keyword arguments
    sys.argv = ["run_evidently.py", job["reference"], job["current"], job["evidently"], *options]
    run_evidently.main()
"""

CASES = {
    "small": ("mixed", 600, 800, "csv", {}),
    "large": ("mixed", 3000, 5000, "parquet", {}),
    "boundary": ("mixed", 1000, 700, "parquet", {}),  # 1000 values: p-values; with_missing has fewer
    "just above": ("mixed", 1080, 700, "csv", {}),  # distances, except with_missing (~970 values)
    "wide": ("wide", 4000, 40000, "parquet", {}),
    "psi": ("mixed", 600, 800, "parquet", {"method": "psi"}),
    "by type": (
        "mixed",
        3000,
        5000,
        "csv",
        {"num_method": "jensenshannon", "cat_method": "psi", "threshold": 0.05},
    ),
    "by column": (
        "mixed",
        600,
        800,
        "parquet",
        {
            "per_column_method": {"num_stable": "wasserstein", "cat_three": "jensenshannon"},
            "num_threshold": 0.01,
            "per_column_threshold": {"num_shifted": 0.2},
            "drift_share": 0.3,
        },
    ),
}


@pytest.fixture(scope="module")
def pythons():
    return envs.ensure("drift", envs.DRIFT), envs.ensure("evidently", envs.EVIDENTLY)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return bake(tmp_path_factory.mktemp("agreement"))


def run(*cmd, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(c) for c in cmd], check=False, capture_output=True, text=True, timeout=900, **kwargs
    )
    assert result.returncode == 0, f"{cmd[:3]} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def verdicts(pythons, project, tmp_path_factory) -> dict[str, tuple[dict, dict]]:
    """Per case: (the generated check's drift.json, Evidently's verdicts), on the same files."""
    drift_python, evidently_python = pythons
    jobs = []
    for name, (case, reference_rows, current_rows, fmt, options) in CASES.items():
        out = tmp_path_factory.mktemp(name.replace(" ", "-"))
        jobs.append(
            {
                "name": name,
                "datasets": [case, str(out), "--reference-rows", str(reference_rows),
                             "--current-rows", str(current_rows), "--format", fmt],
                "options": options,
                "reference": str(out / f"reference.{fmt}"),
                "current": str(out / f"current.{fmt}"),
                "ours": str(out / "ours"),
                "evidently": str(out / "evidently.json"),
            }
        )  # fmt: skip
    here = str(envs.HERE)
    code = RUN_DRIFT.format(here=here, package=project.package)
    env = clean_env(PYTHONPATH=str(project.path / "src"))
    run(drift_python, "-c", code, json.dumps(jobs), cwd=project.path, env=env)
    run(evidently_python, "-c", RUN_EVIDENTLY.format(here=here), json.dumps(jobs))
    return {
        job["name"]: (
            json.loads((Path(job["ours"]) / "drift.json").read_text()),
            json.loads(Path(job["evidently"]).read_text()),
        )
        for job in jobs
    }


@pytest.mark.parametrize("name", CASES)
def test_verdicts_agree_with_evidently(name, verdicts):
    ours, theirs = verdicts[name]
    assert {c["column"] for c in ours["columns"]} == set(theirs["columns"])
    differences = []
    for column in ours["columns"]:
        expected = theirs["columns"][column["column"]]
        got = {
            "method": column["method"],
            "threshold": column["threshold"],
            "drifted": column["drifted"],
        }
        want = {k: expected[k] for k in got}
        if got != want or not math.isclose(column["score"], expected["score"], rel_tol=1e-9, abs_tol=1e-12):
            differences.append(
                f"{column['column']}: ours {got} {column['score']!r}, Evidently {want} {expected['score']!r}"
            )
    assert not differences, "\n".join(differences)
    assert any(c["drifted"] for c in ours["columns"]) and not all(c["drifted"] for c in ours["columns"])
    assert ours["dataset_drift"] == theirs["dataset_drift"]

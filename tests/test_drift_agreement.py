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

import pytest

from tests.conftest import bake, clean_env
from tests.evidently_env import envs

pytestmark = pytest.mark.slow

RUN_DRIFT = """
import json, sys
from {package} import drift
params = {{"data": {{"target": "target"}}, "drift": json.loads(sys.argv[3])}}
sys.exit(drift.run(params, sys.argv[1], sys.argv[2], sys.argv[4], False, None))
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
        [str(c) for c in cmd], check=False, capture_output=True, text=True, timeout=600, **kwargs
    )
    assert result.returncode in (0, 1), (
        f"{cmd[:3]} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
    return result


@pytest.mark.parametrize("name", CASES)
def test_verdicts_agree_with_evidently(name, pythons, project, tmp_path):
    case, reference_rows, current_rows, fmt, options = CASES[name]
    drift_python, evidently_python = pythons
    run(
        drift_python,
        envs.DATASETS,
        case,
        tmp_path,
        "--reference-rows",
        reference_rows,
        "--current-rows",
        current_rows,
        "--format",
        fmt,
    )
    reference, current = tmp_path / f"reference.{fmt}", tmp_path / f"current.{fmt}"

    code = RUN_DRIFT.format(package=project.package)
    run(
        drift_python,
        "-c",
        code,
        reference,
        current,
        json.dumps(options),
        tmp_path / "ours",
        cwd=project.path,
        env=clean_env(PYTHONPATH=str(project.path / "src")),
    )
    run(
        evidently_python,
        envs.RUN_EVIDENTLY,
        reference,
        current,
        tmp_path / "evidently.json",
        "--options",
        json.dumps(options),
    )

    ours = json.loads((tmp_path / "ours" / "drift.json").read_text())
    theirs = json.loads((tmp_path / "evidently.json").read_text())
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

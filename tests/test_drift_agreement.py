"""The generated drift check reaches Evidently's verdicts, column by column, on the same data;
and its streamed check (CSV/parquet read in batches into sketches) reaches the in-memory one's.

Evidently 0.7.23 (pandas<3) and the generated drift module (pandas 3) each run in their own
uv environment; see tests/evidently_env. The cases cover every default test (small and
large references, numbers with many, few and two values, integer codes, strings, missing
values, a category new in current, the 1000-row boundary counted per column) and the
configurable methods and thresholds.
"""

import json
import math
import re
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


# ---------------------------------------------------------------- streamed against in memory

# Each case: dataset, reference rows, current rows, format, options, and what the current file gets
# before the check ("missing": a third of with_missing blanked, "near": thresholds set a hair either
# side of the in-memory scores). Batches are small, so every sketch is folded from many.
STREAM_CASES = {
    "exact KS, csv": ("mixed", 600, 800, "csv", {}, None),
    "asymptotic KS": ("mixed", 600, 20000, "parquet", {}, None),
    "distances": ("mixed", 3000, 50000, "parquet", {}, None),
    "distances, csv": ("wide", 4000, 40000, "csv", {}, None),
    "Sturges bins and PSI": ("mixed", 3000, 20000, "csv", {"num_method": "jensenshannon", "cat_method": "psi"}, None),
    "PSI everywhere": ("mixed", 600, 20000, "parquet", {"method": "psi"}, None),
    "missing values": ("mixed", 3000, 30000, "parquet", {}, "missing"),
    "missing values, csv": ("mixed", 600, 5000, "csv", {}, "missing"),
    "near the thresholds": ("mixed", 3000, 50000, "parquet", {}, "near"),
    "near the thresholds, KS": ("mixed", 600, 20000, "csv", {}, "near"),
}  # fmt: skip

RUN_BOTH = """
import json, sys
from pathlib import Path
import numpy as np, pandas as pd
sys.path.insert(0, {here!r})
import datasets
from {package} import drift, drift_stream
from {package}.errors import UserError

drift_stream.BATCH_ROWS, drift_stream.CSV_BLOCK_BYTES = 997, 1 << 14
streamable, compare_file, calls = drift_stream.streamable, drift_stream.compare_file, []
def in_memory(path):
    return False
def counted(*args):
    calls.append(args)
    return compare_file(*args)
drift_stream.compare_file = counted

def check(options, reference, current, out):
    params = {{"data": {{"target": "target"}}, "drift": options}}
    try:
        drift.run(params, str(reference), str(current), str(out), False, None)
    except UserError as error:
        return str(error)

def write(frame, path):
    frame.to_csv(path, index=False) if path.suffix == ".csv" else frame.to_parquet(path, index=False)

def read(path):
    return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)

jobs, errors, streamed = json.loads(sys.argv[1]), {{}}, {{}}
for job in jobs:
    out = Path(job["out"])
    sys.argv = ["datasets.py", *job["datasets"]]
    datasets.main()
    reference, current = out / f"reference.{{job['format']}}", out / f"current.{{job['format']}}"
    options = job["options"]
    if job["variant"] == "missing":
        frame = read(current)
        frame.loc[np.random.default_rng(1).random(len(frame)) < 0.3, "with_missing"] = np.nan
        write(frame, current)
    if job["variant"] == "near":  # a first in-memory run gives the scores
        drift_stream.streamable = in_memory
        check(options, reference, current, out / "scores")
        drift_stream.streamable = streamable
        scores = json.loads((out / "scores" / "drift.json").read_text())["columns"]
        options = {{"per_column_threshold": {{
            c["column"]: c["score"] * (1 + 1e-9 if i % 2 else 1 - 1e-9) for i, c in enumerate(scores)
        }}}}
    check(options, reference, current, out / "streamed")
    streamed[job["name"]] = len(calls)
    drift_stream.streamable = in_memory
    check(options, reference, current, out / "in-memory")
    drift_stream.streamable = streamable
    streamed[job["name"]] = streamed[job["name"]] == len(calls) == len(streamed)  # one streamed run each

# bad input: one sentence each, and no report
out = Path(jobs[0]["out"])
frame, reference = read(out / "reference.csv"), out / "reference.csv"
late_text = frame.astype({{"num_stable": object}})
late_text.loc[len(late_text) - 1, "num_stable"] = "n/a?"
bad = {{
    "unreadable parquet": (b"PAR1 not really", ".parquet"),
    "text late in a numeric csv column": (late_text, ".csv"),
    "text in a numeric parquet column": (frame.astype({{"num_stable": str}}), ".parquet"),
    "a missing column": (frame.drop(columns="cat_two"), ".parquet"),
    "an unexpected column": (frame.assign(extra=1.0), ".csv"),
    "an all-missing column": (frame.assign(cat_three=None), ".csv"),
}}
for name, (content, suffix) in bad.items():
    path = out / f"bad{{len(errors)}}{{suffix}}"
    path.write_bytes(content) if isinstance(content, bytes) else write(content, path)
    errors[name] = [check({{}}, reference, path, out / "bad"), (out / "bad").exists()]
print(json.dumps({{"errors": errors, "streamed": streamed}}))
"""


@pytest.fixture(scope="module")
def streamed(pythons, project, tmp_path_factory) -> dict:
    """Per case, the reports of the streamed and the in-memory check; and the bad-input messages."""
    jobs = []
    for name, (case, reference_rows, current_rows, fmt, options, variant) in STREAM_CASES.items():
        out = tmp_path_factory.mktemp(name.replace(" ", "-").replace(",", ""))
        jobs.append(
            {
                "name": name,
                "datasets": [case, str(out), "--reference-rows", str(reference_rows),
                             "--current-rows", str(current_rows), "--format", fmt],
                "format": fmt,
                "options": options,
                "variant": variant,
                "out": str(out),
            }
        )  # fmt: skip
    code = RUN_BOTH.format(here=str(envs.HERE), package=project.package)
    env = clean_env(PYTHONPATH=str(project.path / "src"))
    output = run(pythons[0], "-c", code, json.dumps(jobs), cwd=project.path, env=env).stdout
    results = json.loads(output.splitlines()[-1])  # after the checks' own lines
    reports = {
        job["name"]: {
            how: {name: (Path(job["out"]) / how / name).read_text() for name in ("drift.json", "drift.md")}
            for how in ("streamed", "in-memory")
        }
        for job in jobs
    }
    return {"reports": reports, **results}


@pytest.mark.parametrize("name", STREAM_CASES)
def test_streamed_check_reaches_the_in_memory_verdicts(name, streamed):
    assert streamed["streamed"][name]  # the first check read the file in batches, the second did not
    reports = streamed["reports"][name]
    ours, memory = (json.loads(reports[how]["drift.json"]) for how in ("streamed", "in-memory"))
    verdict = ("number_of_drifted_columns", "share_of_drifted_columns", "dataset_drift", "drift_detected")
    assert {k: ours[k] for k in verdict} == {k: memory[k] for k in verdict}
    assert ours["current"] == memory["current"] and ours["reference"] == memory["reference"]
    for got, want in zip(ours["columns"], memory["columns"], strict=True):
        fields = (
            "column",
            "method",
            "threshold",
            "drifted",
            "missing_current",
            "missing_drifted",
            "current_values",
        )
        assert {k: got[k] for k in fields} == {k: want[k] for k in fields}
        assert math.isclose(got["score"], want["score"], rel_tol=1e-9, abs_tol=1e-12), got["column"]
        assert got["histogram"].keys() == want["histogram"].keys()
        for key, values in got["histogram"].items():
            expected = want["histogram"][key]
            assert values == (expected if key == "categories" else pytest.approx(expected, rel=1e-12)), key
    assert reports["streamed"]["drift.md"] == reports["in-memory"]["drift.md"]
    assert any(c["drifted"] for c in ours["columns"]) and not all(c["drifted"] for c in ours["columns"])
    if name.startswith("near"):  # thresholds a hair below and above the scores: both verdicts occur
        drifted = {c["drifted"] for c in ours["columns"] if c["method"] in ("ks", "wasserstein")}
        assert drifted == {True, False}
    if name.startswith("missing"):
        assert any(c["missing_drifted"] for c in ours["columns"])


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unreadable parquet", r"bad\d\.parquet could not be read \(.+\); check that it is a valid parquet file\.$"),
        ("text late in a numeric csv column", r"^column 'num_stable' holds numbers in the reference data but text"),
        ("text in a numeric parquet column", r"^column 'num_stable' holds numbers in the reference data but \w*string"),
        ("a missing column", r"^the current data lacks column\(s\) cat_two that the model was trained on"),
        ("an unexpected column", r"^the current data has column\(s\) extra not in the reference data"),
        ("an all-missing column", r"^column 'cat_three' is missing in every row of the current data"),
    ],
)  # fmt: skip
def test_streamed_check_refuses_bad_input_in_one_sentence(case, message, streamed):
    error, wrote = streamed["errors"][case]
    assert error is not None and re.search(message, error), error
    assert "\n" not in error and error.endswith(".")
    assert not wrote

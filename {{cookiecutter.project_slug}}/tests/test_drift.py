"""The drift check: Evidently's choice of test, exact statistics, verdicts, reports and bad input."""

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from {{ cookiecutter.package_name }} import drift, simulate
from {{ cookiecutter.package_name }}.errors import UserError
from {{ cookiecutter.package_name }}.features import split_xy
from {{ cookiecutter.package_name }}.metrics import compute_metrics
from {{ cookiecutter.package_name }}.params import load_schema, positive_class
from {{ cookiecutter.package_name }}.train import build_model

CFG = drift.settings({})
TARGET = load_schema(Path(__file__).resolve().parents[1] / "schema.yaml")["target"]["name"]


def synthetic(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "height": rng.normal(170, 10, rows),
            "weight": rng.normal(70, 12, rows),
            "colour": rng.choice(["red", "green", "blue"], rows, p=[0.5, 0.3, 0.2]),
            "flag": rng.choice(["yes", "no"], rows),
            "grade": rng.integers(1, 5, rows),  # integer codes: categorical
        }
    )


def compare(reference: pd.DataFrame, current: pd.DataFrame, cfg=CFG) -> dict[str, drift.ColumnResult]:
    columns = list(reference.columns)
    kinds = drift.check_inputs(reference, current, columns, set(columns), cfg)
    return {r.column: r for r in drift.compare(reference, current, columns, kinds, cfg)}


def features(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=TARGET)


def continuous(schema: dict, frame: pd.DataFrame) -> list[str]:
    """Numeric features with many values: the ones a mean or scale shift applies to."""
    return [
        name
        for name, spec in schema["features"].items()
        if spec.get("dtype") != "category" and not spec.get("allowed") and frame[name].nunique() > 10
    ]


def everything_moved(frame: pd.DataFrame) -> list:
    """Shifts that move every feature: the most frequent value takes 90% of the rows."""
    return [simulate.parse_shift(f"{c}:mix=0.9") for c in features(frame).columns]


@pytest.mark.parametrize(
    ("kind", "rows", "distinct", "method"),
    [
        (drift.NUM, 1000, 6, "ks"),
        (drift.NUM, 1000, 5, "chisquare"),
        (drift.NUM, 1000, 2, "z"),
        (drift.CAT, 1000, 3, "chisquare"),
        (drift.CAT, 1000, 2, "z"),
        (drift.NUM, 1001, 6, "wasserstein"),
        (drift.NUM, 1001, 5, "jensenshannon"),
        (drift.CAT, 1001, 50, "jensenshannon"),
    ],
)
def test_default_test_follows_evidently(kind, rows, distinct, method):
    assert drift.default_method(kind, rows, distinct) == method


def test_column_types_are_inferred_like_evidently():
    frame = pd.DataFrame(
        {
            "float": [0.5, 1.0] * 20,
            "codes": list(range(10)) * 4,
            "wide_int": list(range(40)),
            "text": ["a", "b"] * 20,
            "bool": [True, False] * 20,
        }
    )
    kinds = {c: drift.infer_kind(frame[c]) for c in frame}
    numerical, categorical = ["float", "wide_int"], ["codes", "text", "bool"]
    assert kinds == {**dict.fromkeys(numerical, drift.NUM), **dict.fromkeys(categorical, drift.CAT)}
    with pytest.raises(UserError, match="free text"):
        drift.infer_kind(pd.Series([f"id-{i}" for i in range(40)], name="ids"))


def test_wasserstein_is_exactly_scipys():
    rng = np.random.default_rng(7)
    for decimals in (0, 1, 3, 8):  # from heavy ties to none
        u = np.round(rng.normal(size=1500), decimals)
        v = np.round(rng.normal(0.3, 1.2, size=4000), decimals)
        assert drift.wasserstein_sorted(np.sort(u), np.sort(v)) == stats.wasserstein_distance(u, v)


def test_statistics_match_their_textbook_definitions():
    ref, cur = synthetic(800, 1), synthetic(600, 2)
    results = compare(ref, cur)
    assert results["height"].method == "ks"
    assert results["height"].score == stats.ks_2samp(ref["height"], cur["height"]).pvalue
    counts_ref, counts_cur = ref["colour"].value_counts(), cur["colour"].value_counts()
    expected = stats.chisquare(counts_cur[counts_ref.index], counts_ref * len(cur) / len(ref)).pvalue
    assert results["colour"].method == "chisquare"
    assert results["colour"].score == pytest.approx(expected, rel=1e-12)
    share_ref, share_cur = (ref["flag"] == "yes").mean(), (cur["flag"] == "yes").mean()
    pooled = (share_ref * len(ref) + share_cur * len(cur)) / (len(ref) + len(cur))
    z = (share_ref - share_cur) / np.sqrt(pooled * (1 - pooled) * (1 / len(ref) + 1 / len(cur)))
    assert results["flag"].method == "z"
    assert results["flag"].score == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)

    large = compare(synthetic(3000, 1), synthetic(3000, 2))
    assert large["height"].method == "wasserstein"
    ref, cur = synthetic(3000, 1), synthetic(3000, 2)
    shares_ref = ref["colour"].value_counts(normalize=True).sort_index()
    shares_cur = cur["colour"].value_counts(normalize=True).sort_index()
    assert large["colour"].method == "jensenshannon"
    assert large["colour"].score == pytest.approx(distance.jensenshannon(shares_ref, shares_cur), rel=1e-12)


def test_configured_methods_and_thresholds_take_precedence():
    cfg = drift.settings(
        {
            "drift": {
                "method": "psi",
                "cat_method": "jensenshannon",
                "per_column_method": {"weight": "ks"},
                "threshold": 0.3,
                "per_column_threshold": {"colour": 0.01},
            }
        }
    )
    results = compare(synthetic(500, 1), synthetic(500, 2), cfg)
    assert (results["height"].method, results["height"].threshold) == ("psi", 0.3)
    assert (results["weight"].method, results["weight"].threshold) == ("ks", 0.3)
    assert (results["colour"].method, results["colour"].threshold) == ("jensenshannon", 0.01)
    with pytest.raises(UserError, match="does not apply to categorical"):
        compare(synthetic(500, 1), synthetic(500, 2), drift.settings({"drift": {"method": "ks"}}))
    with pytest.raises(UserError, match="drift.method is 'energy'"):
        drift.settings({"drift": {"method": "energy"}})


@pytest.mark.parametrize("data", ["project", "synthetic"])
def test_no_drift_on_a_resample_of_the_reference(source_frame, data):
    # The project's rows in another order: nothing may drift. A larger resample, drawn with
    # replacement, is left to chance; the synthetic data's seed is one that passes.
    reference = features(source_frame) if data == "project" else synthetic(1000, 1)
    current = simulate.simulate(reference, len(reference) if data == "project" else 3000, [], seed=0)
    results = compare(reference, current)
    assert not [c for c, r in results.items() if r.any_drift]
    assert not drift.dataset_verdict(list(results.values()), 0.5)["dataset_drift"]


def test_drift_on_the_shifted_columns_and_only_those(source_frame, schema):
    reference = features(source_frame)
    shifts = dict(zip(continuous(schema, reference), ["mean=1", "scale=2"], strict=False))
    rest = [c for c in reference.columns if c not in shifts]
    shifts.update(zip(rest, ["missing=0.3", "mix=0.9"], strict=False))
    moves = [simulate.parse_shift(f"{column}:{how}") for column, how in shifts.items()]
    current = simulate.simulate(reference, len(reference), moves, seed=0)  # the rows, reordered, then moved
    results = compare(reference, current)
    assert {col for col, r in results.items() if r.any_drift} == set(shifts)
    blanked = next((c for c, how in shifts.items() if how.startswith("missing")), None)
    if blanked:
        assert results[blanked].missing_drifted
        assert results[blanked].missing_current >= results[blanked].missing_reference + 0.2


def test_drift_on_large_samples_uses_distances():
    reference = synthetic(5000, 1)
    shifts = ["height:mean=0.5", "colour:mix=0.9", "grade:missing=0.2"]
    current = simulate.simulate(reference, 20000, [simulate.parse_shift(s) for s in shifts], seed=1)
    results = compare(reference, current)
    assert {c: r.method for c, r in results.items()} == {
        "height": "wasserstein",
        "weight": "wasserstein",
        "colour": "jensenshannon",
        "flag": "jensenshannon",
        "grade": "jensenshannon",
    }
    assert {c for c, r in results.items() if r.any_drift} == {"height", "colour", "grade"}


def write_pair(workdir, reference: pd.DataFrame, current: pd.DataFrame, suffix: str = ".csv"):
    paths = workdir / f"reference{suffix}", workdir / f"current{suffix}"
    for frame, path in zip((reference, current), paths, strict=True):
        frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path, index=False)
    return [str(p) for p in paths]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_run_writes_the_three_reports_and_returns_the_verdict(params, workdir, source_frame, suffix):
    reference = source_frame
    stable = simulate.simulate(reference, len(reference), [], seed=0)
    ref_path, cur_path = write_pair(workdir, reference, stable, suffix)
    assert drift.run(params, ref_path, cur_path, "out", False, None) == 0
    report = json.loads((workdir / "out" / "drift.json").read_text())
    assert report["dataset_drift"] is False and report["prediction"] is None
    assert len(report["columns"]) == reference.shape[1] - 1  # all but the target
    assert report["notes"][0].startswith("prediction drift not computed: no model")

    write_pair(
        workdir, reference, simulate.simulate(reference, 400, everything_moved(reference), seed=0), suffix
    )
    assert drift.run(params, ref_path, cur_path, "out", False, None) == 1
    markdown = (workdir / "out" / "drift.md").read_text()
    assert markdown.startswith("### ⚠️ Drift detected")
    assert "| column | type | method | score | threshold | drifted |" in markdown
    page = (workdir / "out" / "drift.html").read_text()
    assert page.count("<svg") == len(report["columns"])
    assert "<script" not in page and "src=" not in page and "href=" not in page  # nothing fetched
    assert sorted(p.name for p in (workdir / "out").iterdir()) == ["drift.html", "drift.json", "drift.md"]


def test_drifted_columns_below_the_dataset_threshold_are_counted_not_called_no_drift(params, workdir):
    reference = synthetic(1000, 0)
    ref_path, cur_path = write_pair(workdir, reference, reference)

    def check(shifts: list[str]) -> tuple[int, list[str]]:
        current = simulate.simulate(reference, 1000, [simulate.parse_shift(s) for s in shifts], seed=0)
        write_pair(workdir, reference, current)
        status = drift.run(params, ref_path, cur_path, "out", False, None)
        return status, (workdir / "out" / "drift.md").read_text().splitlines()

    status, lines = check(["height:mean=2"])
    assert status == 0
    assert lines[0] == (
        "### No dataset drift: 1 of 5 columns drifted "
        "(share 0.20, below the dataset threshold drift.drift_share 0.5)."
    )
    assert [line.split(" | ")[0] for line in lines if "| **yes** |" in line] == ["| height"]

    status, lines = check(["height:mean=2", "weight:mean=2", "colour:mix=0.95"])
    assert status == 1
    assert lines[0] == (
        "### ⚠️ Drift detected: 3 of 5 columns drifted "
        "(share 0.60, reaching the dataset threshold drift.drift_share 0.5)."
    )

    status, lines = check([])
    assert (status, lines[0]) == (0, "### No drift: none of 5 columns drifted.")


def write_log(directory, frame: pd.DataFrame, predictions, day: str = "2025-01-06") -> None:
    directory.mkdir(exist_ok=True)
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")  # missing as null, as served
    with (directory / f"predictions-{day}.jsonl").open("a") as log:
        for row, prediction in zip(rows, predictions, strict=True):
            record = {"time": f"{day}T12:00:00.000Z", "model_version": "3", "features": row}
            log.write(json.dumps({**record, "prediction": prediction}) + "\n")


@pytest.fixture
def model(params, schema, source_frame, workdir):
    """A model that learnt its training data, whatever model params.yaml chooses: a forest of deep trees."""
    forest = {"model": "random_forest", "seed": 0, "hyperparameters": {"n_estimators": 30, "n_jobs": 1}}
    fitted = build_model({**params, "train": forest}, schema).fit(*split_xy(source_frame, schema))
    (workdir / "models").mkdir()
    joblib.dump(fitted, workdir / "models" / "model.joblib")
    return fitted


def test_prediction_drift_from_the_monitoring_log(params, workdir, source_frame, model):
    ref_path = write_pair(workdir, source_frame, source_frame)[0]
    current = features(simulate.simulate(source_frame, len(source_frame), [], seed=2))
    write_log(workdir / "monitoring", current, model.predict(current).tolist())
    assert drift.run(params, ref_path, "monitoring", "out", False, None) == 0
    report = json.loads((workdir / "out" / "drift.json").read_text())
    assert report["prediction"]["column"] == "prediction" and not report["prediction"]["drifted"]
    assert report["current"]["model_versions"] == ["3"] and report["current"]["rows"] == len(current)

    # A service answering with one value whatever it is asked: its predictions drift.
    constant = model.predict(current).tolist()[:1] * len(current)
    write_log(workdir / "monitoring", current, constant, day="2025-01-07")
    params["drift"] = {**(params.get("drift") or {}), "window_days": 1}  # the newest day only
    assert drift.run(params, ref_path, "monitoring", "out", False, None) == 1
    assert json.loads((workdir / "out" / "drift.json").read_text())["prediction"]["drifted"]


def test_labelled_data_reports_performance_against_training(params, schema, workdir, source_frame, model):
    x, y = split_xy(source_frame, schema)
    primary = params["evaluate"]["primary_metric"]
    positive = positive_class(params, schema) if params["task"] == "classification" else None
    (workdir / "metrics.json").write_text(json.dumps(compute_metrics(params["task"], model, x, y, positive)))
    stable = simulate.simulate(source_frame, len(source_frame), [], seed=3)  # the rows, reordered
    ref_path, cur_path = write_pair(workdir, source_frame, stable)
    assert drift.run(params, ref_path, cur_path, "out", True, None) == 0
    perf = json.loads((workdir / "out" / "drift.json").read_text())["performance"]
    assert perf["metric"] == primary and not perf["degraded"]

    shuffled = simulate.simulate(source_frame, 400, [], seed=3)
    shuffled[TARGET] = np.random.default_rng(0).permutation(shuffled[TARGET].to_numpy())
    write_pair(workdir, source_frame, shuffled)
    assert drift.run(params, ref_path, cur_path, "out", True, None) == 1
    assert json.loads((workdir / "out" / "drift.json").read_text())["performance"]["degraded"]


def _bad_frames(source_frame, schema):
    ref = source_frame
    first = (continuous(schema, ref) or [None])[0]
    if first is None:  # no numeric feature in the project's schema: add one of the tests' own
        ref = source_frame.assign(height=np.random.default_rng(0).normal(170, 10, len(source_frame)))
        first = "height"
    cur = simulate.simulate(ref, 200, [], seed=0)
    text = cur.assign(**{first: "unknown"})
    few = cur[first].where(cur.index < 12)
    return {
        "missing column": (ref, cur.drop(columns=first), f"lacks column\\(s\\) {first}"),
        "unexpected column": (ref, cur.assign(extra=1.0), "has column\\(s\\) extra not in the reference"),
        "wrong dtype": (ref, text, f"column '{first}' holds numbers in the reference data but"),
        "empty current data": (ref, cur.iloc[:0], "current data has no rows"),
        "all-missing column": (
            ref,
            cur.assign(**{first: np.nan}),
            f"column '{first}' is missing in every row",
        ),
        "too few rows": (ref, cur.head(10), "has 10 rows, too few for the drift tests"),
        "too few values": (ref, cur.assign(**{first: few}), f"has {few.notna().sum()} values"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing column",
        "unexpected column",
        "wrong dtype",
        "empty current data",
        "all-missing column",
        "too few rows",
        "too few values",
    ],
)
def test_bad_current_data_is_refused_without_a_report(params, schema, workdir, source_frame, case):
    reference, current, message = _bad_frames(source_frame, schema)[case]
    ref_path, cur_path = write_pair(workdir, reference, current)
    with pytest.raises(UserError, match=message) as error:
        drift.run(params, ref_path, cur_path, "out", False, None)
    assert error.value.exit_code == 2
    assert not (workdir / "out").exists()


def test_bad_files_and_settings_are_refused_without_a_report(params, workdir, source_frame):
    ref_path, cur_path = write_pair(workdir, source_frame, source_frame)
    (workdir / "data.txt").write_text("a,b\n")
    (workdir / "logs").mkdir()
    (workdir / "broken").mkdir()
    (workdir / "broken" / "predictions-2025-01-06.jsonl").write_text('not json\n{"features": 3}\n')
    cases = [
        (("missing.csv", cur_path), "missing.csv not found"),
        ((ref_path, "data.txt"), "neither .csv nor .parquet"),
        ((ref_path, "logs"), "has no predictions-\\*.jsonl files"),
        ((ref_path, "no-such-dir"), "no monitoring log at no-such-dir"),
        ((ref_path, "broken"), "none of the 2 lines of the log window in broken is a prediction log record"),
    ]
    for (reference, current), message in cases:
        with pytest.raises(UserError, match=message):
            drift.run(params, reference, current, "out", False, None)
    unlabelled = write_pair(workdir, source_frame, features(source_frame))[1]
    with pytest.raises(UserError, match="--labelled needs the target column"):
        drift.run(params, ref_path, unlabelled, "out", True, None)
    with pytest.raises(UserError, match="drift.drift_share is 'half'"):
        drift.run({**params, "drift": {"drift_share": "half"}}, ref_path, cur_path, "out", False, None)
    with pytest.raises(UserError, match="model nope.joblib not found"):
        drift.run(params, ref_path, cur_path, "out", False, "nope.joblib")
    assert not (workdir / "out").exists()


LOGGED = {"time": "2025-01-06T12:00:00.000Z", "model_version": "3", "features": {"a": 1.5, "b": "x"}}


@pytest.mark.parametrize(
    ("rows", "bad", "text", "reason"),
    [
        (40, 1, '{"features": {"a": 1.5', "not JSON"),
        (40, 4, "not json", "not JSON"),
        (40, 7, '["features", "prediction"]', 'no "features" object'),
        # Past Arrow's first block of the file (1 MB), where its row count starts again from 0.
        (20000, 15000, '{"features": {"a": 1.5, "b": "x"}, "prediction": 0', "not JSON"),
        (20000, 15000, '{"features": {"a": "high", "b": "x"}, "prediction": 0}', "'a' is text where"),
    ],
)
def test_a_bad_log_line_is_skipped_counted_and_named(params, workdir, rows, bad, text, reason):
    lines = [
        json.dumps({**LOGGED, "features": {"a": i * 0.5, "b": "xy"[i % 2]}, "prediction": i % 2})
        for i in range(rows)
    ]
    lines[bad - 1] = text
    (workdir / "logs").mkdir()
    (workdir / "logs" / "predictions-2025-01-06.jsonl").write_text("\n".join(lines) + "\n")
    reference = workdir / "reference.csv"
    pd.DataFrame({"a": [i * 0.5 for i in range(40)], "b": ["x", "y"] * 20}).to_csv(reference, index=False)
    drift.run(params, str(reference), "logs", "out", False, None)
    report = json.loads((workdir / "out" / "drift.json").read_text())
    assert report["current"]["rows"] == rows - 1
    assert report["current"]["skipped_lines"]["count"] == 1
    (named,) = report["current"]["skipped_lines"]["examples"]
    assert named.startswith(f"predictions-2025-01-06.jsonl line {bad}: {reason}"), named
    assert (
        f"1 unreadable log line skipped (predictions-2025-01-06.jsonl line {bad}: "
        in (workdir / "out" / "drift.md").read_text()
    )


def test_a_window_of_only_bad_lines_is_an_error(params, workdir):
    (workdir / "logs").mkdir()
    (workdir / "logs" / "predictions-2025-01-05.jsonl").write_text('{"features": {"a": 1\n')
    (workdir / "logs" / "predictions-2025-01-06.jsonl").write_text("not json\n\n[1, 2]\n")
    reference = workdir / "reference.csv"
    pd.DataFrame({"a": [1.0, 2.0]}).to_csv(reference, index=False)
    with pytest.raises(
        UserError,
        match=r"none of the 4 lines of the log window in logs is a prediction log "
        r"record \(first: predictions-2025-01-05.jsonl line 1: not JSON",
    ):
        drift.run(params, str(reference), "logs", "out", False, None)
    assert not (workdir / "out").exists()


def test_cli_exit_codes(workdir, source_frame, capsys):
    from {{ cookiecutter.package_name }}.cli import main

    stable = simulate.simulate(source_frame, len(source_frame), [], seed=0)
    ref_path, cur_path = write_pair(workdir, source_frame, stable)
    assert main(["drift", "--reference", ref_path, "--current", cur_path, "--out-dir", "out"]) == 0
    write_pair(
        workdir, source_frame, simulate.simulate(source_frame, 300, everything_moved(source_frame), seed=0)
    )
    assert main(["drift", "--reference", ref_path, "--current", cur_path, "--out-dir", "out"]) == 1
    assert main(["drift", "--reference", ref_path, "--current", "nowhere.csv", "--out-dir", "out2"]) == 2
    assert "error: nowhere.csv not found" in capsys.readouterr().err
    assert not (workdir / "out2").exists()

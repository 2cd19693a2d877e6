"""`schema infer` and `schema example`: schema.yaml from data, a request row from schema.yaml."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.errors import UserError
from {{ cookiecutter.package_name }}.params import load_schema
from {{ cookiecutter.package_name }}.schema_tools import example_row, first_numeric_feature, infer_file
from {{ cookiecutter.package_name }}.validation import validate_frame

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def shop(workdir) -> Path:
    """Data the project has never seen: text categories, gaps, whole numbers, a string multiclass target."""
    rng = np.random.default_rng(7)
    rows = 300
    frame = pd.DataFrame(
        {
            "age": rng.uniform(18, 80, rows).round(1),
            "visits": rng.integers(0, 40, rows),
            "balance": rng.normal(0, 500, rows).round(2),
            "plan": rng.choice(["basic", "pro", "team", "yes"], rows),
            "city": rng.choice(["Paris", "Oslo", "New York"], rows),
            "churned": rng.integers(0, 2, rows),
            "segment": rng.choice(["gold", "silver", "bronze"], rows),
        }
    )
    frame.loc[rng.choice(rows, 30, replace=False), "age"] = np.nan
    frame.loc[rng.choice(rows, 10, replace=False), "city"] = np.nan
    path = workdir / "data/source/shop.csv"
    path.parent.mkdir(parents=True)
    frame.to_csv(path, index=False)
    return path


def test_infer_writes_types_values_ranges_and_classes(shop, workdir):
    out = workdir / "inferred.yaml"
    found = infer_file(shop, out, "segment", "classification")
    schema = load_schema(out)
    classes = ["bronze", "gold", "silver"]
    assert schema["target"] == {"name": "segment", "dtype": "category", "allowed": classes}
    features = schema["features"]
    assert list(features) == ["age", "visits", "balance", "plan", "city", "churned"]
    assert features["plan"] == {"dtype": "category", "allowed": ["basic", "pro", "team", "yes"]}
    cities = ["New York", "Oslo", "Paris"]
    assert features["city"] == {"dtype": "category", "allowed": cities, "nullable": True}
    assert features["age"]["dtype"] == "float" and features["age"]["nullable"] is True
    assert features["visits"]["dtype"] == "int" and "nullable" not in features["visits"]
    data = pd.read_csv(shop)
    for name in ("age", "visits", "balance"):
        low, high, spec = data[name].min(), data[name].max(), features[name]
        margin = 0.1 * (high - low)
        assert spec["min"] <= low - margin + 0.01 * margin or spec["min"] == 0
        assert spec["max"] >= high + margin - 0.01 * margin
    assert features["age"]["min"] >= 0 and features["visits"]["min"] == 0  # non-negative columns stay so
    assert features["balance"]["min"] < data["balance"].min() < 0
    assert found["looks_like"] == "classification"
    text = out.read_text()
    assert text.startswith("# The data contract, inferred from") and "Review it" in text
    # Each column on one line, as schema.yaml is written by hand.
    assert "  plan: {dtype: category, allowed: [basic, pro, team, 'yes']}\n" in text


def test_the_inferred_schema_accepts_its_data(shop, workdir):
    infer_file(shop, workdir / "inferred.yaml", "churned", "classification")
    schema = load_schema(workdir / "inferred.yaml")
    # The complete rows: what validate makes of missing values is the nullable flag's business.
    complete = pd.read_csv(shop, dtype=str).dropna().reset_index(drop=True)
    assert len(validate_frame(complete, schema)) == len(complete) > 200


def test_integer_classes_and_a_regression_target(workdir):
    frame = pd.DataFrame({"x": np.arange(100) / 10, "label": [0, 1] * 50, "price": np.linspace(5, 95, 100)})
    frame.to_csv(workdir / "d.csv", index=False)
    infer_file(workdir / "d.csv", workdir / "c.yaml", "label", "classification")
    assert load_schema(workdir / "c.yaml")["target"] == {"name": "label", "dtype": "int", "allowed": [0, 1]}
    found = infer_file(workdir / "d.csv", workdir / "r.yaml", "price", "regression")
    target = load_schema(workdir / "r.yaml")["target"]
    assert target["dtype"] == "float" and target["min"] == 0 and 104 <= target["max"] <= 105
    assert found["looks_like"] == "regression"


def test_a_text_target_cannot_be_a_regression(shop, workdir):
    with pytest.raises(UserError, match="the target 'segment' holds text, which a regression cannot predict"):
        infer_file(shop, workdir / "r.yaml", "segment", "regression")


def test_infer_never_overwrites_without_force(shop, workdir, capsys):
    before = (workdir / "schema.yaml").read_text()
    assert main(["schema", "infer", str(shop), "--target", "balance"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: schema.yaml already exists; review and edit it, or run again with --force to replace it.\n"
    )
    assert (workdir / "schema.yaml").read_text() == before
    assert main(["schema", "infer", str(shop), "--target", "balance", "--force"]) == 0
    assert load_schema()["target"]["name"] == "balance"


def test_infer_says_when_the_target_disagrees_with_the_task(shop, workdir, capsys):
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    other = "regression" if params["task"] == "classification" else "classification"
    target = "balance" if params["task"] == "classification" else "segment"
    assert main(["--schema", "s.yaml", "schema", "infer", str(shop), "--target", target]) == (
        0 if params["task"] == "classification" else 2
    )
    out = capsys.readouterr()
    if params["task"] == "classification":
        assert f"the target 'balance' looks like {other} (it holds" in out.err
        assert f"but params.yaml task is {params['task']}" in out.err
    else:
        assert "holds text, which a regression cannot predict" in out.err


def test_infer_defaults_to_the_last_column_and_names_wrong_targets(shop, workdir, capsys):
    assert main(["--schema", "s.yaml", "schema", "infer", str(shop), "--target", "nope"]) == 2
    assert "--target 'nope' is not a column of" in capsys.readouterr().err
    infer_file(shop, workdir / "last.yaml", None, "classification")
    assert load_schema(workdir / "last.yaml")["target"]["name"] == "segment"


def test_infer_notes_codes_identifiers_and_many_values(workdir):
    rows = 120
    frame = pd.DataFrame(
        {
            "id": [f"c{i:04d}" for i in range(rows)],
            "rating": [1, 2, 3] * (rows // 3),
            "street": [f"street {i % 60}" for i in range(rows)],
            "y": [0, 1] * (rows // 2),
        }
    )
    frame.to_parquet(workdir / "d.parquet")
    found = infer_file(workdir / "d.parquet", workdir / "s.yaml", "y", "classification")
    notes = "\n".join(found["notes"])
    assert "column 'id' has a different value on every row" in notes
    assert "column 'rating' holds 3 distinct whole numbers" in notes
    street = load_schema(workdir / "s.yaml")["features"]["street"]
    assert street["allow_unknown"] is True and len(street["allowed"]) == 50


def test_the_example_row_is_a_valid_request(service, shop, workdir):
    infer_file(shop, workdir / "inferred.yaml", "segment", "classification")
    for schema in (load_schema(workdir / "inferred.yaml"), load_schema(ROOT / "schema.yaml")):
        row = example_row(schema)
        assert service.request_model(schema).model_validate_json(json.dumps(row)).model_dump() == row


def test_example_row_midpoints_first_values_and_null_only_when_nothing_else_fits():
    schema = {
        "target": {"name": "y"},
        "features": {
            "age": {"dtype": "float", "min": 0, "max": 120, "nullable": True},
            "visits": {"dtype": "int", "min": 0, "max": 5},
            "plan": {"dtype": "category", "allowed": ["basic", "pro"]},
            "code": {"dtype": "float", "allowed": [2, 1]},
            "fraction": {"dtype": "int", "min": 0.2, "max": 0.8, "nullable": True},
        },
    }
    assert example_row(schema) == {"age": 60.0, "visits": 2, "plan": "basic", "code": 2.0, "fraction": None}


def test_schema_example_prints_json(workdir, capsys):
    assert main(["schema", "example"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert list(row) == list(load_schema()["features"])


def test_first_numeric_feature_skips_categories(workdir):
    (workdir / "s.yaml").write_text("features:\n  plan: {dtype: category}\n  visits: {dtype: int}\n")
    assert first_numeric_feature(workdir / "s.yaml") == "visits"
    assert first_numeric_feature(workdir / "absent.yaml") is None

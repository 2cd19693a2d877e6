"""The service without a server: its request schema, its model call and its monitoring log."""

import asyncio
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from {{ cookiecutter.package_name }} import monitoring
from {{ cookiecutter.package_name }}.features import split_xy
from {{ cookiecutter.package_name }}.train import build_model

ROOT = Path(__file__).resolve().parents[1]


def as_requests(x: pd.DataFrame) -> list[dict]:
    """Rows as a client sends them: JSON objects, missing values as null."""
    return json.loads(x.to_json(orient="records"))


def same(got: list, expected: list) -> bool:
    """Equal labels, or numbers equal up to the last bits (a linear model's matrix product varies
    them with the batch's shape)."""
    numbers = all(isinstance(v, int | float) for v in [*got, *expected])
    return got == pytest.approx(expected) if numbers else got == expected


@pytest.fixture
def row(source_frame, schema):
    x, _ = split_xy(source_frame, schema)
    return as_requests(x.head(1))[0]


def errors(model, payload) -> list[tuple]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(payload if isinstance(payload, str) else json.dumps(payload))
    return [(e["type"], e["loc"]) for e in caught.value.errors()]


def test_a_valid_row_is_accepted(service, row):
    assert service.Features.model_validate_json(json.dumps(row)).model_dump() == row


def test_each_bad_row_is_refused_with_the_field(service, schema, row):
    first = next(iter(schema["features"]))
    missing = {k: v for k, v in row.items() if k != first}
    assert errors(service.Features, missing) == [("missing", (first,))]
    assert errors(service.Features, {**row, "unknown": 1.0}) == [("extra_forbidden", ("unknown",))]
    assert errors(service.Features, "not json") == [("json_invalid", ())]
    for name, spec in schema["features"].items():
        if spec.get("dtype", "float") != "float" or spec.get("allowed"):
            continue  # text, whole numbers and lists of values: test_ranges_and_allowed_values_...
        assert errors(service.Features, {**row, name: "1.5"}) == [("float_type", (name,))]
        assert errors(service.Features, {**row, name: True}) == [("float_type", (name,))]
        nan = json.dumps({**row, name: 1.0}).replace(f'"{name}": 1.0', f'"{name}": NaN')
        assert errors(service.Features, nan) == [("finite_number", (name,))]


def test_ranges_and_allowed_values_come_from_the_schema(service, schema, row):
    features = service.Features
    for name, spec in schema["features"].items():
        if "max" in spec and not spec.get("allowed"):
            assert errors(features, {**row, name: spec["max"] + 1}) == [("less_than_equal", (name,))]
        if "min" in spec and not spec.get("allowed"):
            assert errors(features, {**row, name: spec["min"] - 1}) == [("greater_than_equal", (name,))]
        if spec.get("allowed") and not spec.get("allow_unknown"):
            text = spec.get("dtype") == "category"
            outside = "not-an-allowed-value" if text else max(spec["allowed"]) + 1
            assert errors(features, {**row, name: outside}) == [("literal_error", (name,))]


def test_model_store_name_is_a_valid_bentoml_name(service):
    assert service.model_store_name("Demo Model_v2") == "demo-model_v2"
    assert service.model_store_name("---") == "model"


@pytest.fixture
def predictor(service, params, schema, source_frame, tmp_path):
    """The service's instance without a server (and without a model store): a fitted pipeline."""
    x, y = split_xy(source_frame, schema)
    pipeline = build_model(params, schema).fit(x, y)
    front = service.Predictor.inner.__new__(service.Predictor.inner)
    front.model, front.version = pipeline, "7"
    front.log = monitoring.DirectoryLog(tmp_path / "monitoring")
    # As __init__ does (it binds to its first loop), with a latency budget a loaded test machine
    # cannot overrun: these tests are about which rows reach the model, not about its speed.
    front._infer = service.batched(front._infer_batches, max_latency_ms=60_000)
    return front, pipeline, x


def rows_of(service, x: pd.DataFrame) -> list:
    return [service.Features.model_validate_json(json.dumps(r)) for r in as_requests(x)]


def test_predictions_match_the_model_and_every_row_is_logged(service, params, predictor):
    front, pipeline, x = predictor
    rows = rows_of(service, x.head(5))

    async def calls():
        return await front.predict(rows[0]), await front.predict_batch(rows)

    single, batch = asyncio.run(calls())
    expected = pipeline.predict(x.head(5))
    assert single.model_version == batch.model_version == "7"
    assert same([single.prediction], expected.tolist()[:1])
    assert same(batch.predictions, expected.tolist())
    if params["task"] == "classification":
        labels = [str(c) for c in pipeline.classes_]
        for got, expected_row in zip(batch.probabilities, pipeline.predict_proba(x.head(5)), strict=True):
            assert list(got) == labels
            # Up to rounding: a linear model's last bits vary with the batch's shape.
            np.testing.assert_allclose(list(got.values()), expected_row, rtol=1e-6)
    else:
        assert batch.probabilities is None
    (log,) = front.log.location.glob("predictions-*.jsonl")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 6
    assert records[1]["features"] == rows[0].model_dump()
    assert same([records[1]["prediction"]], expected.tolist()[:1])
    assert records[0]["time"].endswith("Z") and records[0]["model_version"] == "7"
    assert ("probabilities" in records[0]) == (params["task"] == "classification")


def test_monitoring_log_format_and_directory(tmp_path, monkeypatch):
    probabilities = [{"no": 0.9, "yes": 0.1}, {"no": 0.2, "yes": 0.8}]
    path = monitoring.append(tmp_path, "3", [{"a": 1.0}, {"a": 2.0}], ["no", "yes"], probabilities)
    assert path.name.startswith("predictions-") and path.suffix == ".jsonl"
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    assert first["features"] == {"a": 1.0} and second["probabilities"] == {"no": 0.2, "yes": 0.8}
    assert set(first) == {"time", "model_version", "features", "prediction", "probabilities"}
    monkeypatch.setenv(monitoring.ENV_DIR, str(tmp_path / "elsewhere"))
    assert monitoring.monitoring_dir({"service": {"monitoring_dir": "monitoring"}}) == tmp_path / "elsewhere"
    monkeypatch.delenv(monitoring.ENV_DIR)
    assert monitoring.monitoring_dir({}).name == "monitoring"


def test_monitoring_refuses_values_json_cannot_carry(tmp_path):
    with pytest.raises(ValueError):
        monitoring.append(tmp_path, "3", [{"a": math.nan}], [0])
    assert not list(tmp_path.glob("*.jsonl"))


def test_model_call_takes_an_array_of_rows(service, predictor):
    front, pipeline, x = predictor
    out = front.infer(x.head(3).to_numpy(dtype=service.ROW_DTYPE))
    assert same([r["prediction"] for r in out], pipeline.predict(x.head(3)).tolist())


def test_concurrent_requests_reach_the_model_as_few_batches(service, predictor):
    front, pipeline, x = predictor
    calls = []
    infer = front.infer
    front.infer = lambda rows: calls.append(len(rows)) or infer(rows)
    rows = rows_of(service, x.head(40))

    async def traffic():
        for row in rows[:12]:  # the batcher first times single calls to learn the model's speed
            await front.predict(row)
        return await asyncio.gather(*(front.predict(row) for row in rows[12:]))

    answers = asyncio.run(traffic())
    assert same([a.prediction for a in answers], pipeline.predict(x.iloc[12:40]).tolist())
    assert sum(calls) == 40
    assert len(calls) - 12 < 28 / 2, f"28 concurrent requests took {len(calls) - 12} model calls"


MIXED_SCHEMA = {
    "target": {"name": "species", "dtype": "category", "allowed": ["cat", "dog"]},
    "features": {
        "weight": {"dtype": "float", "min": 0, "max": 100, "nullable": True},
        "colour": {"dtype": "category", "allowed": ["red", "blue"]},
        "city": {"dtype": "category", "allowed": ["Oslo"], "allow_unknown": True},
    },
}


def test_request_schema_of_categories_and_nullable_fields(service):
    features = service.request_model(MIXED_SCHEMA)
    row = {"weight": None, "colour": "red", "city": "Lima"}
    assert features.model_validate_json(json.dumps(row)).model_dump() == row
    assert errors(features, {**row, "colour": "green"}) == [("literal_error", ("colour",))]
    assert errors(features, {**row, "colour": None}) == [("literal_error", ("colour",))]
    assert errors(features, {**row, "city": 3}) == [("string_type", ("city",))]
    assert errors(features, {**row, "city": "x" * 201}) == [("string_too_long", ("city",))]
    assert errors(features, {**row, "city": "Li\x00ma"}) == [("string_pattern_mismatch", ("city",))]
    assert errors(features, {k: v for k, v in row.items() if k != "weight"}) == [("missing", ("weight",))]
    assert errors(features, {**row, "weight": 101.0}) == [("less_than_equal", ("weight",))]


def longest_row(service, schema: dict) -> dict:
    """A row with every value at the longest JSON of its type: a float64's longest, text escaped
    character by character (a range is not checked here: this is about bytes)."""
    row = {}
    for name, spec in schema["features"].items():
        if spec.get("dtype") == "category":
            texts = [str(v) for v in spec.get("allowed", [])]
            if spec.get("allow_unknown") or not texts:
                texts.append("\u2603" * service.MAX_CATEGORY_LENGTH)
            row[name] = max(texts, key=len)
        else:
            row[name] = -1.7976931348623157e308 if spec.get("dtype", "float") == "float" else -(2**63)
    return row


@pytest.mark.parametrize("rows", [1, 100])
def test_the_body_limit_takes_the_longest_valid_rows_indented(service, schema, rows):
    """The 413 limit never refuses a body of rows the schema admits, even indented; nor is it far above."""
    for each in (schema, MIXED_SCHEMA):
        row = longest_row(service, each)
        compact = len(json.dumps([row] * rows))
        assert len(json.dumps([row] * rows, indent=4)) <= service.max_body_bytes(each, rows) < 3 * compact

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.errors import UserError
from {{ cookiecutter.package_name }}.validation import validate, validate_frame


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """What read_raw returns: every cell as text, missing cells as NA."""
    return frame.astype("string")


def test_clean_data_passes_with_numeric_dtypes(source_frame, schema):
    clean = validate_frame(as_text(source_frame), schema)
    assert len(clean) == len(source_frame)
    assert all(pd.api.types.is_numeric_dtype(clean[c]) for c in clean.columns)


def test_missing_column_is_named(source_frame, schema):
    column = next(iter(schema["features"]))
    with pytest.raises(UserError, match=f"'{column}' are missing"):
        validate_frame(as_text(source_frame.drop(columns=[column])), schema)


def test_unexpected_column_is_named(source_frame, schema):
    with pytest.raises(UserError, match="'surprise' are not in schema.yaml"):
        validate_frame(as_text(source_frame.assign(surprise=1)), schema)


def test_out_of_range_values_name_column_and_lines(source_frame, schema):
    column, spec = next((c, s) for c, s in schema["features"].items() if "max" in s)
    bad = source_frame.copy()
    bad.loc[[3, 10], column] = spec["max"] * 10
    with pytest.raises(UserError) as raised:
        validate_frame(as_text(bad), schema)
    message = str(raised.value)
    assert f"column '{column}' has 2 values outside" in message
    assert "on lines 5, 12" in message  # the header is line 1, row 0 is line 2


def test_missing_and_non_numeric_values_are_reported_separately(source_frame, schema):
    column = next(iter(schema["features"]))
    bad = as_text(source_frame)
    bad.loc[0, column] = pd.NA
    bad.loc[1, column] = "n/a"
    with pytest.raises(UserError) as raised:
        validate_frame(bad, schema)
    message = str(raised.value)
    assert f"column '{column}' has 1 missing values on lines 2" in message
    assert f"column '{column}' has 1 non-numeric values on lines 3 (first: 'n/a')" in message


def test_target_outside_allowed_values(source_frame, schema):
    target = schema["target"]
    bad = source_frame.copy()
    bad.loc[0, target["name"]] = -5
    with pytest.raises(UserError, match=f"column '{target['name']}'"):
        validate_frame(as_text(bad), schema)


def test_too_few_rows(source_frame, schema):
    with pytest.raises(UserError, match="fewer than data.min_rows"):
        validate_frame(as_text(source_frame.head(3)), schema, min_rows=10)


def test_validate_stage_writes_nothing_on_bad_data(params, schema, source_frame, workdir):
    raw = workdir / "raw.csv"
    source_frame.assign(surprise=1).to_csv(raw, index=False)
    out = workdir / "validated.csv"
    with pytest.raises(UserError, match="raw.csv failed validation"):
        validate(params, schema, raw, out)
    assert not out.exists()


def test_empty_file_is_a_clear_error(params, schema, workdir):
    raw = workdir / "raw.csv"
    raw.write_text("")
    with pytest.raises(UserError, match="is empty"):
        validate(params, schema, raw, workdir / "out.csv")

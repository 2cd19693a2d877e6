import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.errors import UserError
from {{ cookiecutter.package_name }}.validation import validate, validate_frame


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """What read_raw returns: every cell as text, missing cells as NA."""
    return frame.astype("string")


def test_clean_data_passes_with_the_schemas_dtypes(source_frame, schema, params):
    clean = validate_frame(as_text(source_frame), schema, task=params["task"])
    assert len(clean) == len(source_frame)
    for name, spec in {**schema["features"], schema["target"]["name"]: schema["target"]}.items():
        numeric = pd.api.types.is_numeric_dtype(clean[name])
        assert numeric == (spec.get("dtype") != "category"), name


def test_missing_column_is_named(source_frame, schema):
    column = next(iter(schema["features"]))
    with pytest.raises(UserError, match=f"'{column}' are missing"):
        validate_frame(as_text(source_frame.drop(columns=[column])), schema)


def test_unexpected_column_is_named(source_frame, schema):
    with pytest.raises(UserError, match="'surprise' are not in schema.yaml"):
        validate_frame(as_text(source_frame.assign(surprise=1)), schema)


def numeric_column(schema: dict, frame: pd.DataFrame, need: str) -> tuple[dict, pd.DataFrame, str, dict]:
    """A numeric feature with `need` ("max", or "required": not nullable) from the project's schema,
    or from the tests' own schema when the project's has none."""
    for name, spec in schema["features"].items():
        numeric = spec.get("dtype") != "category" and not spec.get("allowed")
        wanted = spec.get("max") is not None if need == "max" else not spec.get("nullable")
        if numeric and wanted:
            return schema, frame, name, spec
    return MIXED, mixed(), "legs", MIXED["features"]["legs"]


def test_out_of_range_values_name_column_and_lines(source_frame, schema):
    schema, frame, column, spec = numeric_column(schema, source_frame, "max")
    bad = frame.astype({column: float})
    bad.loc[[3, 10], column] = spec["max"] + 1 + abs(spec["max"]) * 10
    with pytest.raises(UserError) as raised:
        validate_frame(as_text(bad), schema)
    message = str(raised.value)
    assert f"column '{column}' has 2 values outside" in message
    assert "on lines 5, 12" in message  # the header is line 1, row 0 is line 2


def test_missing_and_non_numeric_values_are_reported_separately(source_frame, schema):
    schema, frame, column, _ = numeric_column(schema, source_frame, "required")
    bad = as_text(frame)
    bad.loc[0, column] = pd.NA
    bad.loc[1, column] = "n/a"
    with pytest.raises(UserError) as raised:
        validate_frame(bad, schema)
    message = str(raised.value)
    assert f"column '{column}' has 1 missing values on lines 2" in message
    assert f"column '{column}' has 1 non-numeric values on lines 3 (first: 'n/a')" in message


def test_target_outside_its_classes_or_range(source_frame, schema, params):
    target = schema["target"]
    if target.get("allowed"):
        numbers = [a for a in target["allowed"] if isinstance(a, int | float)]
        outside = max(numbers) + 1 if numbers else "no such class"
    elif target.get("max") is not None:
        outside = target["max"] + 1 + abs(target["max"]) * 10
    else:  # an unbounded regression target: the tests' own schema shows the check
        schema, source_frame, target = MIXED, mixed(), MIXED["target"]
        outside = "owl"
    bad = as_text(source_frame)
    bad.loc[0, target["name"]] = str(outside)
    with pytest.raises(UserError, match=f"'{target['name']}' has 1 .*on lines 2"):
        validate_frame(bad, schema)


# A schema with every kind of column, and data the tests make, so they hold for any project's schema.
MIXED = {
    "target": {"name": "species", "dtype": "category", "allowed": ["cat", "dog", "eel"]},
    "features": {
        "weight": {"dtype": "float", "min": 0, "max": 100, "nullable": True},
        "legs": {"dtype": "int", "min": 0, "max": 8},
        "colour": {"dtype": "category", "allowed": ["red", "blue"]},
        "city": {"dtype": "category", "allowed": ["Oslo"], "allow_unknown": True, "nullable": True},
    },
}


def mixed(rows: int = 12) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "weight": [1.5, None, 30.0] * (rows // 3),
            "legs": [4, 0, 4] * (rows // 3),
            "colour": ["red", "blue", "blue"] * (rows // 3),
            "city": ["Oslo", "Lima", None] * (rows // 3),
            "species": ["cat", "eel", "dog"] * (rows // 3),
        }
    )


def test_categories_nulls_and_text_labels_pass_with_their_dtypes():
    clean = validate_frame(as_text(mixed()), MIXED, task="classification")
    assert clean["weight"].isna().sum() == 4 and clean["weight"].dtype == "float64"
    assert clean["legs"].tolist()[:3] == [4, 0, 4]
    assert clean["city"].tolist()[:3] == ["Oslo", "Lima", None]  # unknown accepted, null kept
    assert clean["species"].tolist()[:3] == ["cat", "eel", "dog"]


def test_category_outside_allowed_and_nulls_where_not_nullable():
    bad = as_text(mixed())
    bad.loc[2, "colour"] = "green"
    bad.loc[5, "legs"] = pd.NA
    with pytest.raises(UserError) as raised:
        validate_frame(bad, MIXED, task="classification")
    message = str(raised.value)
    assert "column 'colour' has 1 values other than red, blue on lines 4 (first: 'green')" in message
    assert "`allow_unknown: true`" in message
    assert "column 'legs' has 1 missing values on lines 7" in message and "`nullable: true`" in message


def test_an_unknown_class_is_named_as_a_class():
    bad = as_text(mixed())
    bad.loc[3, "species"] = "owl"
    with pytest.raises(
        UserError,
        match=r"the target 'species' has 1 rows of a class not in schema.yaml "
        r"\(cat, dog, eel\) on lines 5 \(first: 'owl'\)",
    ):
        validate_frame(bad, MIXED, task="classification")


def test_a_target_needs_two_classes_each_with_two_rows():
    single = as_text(mixed().assign(species="dog"))
    with pytest.raises(UserError, match="has only class 'dog'; a classifier needs at least two"):
        validate_frame(single, MIXED, task="classification")
    lonely = as_text(mixed())
    lonely.loc[:, "species"] = ["cat", "dog"] * 6
    lonely.loc[0, "species"] = "eel"
    with pytest.raises(UserError, match="single row of class 'eel'"):
        validate_frame(lonely, MIXED, task="classification")
    no_classes = {**MIXED, "target": {"name": "species", "dtype": "category"}}
    with pytest.raises(UserError, match="lists no classes; add `allowed"):
        validate_frame(as_text(mixed()), no_classes, task="classification")


def test_infinite_values_are_refused():
    bad = as_text(mixed())
    bad.loc[1, "weight"] = "inf"
    bad.loc[4, "weight"] = "-Infinity"
    with pytest.raises(
        UserError, match=r"column 'weight' has 2 infinite values on lines 3, 6 \(first: 'inf'\)"
    ):
        validate_frame(bad, MIXED, task="classification")


def test_a_file_that_is_not_utf8_names_the_line_and_column(params, workdir):
    raw = workdir / "raw.csv"
    raw.write_bytes("weight,colour\n1.0,red\n2.0,caf\xe9\n".encode("latin-1"))
    with pytest.raises(
        UserError, match=r"raw.csv is not UTF-8: byte 0xe9 on line 3, column 8, .*save the file as UTF-8"
    ):
        validate(params, MIXED, raw, workdir / "out.csv")


def test_too_few_rows(source_frame, schema):
    with pytest.raises(UserError, match="fewer than data.min_rows"):
        validate_frame(as_text(source_frame.head(3)), schema, min_rows=10)


def test_validate_stage_keeps_the_previous_output_on_bad_data(params, workdir):
    params.update(task="classification", data={**params["data"], "min_rows": 1})
    raw, out = workdir / "raw.csv", workdir / "validated.csv"
    mixed().to_csv(raw, index=False)
    validate(params, MIXED, raw, out)
    before = out.read_bytes()
    mixed().assign(surprise=1).to_csv(raw, index=False)
    with pytest.raises(UserError, match="raw.csv failed validation"):
        validate(params, MIXED, raw, out)
    assert out.read_bytes() == before
    assert [p.name for p in workdir.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_empty_file_is_a_clear_error(params, schema, workdir):
    raw = workdir / "raw.csv"
    raw.write_text("")
    with pytest.raises(UserError, match="is empty"):
        validate(params, schema, raw, workdir / "out.csv")

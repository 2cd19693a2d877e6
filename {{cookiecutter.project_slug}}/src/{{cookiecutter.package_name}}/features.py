"""Feature preprocessing, built from schema.yaml so training and serving agree."""

from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def categorical_columns(schema: dict) -> list[str]:
    return [name for name, spec in schema["features"].items() if spec.get("dtype") == "category"]


def read_frame(path: Path, schema: dict) -> pd.DataFrame:
    """A CSV the pipeline wrote, with text columns read back as text ("01" stays "01")."""
    text = categorical_columns(schema)
    if schema["target"].get("dtype") == "category":
        text.append(schema["target"]["name"])
    return pd.read_csv(path, dtype=dict.fromkeys(text, str))


def split_xy(frame, schema):
    """Features in schema order, and the target."""
    return frame[list(schema["features"])], frame[schema["target"]["name"]]


def preprocessor(schema: dict) -> ColumnTransformer:
    """Impute, then scale numbers and one-hot encode categories.

    Imputation sits inside the model, so a nullable field the service receives as null is
    filled exactly as training filled it. Categories the training data never showed (allowed,
    or accepted as unknown) encode as all zeros rather than failing.
    """
    categorical = categorical_columns(schema)
    numeric = [name for name in schema["features"] if name not in categorical]
    transformers = [("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric)]
    if categorical:
        encode = make_pipeline(
            SimpleImputer(strategy="most_frequent"),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
        )
        transformers.append(("categorical", encode, categorical))
    return ColumnTransformer(transformers, verbose_feature_names_out=False)

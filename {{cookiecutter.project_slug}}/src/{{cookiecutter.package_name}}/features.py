"""Feature preprocessing, built from schema.yaml so training and serving agree."""

from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def split_xy(frame, schema):
    """Features in schema order, and the target."""
    return frame[list(schema["features"])], frame[schema["target"]["name"]]


def preprocessor(schema: dict) -> ColumnTransformer:
    features = schema["features"]
    categorical = [name for name, spec in features.items() if spec.get("dtype") == "category"]
    numeric = [name for name in features if name not in categorical]
    transformers = [("numeric", StandardScaler(), numeric)]
    if categorical:
        transformers.append(("categorical", OneHotEncoder(handle_unknown="ignore"), categorical))
    return ColumnTransformer(transformers, verbose_feature_names_out=False)

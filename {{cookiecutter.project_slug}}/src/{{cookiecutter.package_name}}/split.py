"""The split stage: a seeded train/test split, stratified for classification."""

from pathlib import Path

from sklearn.model_selection import train_test_split

from .atomic import replacing
from .errors import UserError
from .features import read_frame

TRAIN_PATH = Path("data/processed/train.csv")
TEST_PATH = Path("data/processed/test.csv")


def split(
    params: dict, schema: dict, validated: Path, out_dir: Path = TRAIN_PATH.parent
) -> tuple[Path, Path]:
    frame = read_frame(validated, schema)
    target = frame[schema["target"]["name"]]
    try:
        train, test = train_test_split(
            frame,
            test_size=params["split"]["test_size"],
            random_state=params["split"]["seed"],
            stratify=target if params["task"] == "classification" else None,
        )
    except ValueError as exc:  # a test_size out of range, or too small to hold every class
        raise UserError(f"cannot split {validated} with params.yaml split {params['split']}: {exc}") from exc
    paths = out_dir / TRAIN_PATH.name, out_dir / TEST_PATH.name
    for part, path in zip((train, test), paths, strict=True):
        with replacing(path) as temporary:
            part.to_csv(temporary, index=False)
    return paths

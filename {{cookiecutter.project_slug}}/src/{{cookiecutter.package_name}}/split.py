"""The split stage: a seeded train/test split, stratified for classification."""

from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

TRAIN_PATH = Path("data/processed/train.csv")
TEST_PATH = Path("data/processed/test.csv")


def split(
    params: dict, schema: dict, validated: Path, out_dir: Path = TRAIN_PATH.parent
) -> tuple[Path, Path]:
    frame = pd.read_csv(validated)
    target = frame[schema["target"]["name"]]
    train, test = train_test_split(
        frame,
        test_size=params["split"]["test_size"],
        random_state=params["split"]["seed"],
        stratify=target if params["task"] == "classification" else None,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    train_path, test_path = out_dir / TRAIN_PATH.name, out_dir / TEST_PATH.name
    train.to_csv(train_path, index=False)
    test.to_csv(test_path, index=False)
    return train_path, test_path

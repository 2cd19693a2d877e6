"""The command line: one subcommand per concern. Workflows and the Makefile call these."""

import argparse
import sys
from pathlib import Path

from .errors import UserError
from .params import load_params, load_schema


def _ingest(args) -> int:
    from .data import ingest

    print(f"wrote {ingest(load_params(args.params))}")
    return 0


def _validate(args) -> int:
    from .data import RAW_PATH
    from .validation import validate

    out = validate(load_params(args.params), load_schema(args.schema), Path(args.input or RAW_PATH))
    print(f"{args.input or RAW_PATH} matches {args.schema}; wrote {out}")
    return 0


def _split(args) -> int:
    from .split import split
    from .validation import VALIDATED_PATH

    train_path, test_path = split(load_params(args.params), VALIDATED_PATH)
    print(f"wrote {train_path} and {test_path}")
    return 0


def _train(args) -> int:
    from .split import TRAIN_PATH
    from .train import MODEL_PATH, train

    train(load_params(args.params), load_schema(args.schema), TRAIN_PATH)
    print(f"wrote {MODEL_PATH}")
    return 0


def _evaluate(args) -> int:
    from .evaluate import evaluate
    from .tracking import tracking_uri

    params = load_params(args.params)
    metrics, run_id = evaluate(params, load_schema(args.schema), log_mlflow=not args.no_mlflow)
    print(", ".join(f"{name}={value:g}" for name, value in metrics.items()))
    if run_id:
        print(f"logged MLflow run {run_id} to {tracking_uri(params)}")
    return 0


def _runs(args) -> int:
    from .tracking import recent_runs, tracking_uri

    params = load_params(args.params)
    rows = recent_runs(params, args.limit)
    if not rows:
        print(f"no runs in experiment {params['mlflow']['experiment']!r} at {tracking_uri(params)}")
        return 0
    columns = list(rows[0])
    for cells in [columns, *([str(row[c]) for c in columns] for row in rows)]:
        print("  ".join(f"{cell:<32}" for cell in cells).rstrip())
    return 0


COMMANDS = {
    "ingest": (_ingest, "write the source dataset to data/raw"),
    "validate": (_validate, "check raw data against schema.yaml"),
    "split": (_split, "seeded train/test split"),
    "train": (_train, "fit the model pipeline"),
    "evaluate": (_evaluate, "metrics, plots and the MLflow run"),
    "runs": (_runs, "list the latest MLflow runs of the experiment"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="{{ cookiecutter.package_name }}", description=__doc__)
    parser.add_argument("--params", default="params.yaml", help="parameters file (default: %(default)s)")
    parser.add_argument("--schema", default="schema.yaml", help="data schema file (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (handler, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text).set_defaults(handler=handler)
    sub.choices["validate"].add_argument("--input", help="CSV to check (default: data/raw/dataset.csv)")
    sub.choices["evaluate"].add_argument(
        "--no-mlflow", action="store_true", help="write metrics and plots without logging an MLflow run"
    )
    sub.choices["runs"].add_argument("--limit", type=int, default=5, help="default: %(default)s")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())

"""The command line: one subcommand per concern. Workflows and the Makefile call these."""

import argparse
import importlib
import sys
from pathlib import Path

from .errors import UserError
from .params import load_params, load_schema


def _ingest(args) -> int:
    from .data import ingest

    print(f"wrote {ingest(load_params(args.params))}")
    return 0


def _source(args) -> int:
    from .sources import add

    path = add(args.location, args.name, Path(args.params))
    print(f"{args.location} is {path}, tracked by DVC, and {args.params} data.source is {path}.")
    print(f"Commit {path}.dvc, {path.parent}/.gitignore and {args.params}; then describe its columns:")
    print(f"  {{ cookiecutter.package_name }} schema infer {path} --target COLUMN")
    return 0


def _schema(args) -> int:
    from .schema_tools import example_json, infer_file

    if args.schema_command == "example":
        print(example_json(load_schema(args.schema)))
        return 0
    task = load_params(args.params).get("task")
    found = infer_file(Path(args.data), Path(args.schema), args.target, task, force=args.force)
    schema = found["schema"]
    target = schema["target"]
    classes = target.get("allowed")
    kind = f"{len(classes)} classes" if classes is not None else f"from {target['min']} to {target['max']}"
    print(
        f"wrote {args.schema} from {args.data} ({found['rows']} rows): {len(schema['features'])} features, "
        f"target '{target['name']}' ({kind}). Review it before you commit it."
    )
    for note in found["notes"]:
        print(f"note: {note}")
    if found["looks_like"] != task:
        print(
            f"warning: the target '{target['name']}' looks like {found['looks_like']} ({found['why']}) "
            f"but {args.params} task is {task}; choose another --target if it is not the column to predict.",
            file=sys.stderr,
        )
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

    train_path, test_path = split(load_params(args.params), load_schema(args.schema), VALIDATED_PATH)
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


def _report(args) -> int:
    from .report import write_report

    print(f"wrote {write_report(load_params(args.params), args.base, Path(args.output), images=args.images)}")
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


def _register(args) -> int:
    from .registry import register

    params = load_params(args.params)
    _registered(params, *register(params, load_schema(args.schema)))
    return 0


def _registered(params: dict, version: str, created: bool) -> None:
    from .github import set_outputs

    what = "registered" if created else "models/model.joblib already is"
    print(f"{what} version {version} of {params['mlflow']['registered_model']}")
    set_outputs(version=version, created=str(created).lower())


def _promote(args) -> int:
    from .registry import promote

    decision = promote(load_params(args.params), load_schema(args.schema), args.version)
    return _announce(decision)


def _release(args) -> int:
    # One process: a second one would pay MLflow's imports and connection again (~6 s).
    from .registry import release

    params, schema = load_params(args.params), load_schema(args.schema)
    version, created, decision = release(params, schema)
    _registered(params, version, created)
    return _announce(decision)


def _announce(decision) -> int:
    """The gate's decision on stdout, in the job summary and as step outputs; its exit status."""
    from .github import add_summary, set_outputs
    from .registry import NOT_PROMOTED

    print(decision.markdown())
    add_summary(decision.markdown())
    champion = decision.version if decision.promoted else decision.champion
    set_outputs(promoted=str(decision.promoted).lower(), version=decision.version, champion=champion or "")
    return 0 if decision.promoted else NOT_PROMOTED


def _rollback(args) -> int:
    from .github import add_summary, set_outputs
    from .registry import rollback

    params = load_params(args.params)
    new, old = rollback(params, args.version)
    message = (
        f"Rolled back {params['mlflow']['registered_model']}: champion is version {new}, "
        f"previous-champion is version {old}. This moves the registry's champion only: what runs in "
        "staging and production is deploy/overlays, rolled back by reverting its change."
    )
    print(message)
    add_summary(message)
    set_outputs(champion=new)
    return 0


def _show(args) -> int:
    from .registry import show

    print(show(load_params(args.params)))
    return 0


def _bento(args) -> int:
    from .bento import build, export_context
    from .github import set_outputs

    tag, model_version = build(load_params(args.params))
    print(f"built Bento {tag} serving model version {model_version}")
    if args.export:
        print(f"wrote its Docker build context to {export_context(tag, Path(args.export))}")
    set_outputs(tag=tag, model_version=model_version)
    return 0


def _serve(args) -> int:
    from .serve import run

    run(load_params(args.params), args.bento, args.host, args.port)
    return 0  # not reached: the process became the server


def _drift(args) -> int:
    from .drift import run, settings
    from .github import add_summary, set_outputs

    params = load_params(args.params)
    status = run(params, args.reference, args.current, args.out_dir, args.labelled, args.model)
    report = Path(args.out_dir or settings(params)["out_dir"]) / "drift.md"
    add_summary(report.read_text(encoding="utf-8"))
    set_outputs(drift=str(status == 1).lower(), report=report)
    return status


def _drift_data(args) -> int:
    from .drift_data import run

    return run(load_params(args.params), args.current, args.credential, args.credential_source)


def _drift_issue(args) -> int:
    from .drift_issue import run

    return run(args.report, args.label)


def _retrain_pr(args) -> int:
    from .retrain import run

    return run(load_params(args.params), args.report, args.base, args.branch, args.remote, args.token_kind)


def _github(args) -> int:
    from . import github_doctor, github_setup

    return (github_setup if args.github_command == "setup" else github_doctor).run(args)


def _deploy(args) -> int:
    params = load_params(args.params)
    if args.deploy_command == "aliases":
        from .deploy_aliases import run

        return run(params)
    from . import deploy_pr

    return (deploy_pr.stage if args.deploy_command == "stage" else deploy_pr.promote)(params, args)


def _ci_user(args) -> int:
    from .ci_user import run

    return run(load_params(args.params), args)


def _simulate(args) -> int:
    from .simulate import run

    run(load_params(args.params), args.out, args.rows, args.shift, args.seed, source=args.source)
    return 0


COMMANDS = {
    "source": (_source, "bring a data file into data/source/ under DVC and make it data.source"),
    "schema": (_schema, "schema.yaml from a data file (infer), a request row from schema.yaml (example)"),
    "ingest": (_ingest, "write the data params.yaml data.source names to data/raw"),
    "validate": (_validate, "check raw data against schema.yaml"),
    "split": (_split, "seeded train/test split"),
    "train": (_train, "fit the model pipeline"),
    "evaluate": (_evaluate, "metrics, plots and the MLflow run"),
    "runs": (_runs, "list the latest MLflow runs of the experiment"),
    "report": (_report, "markdown report of this branch's results against a base revision"),
    "register": (_register, "register the pipeline's model as a version of the registered model"),
    "promote": (_promote, "make a version @champion if it beats the champion and passes the floors"),
    "release": (_release, "register, then promote, in one process: what a merge to main runs"),
    "rollback": (
        _rollback,
        "move @champion back to @previous-champion, or to a given version (the registry only: a "
        "deployment rolls back by reverting its change to deploy/overlays)",
    ),
    "show": (_show, "registered versions with their aliases and metrics"),
    "bento": (_bento, "build the Bento: the service with the @champion model"),
    "serve": (_serve, "serve the last built Bento locally, logging predictions for the drift check"),
    "drift": (_drift, "compare production data with the training data; exit 1 on drift"),
    "simulate": (_simulate, "write a resampled, optionally shifted, current dataset"),
    "drift-data": (_drift_data, "get the drift check's current data and reference (drift workflow)"),
    "drift-issue": (_drift_issue, "open the drift issue with a drift report, or comment on the open one"),
    "deploy": (_deploy, "propose a release for staging (stage) or production (promote); aliases from git"),
    "github": (_github, "configure the GitHub repository (setup), or say what it lacks (doctor)"),
    "ci-user": (_ci_user, "create the workflows' user on a tracking server with basic-auth (platform/)"),
    "retrain-pr": (_retrain_pr, "push the retrained pipeline's results and open or update its pull request"),
}


OWN_ARGUMENTS = {  # command -> the module whose add_arguments() declares its arguments
    "drift": "drift",
    "simulate": "simulate",
    "source": "sources",
    "schema": "schema_tools",
    "serve": "serve",
    "drift-data": "drift_data",
    "drift-issue": "drift_issue",
    "retrain-pr": "retrain",
    "ci-user": "ci_user",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or, given the command being run, only that command's arguments."""
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
    sub.choices["report"].add_argument("--base", default="main", help="git revision to compare with")
    sub.choices["report"].add_argument(
        "--output", default="reports/pr/report.md", help="markdown file to write"
    )
    sub.choices["report"].add_argument(
        "--images", action=argparse.BooleanOptionalAction, default=True, help="embed plots as images"
    )
    sub.choices["runs"].add_argument("--limit", type=int, default=5, help="default: %(default)s")
    sub.choices["promote"].add_argument(
        "--version", help="version to consider (default: the one registered for this commit's model)"
    )
    for gate in ("promote", "release"):
        sub.choices[gate].epilog = "exit status: 0 promoted (or already champion), 3 not promoted, 2 error"
    sub.choices["rollback"].add_argument(
        "--version", help="version to make champion (default: @previous-champion)"
    )
    sub.choices["bento"].add_argument(
        "--export", metavar="DIR", help="also unpack the Bento and its model into DIR: a Docker build context"
    )
    sub.choices["drift"].epilog = "exit status: 0 no drift, 1 drift, 2 bad input"
    # The modules that declare their own arguments are imported only for their own command
    # (`drift` imports pandas: seconds that `github doctor` or `drift-issue` need not wait).
    for name, module in OWN_ARGUMENTS.items():
        if command in (None, name):
            importlib.import_module(f".{module}", __package__).add_arguments(sub.choices[name])
    github = sub.choices["github"].add_subparsers(dest="github_command", required=True, metavar="ACTION")
    if command in (None, "github"):
        from . import github_doctor, github_setup

        github_setup.add_arguments(github.add_parser("setup", help=github_setup.__doc__.splitlines()[0]))
        doctor = github.add_parser("doctor", help=github_doctor.__doc__.splitlines()[0])
        github_doctor.add_arguments(doctor)
        doctor.epilog = "exit status: 0 nothing missing, 1 something missing, 2 error"
    deploy = sub.choices["deploy"].add_subparsers(dest="deploy_command", required=True, metavar="ACTION")
    stage = deploy.add_parser("stage", help="propose the image main.yml pushed for staging")
    promote = deploy.add_parser("promote", help="propose staging's release for production")
    deploy.add_parser("aliases", help="set the registry's staging and production aliases to the overlays'")
    if command in (None, "deploy"):
        from .deploy_pr import add_arguments

        add_arguments(stage, promote)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((arg for arg in argv if arg in COMMANDS), None)
    args = build_parser(command).parse_args(argv)
    try:
        return args.handler(args)
    except Exception as exc:
        error = exc if isinstance(exc, UserError) else None
        if error is None:
            from .tracking import server_lost  # imports pandas: only for an unexpected error

            error = server_lost(exc)
        if error is None:
            raise
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    sys.exit(main())

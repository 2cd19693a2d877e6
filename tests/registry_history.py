"""A generated project's release history on a tracking server, a commit at a time.

A mediocre first model and a worse one, each through `register` then `promote`; a better one
through `release` (both in one process, as main.yml runs it); then `rollback` and `show`. Returns
each step's command results and the registry's state after it.
"""

from .servers import registry_state


def release_history(project, uri: str, **credentials: str) -> dict:
    env = {"MLFLOW_TRACKING_URI": uri, **credentials}
    pkg, name = project.package, project.path.name
    steps = {}

    def release(label: str, n_estimators: int, max_depth: int, one_process: bool = False) -> None:
        project.set_hyperparameters(n_estimators=n_estimators, max_depth=max_depth)
        project.run("uv", "run", "dvc", "repro", **env)  # evaluate logs the run to the server
        project.commit(label)
        if one_process:  # `release`, as main.yml runs it: register then promote
            steps[label] = {"gate": project.run("uv", "run", pkg, "release", check=False, **env)}
            return
        steps[label] = {
            "register": [project.run("uv", "run", pkg, "register", **env).stdout],
            "gate": project.run("uv", "run", pkg, "promote", check=False, **env),
        }

    def state() -> dict:
        return registry_state(project, name, uri, **credentials)

    release("mediocre", 3, 2)
    steps["mediocre"]["register"].append(project.run("uv", "run", pkg, "register", **env).stdout)
    steps["mediocre"]["state"] = state()
    release("worse", 1, 1)
    steps["worse"]["state"] = state()
    release("better", 100, 8, one_process=True)
    steps["better"]["state"] = state()
    steps["rollback"] = {
        "run": project.run("uv", "run", pkg, "rollback", check=False, **env),
        "state": state(),
    }
    steps["show"] = project.run("uv", "run", pkg, "show", **env).stdout
    return steps

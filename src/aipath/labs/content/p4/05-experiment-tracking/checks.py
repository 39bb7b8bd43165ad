"""Checks for p4-experiment-tracking: the learner's runs are read back from a store and compared.

Every check gives the learner's functions a fresh SQLite store of its own (``tracking_uri``), so
one check's runs never meet another's, and reads what they wrote with ``MlflowClient``:
``search_runs``, ``get_metric_history``, ``search_logged_models``, ``get_model_version_by_alias``.
The check trains the same seeded ``SGDClassifier`` on the same digits split itself and so knows
every value a correct run logs, epoch by epoch, and every prediction a correct model makes.

Speed. A new SQLite store costs MLflow ~2-8 s of database migrations; ``store_schema.sql`` is
that empty, migrated schema (``sqlite3``'s dump of a store made by MLflow 3.17.2, the ``Default``
experiment row left out, MLflow adds it again), executed in ~20 ms. When another MLflow version
refuses it ("out-of-date database schema"), the check lets MLflow build the schema itself. The
first ``log_model`` of a process also pays one-time imports (skops, SQLAlchemy's mappers) and
MLflow's scan of the installed packages; the imports at the top of this file let a warm worker
load the modules before it forks.

Sandbox. Learner code may not start processes. MLflow starts two on its own: GitPython's
``git`` (run tags record the commit of the script being run; cached once per process, so
``_mlflow_ready`` resolves them once from check code) and a Python process that infers a model's
pip requirements (the README asks for ``pip_requirements=``; ``_call`` names the cause if it
happens). Telemetry is switched off so that nothing tries the network.
"""

from __future__ import annotations

import ast
import copy
import os
import shutil
import sqlite3
import tempfile
import traceback
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import mlflow.store.model_registry.sqlalchemy_store
import mlflow.store.tracking.sqlalchemy_store
import numpy as np
import pytest
import skops.io  # noqa: F401  (mlflow.sklearn's default format; a slow first import)
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss
from sklearn.model_selection import train_test_split

from aipath.checks import (
    LEARNER_ERRORS,
    assert_array,
    assert_returned,
    cached,
    called_names,
    digits,
    fail,
    fmt,
    once_per_run,
)

LAB_DIR = Path(__file__).resolve().parent
SCHEMA = LAB_DIR / "store_schema.sql"
CLASSES = np.arange(10)
METRICS = ("train_loss", "val_loss", "val_accuracy")
MODEL_PATH = "model"
CONFUSION_FILE = "confusion_matrix.json"
EXPERIMENT = "digits-check"

# Task 2: one run with values that are no default of anything.
TRAIN_PARAMS = {"alpha": 1e-3, "eta0": 0.05, "seed": 3}
TRAIN_EPOCHS = 4
# Task 3: the learner's sweep.
SWEEP_GRID = [
    {"alpha": 1e-4, "eta0": 0.1, "seed": 1},
    {"alpha": 1e-2, "eta0": 0.1, "seed": 0},
    {"alpha": 1e-3, "eta0": 0.5, "seed": 2},
]
SWEEP_EPOCHS = 3
# Tasks 4 and 5: the check's own sweeps. In A the best accuracy (a2) and the best loss (a3) are
# different runs, neither first nor last; B is a later sweep whose best is worse than A's, and
# whose middle run (eta0=2.0) peaks at epoch 5 and ends last, so ranking by the best epoch's value
# instead of the final one picks it; C has one run.
REF_EPOCHS = 6
REF_SWEEPS = {
    "A": [
        {"alpha": 1e-4, "eta0": 0.5, "seed": 1},
        {"alpha": 1e-4, "eta0": 0.1, "seed": 1},
        {"alpha": 1e-4, "eta0": 0.1, "seed": 0},
        {"alpha": 1e-3, "eta0": 0.1, "seed": 1},
    ],
    "B": [
        {"alpha": 1e-3, "eta0": 0.1, "seed": 0},
        {"alpha": 1e-5, "eta0": 2.0, "seed": 2},
        {"alpha": 1e-4, "eta0": 0.05, "seed": 2},
    ],
    "C": [{"alpha": 1e-4, "eta0": 0.01, "seed": 0}],
}


# ----- MLflow in the sandbox -------------------------------------------------------------------
@pytest.fixture(scope="session", autouse=True)
def _mlflow_ready() -> None:
    """Telemetry off, and the git tags of a run resolved once, here, from check code."""
    from mlflow.telemetry import set_telemetry_client
    from mlflow.tracking.context.registry import resolve_tags

    set_telemetry_client()  # reads MLFLOW_DISABLE_TELEMETRY again: no client, no thread
    resolve_tags()  # GitRunContext caches what `git` said; learner runs reuse it


@pytest.fixture(autouse=True)
def _no_run_left() -> Any:
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()


def _client(uri: str) -> MlflowClient:
    """A client of this store's tracking and registry (never a global registry URI set earlier)."""
    return MlflowClient(uri, registry_uri=uri)


def new_store(folder: Path) -> str:
    """A fresh, empty, migrated SQLite store in ``folder``; its tracking URI."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "mlruns.db"
    uri = f"sqlite:///{db}"
    connection = sqlite3.connect(db)
    try:
        connection.executescript(SCHEMA.read_text(encoding="utf-8"))
    finally:
        connection.close()
    try:
        _client(uri).search_experiments(max_results=1)
    except MlflowException:  # another MLflow version: let it migrate an empty file itself
        db.unlink()
        _client(uri).search_experiments(max_results=1)
    return uri


def _experiment(uri: str, folder: Path, name: str = EXPERIMENT) -> str:
    return _client(uri).create_experiment(name, artifact_location=str(folder / "artifacts"))


def _sandbox_cause(exc: BaseException) -> str | None:
    frames = traceback.extract_tb(exc.__traceback__)
    names = {frame.name for frame in frames}
    files = " ".join(frame.filename for frame in frames)
    if {"infer_pip_requirements", "_capture_imported_modules", "_infer_requirements"} & names:
        return (
            "mlflow.sklearn.log_model started a Python process to infer the model's pip "
            "requirements, which the checks' sandbox forbids: pass "
            "pip_requirements=PIP_REQUIREMENTS (task 2)"
        )
    if "/git/" in files:
        return "MLflow asked `git` about your script, which the checks' sandbox forbids"
    return None


def _uri_clue(store: str | None) -> str:
    """Why a fluent call missed the store: MLflow's current tracking URI is another one."""
    if store is None:
        return ""
    current = mlflow.get_tracking_uri()
    if current == store:
        return ""
    return (
        f" (MLflow's current tracking URI is {current!r}, not the store given {store!r}: "
        "mlflow.start_run and mlflow.log_* write to the current one, so call "
        "mlflow.set_tracking_uri(tracking_uri) in this function)"
    )


def _call(
    what: str, func: Callable[..., Any], *args: Any, _store: str | None = None, **kwargs: Any
) -> Any:
    """The learner's call; MLflow's and the sandbox's errors become failures that name it."""
    message = None
    try:
        return func(*args, **kwargs)
    except NotImplementedError:
        raise
    except MlflowException as exc:
        message = f"{what} raised MlflowException: {exc.message}{_uri_clue(_store)}"
    except LEARNER_ERRORS as exc:
        message = f"{what} raised {type(exc).__name__}: {exc}"
    except BaseException as exc:
        cause = _sandbox_cause(exc) if type(exc).__name__ == "SandboxViolation" else None
        if cause is None:
            raise
        message = f"{what}: {cause}"
    fail(message)


def _runs(client: MlflowClient, experiment_id: str) -> list[Any]:
    return client.search_runs([experiment_id], order_by=["attributes.start_time ASC"])


def _all_runs(client: MlflowClient) -> list[Any]:
    ids = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(ids, order_by=["attributes.start_time ASC"])


def _describe_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


# ----- the check's own training ------------------------------------------------------------------
@cached
def _split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, y = digits()
    X_train, X_val, y_train, y_val = train_test_split(
        X / 16.0, y, test_size=0.25, random_state=0, stratify=y
    )
    return X_train, X_val, y_train, y_val


def _metrics(model: SGDClassifier) -> dict[str, float]:
    X_train, X_val, y_train, y_val = _split()
    return {
        "train_loss": float(log_loss(y_train, model.predict_proba(X_train))),
        "val_loss": float(log_loss(y_val, model.predict_proba(X_val))),
        "val_accuracy": float(accuracy_score(y_val, model.predict(X_val))),
    }


@cache
def _trained(alpha: float, eta0: float, seed: int, epochs: int) -> list[tuple[Any, dict]]:
    """(model after epoch k, its metrics) for k = 1..epochs; a copy of each model."""
    X_train, _, y_train, _ = _split()
    model = SGDClassifier(
        loss="log_loss", alpha=alpha, learning_rate="constant", eta0=eta0, random_state=seed
    )
    out = []
    for _ in range(epochs):
        model.partial_fit(X_train, y_train, classes=CLASSES)
        out.append((copy.deepcopy(model), _metrics(model)))
    return out


def trained(params: dict[str, Any], epochs: int) -> list[tuple[Any, dict]]:
    return _trained(params["alpha"], params["eta0"], params["seed"], epochs)


def _key(params: dict[str, Any]) -> tuple[float, float, int]:
    return (float(params["alpha"]), float(params["eta0"]), int(params["seed"]))


def _run_key(run: Any) -> tuple[float, float, int] | None:
    try:
        return _key(run.data.params)
    except (KeyError, ValueError):
        return None


def _logged_models(client: MlflowClient, run: Any) -> list[Any]:
    return client.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
    )


# ----- task 1 ------------------------------------------------------------------------------------
def _same_location(stored: str, wanted: Path) -> bool:
    path = stored.removeprefix("file://")
    return Path(path).resolve() == wanted.resolve()


@pytest.mark.task(1)
def test_open_experiment_creates_it(learner, tmp_path, workdir):
    uri = new_store(tmp_path / "store")
    location = tmp_path / "artifacts"
    eid = _call(
        "open_experiment(uri, 'digits', location)",
        learner.open_experiment,
        uri,
        "digits",
        str(location),
    )
    assert_returned(eid, "open_experiment(...)", what="the experiment's id", of=str)
    client = _client(uri)
    experiment = client.get_experiment_by_name("digits")
    if experiment is None:
        names = [e.name for e in client.search_experiments()]
        fail(
            f"after open_experiment(uri, 'digits', ...) the store has no experiment 'digits'; "
            f"it has {names}"
        )
    if eid != experiment.experiment_id:
        fail(
            f"open_experiment(...) returned {fmt(eid)}; the experiment 'digits' has id "
            f"{experiment.experiment_id!r}"
        )
    if not _same_location(experiment.artifact_location, location):
        clue = ""
        if _same_location(experiment.artifact_location, workdir / "mlruns" / eid):
            clue = (
                ": it was created without artifact_location=, so MLflow put its artefacts "
                "under ./mlruns of the current folder"
            )
        fail(
            f"the experiment's artifact_location is {experiment.artifact_location!r}; expected "
            f"the folder given, {str(location)!r}{clue}"
        )


@pytest.mark.task(1)
def test_open_experiment_reuses_it(learner, tmp_path):
    uri = new_store(tmp_path / "store")
    client = _client(uri)
    existing = client.create_experiment("digits", artifact_location=str(tmp_path / "old"))
    eid = _call(
        "open_experiment(uri, 'digits', ...) for an experiment that exists",
        learner.open_experiment,
        uri,
        "digits",
        str(tmp_path / "new"),
    )
    if eid != existing:
        fail(
            f"open_experiment(...) returned {fmt(eid)} for an experiment that already exists "
            f"with id {existing!r}: look it up with get_experiment_by_name before creating one"
        )
    again = _call(
        "open_experiment(...) a second time",
        learner.open_experiment,
        uri,
        "digits",
        str(tmp_path / "new"),
    )
    if again != existing:
        fail(f"a second open_experiment(...) returned {fmt(again)}; expected {existing!r}")
    names = [e.name for e in client.search_experiments()]
    if names.count("digits") != 1:
        fail(f"the store has {names.count('digits')} experiments named 'digits'")


# ----- task 2 ------------------------------------------------------------------------------------
def _listing(folder: Path) -> set[str]:
    return {
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if "__pycache__" not in p.parts and not p.name.endswith(".pyc")
    }


@once_per_run
def _training(learner: Any, folder: str, workdir: str) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(dir=folder))  # a new store on each try (MLflow caches engines)
    uri = new_store(base)
    eid = _experiment(uri, base)
    before = _listing(Path(workdir))
    run_id = _call(
        f"log_training_run(uri, experiment_id, {TRAIN_PARAMS}, epochs={TRAIN_EPOCHS})",
        learner.log_training_run,
        uri,
        eid,
        dict(TRAIN_PARAMS),
        TRAIN_EPOCHS,
        _store=uri,
    )
    active = mlflow.active_run()
    stray = sorted(_listing(Path(workdir)) - before)
    return {
        "uri": uri,
        "eid": eid,
        "run_id": run_id,
        "stray": stray,
        "active": None if active is None else active.info.run_id,
    }


@pytest.fixture(scope="session")
def training(learner, tmp_path_factory, workdir):
    folder = tmp_path_factory.mktemp("training")
    return lambda: _training(learner, str(folder), str(workdir))


def _training_run(training: Callable[[], Any]) -> tuple[MlflowClient, Any, dict[str, Any]]:
    outcome, error = training()
    if error is not None:
        raise error
    client = _client(outcome["uri"])
    run_id = assert_returned(
        outcome["run_id"], "log_training_run(...)", what="the run's id", of=str
    )
    try:
        run = client.get_run(run_id)
    except MlflowException:
        fail(
            f"log_training_run(...) returned {fmt(run_id)}, which is no run id of the store "
            "(return run.info.run_id)"
        )
    return client, run, outcome


@pytest.mark.task(2)
def test_training_run_is_one_finished_run(training):
    client, run, outcome = _training_run(training)
    runs = _runs(client, outcome["eid"])
    if run.info.experiment_id != outcome["eid"]:
        fail(
            f"the run is in experiment {run.info.experiment_id!r}; expected the experiment_id "
            f"given, {outcome['eid']!r} (start_run(experiment_id=...))"
        )
    if len(runs) != 1:
        fail(
            f"log_training_run(...) left {len(runs)} runs in the experiment; expected one run "
            "that holds the params, the metrics of every epoch, the artefact and the model"
        )
    if outcome["active"] is not None or run.info.status != "FINISHED":
        fail(
            f"the run's status is {run.info.status} and it is still the active run after "
            "log_training_run returned: end it (a `with mlflow.start_run(...)` block does)"
        )


@pytest.mark.task(2)
def test_training_run_params(training):
    _, run, _ = _training_run(training)
    want = {**TRAIN_PARAMS, "epochs": TRAIN_EPOCHS}
    got = run.data.params
    missing = [k for k in want if k not in got]
    if missing:
        fail(
            f"the run's params are {got}; missing {missing} (log every key of `params` and "
            "`epochs`)"
        )
    extra = sorted(set(got) - set(want))
    if extra:
        fail(f"the run's params are {got}; expected only {sorted(want)}, not {extra}")
    for key, value in want.items():
        try:
            same = float(got[key]) == float(value)
        except ValueError:
            same = False
        if not same:
            fail(
                f"param {key!r} is {got[key]!r}; expected {value!r}, the value this run "
                "trained with"
            )


def _history(client: MlflowClient, run_id: str, metric: str) -> list[tuple[int, float]]:
    points = client.get_metric_history(run_id, metric)
    return sorted((p.step, p.value) for p in points)


@pytest.mark.task(2)
@pytest.mark.parametrize("metric", METRICS)
def test_training_run_metrics_every_epoch(training, metric):
    client, run, _ = _training_run(training)
    ref = trained(TRAIN_PARAMS, TRAIN_EPOCHS)
    want = [m[metric] for _, m in ref]
    history = _history(client, run.info.run_id, metric)
    if not history:
        fail(f"the run has no metric {metric!r}; it has {sorted(run.data.metrics)}")
    steps = [s for s, _ in history]
    values = np.array([v for _, v in history])
    wanted_steps = list(range(1, TRAIN_EPOCHS + 1))
    if len(history) == 1:
        fail(
            f"{metric!r} was logged once (step {steps[0]}); expected one value per epoch, "
            f"at steps {wanted_steps}: log it inside the epoch loop with step=epoch"
        )
    if steps != wanted_steps:
        clue = ""
        if steps == list(range(TRAIN_EPOCHS)):
            clue = ": the epochs are numbered from 0; number them 1 to epochs"
        elif len(set(steps)) == 1:
            clue = ": every value has the same step; pass step=epoch"
        fail(f"{metric!r} was logged at steps {steps}; expected {wanted_steps}{clue}")
    others = {
        f"{other} (another metric)": [m[other] for _, m in ref]
        for other in METRICS
        if other != metric
    }
    assert_array(
        values,
        np.array(want),
        name=f"history of {metric!r} by epoch",
        rtol=1e-9,
        mistakes={k: np.array(v) for k, v in others.items()},
    )


@pytest.mark.task(2)
def test_training_run_model(training):
    client, run, _ = _training_run(training)
    models = _logged_models(client, run)
    if not models:
        fail(
            "the run has no logged model: mlflow.sklearn.log_model(model, name='model', ...) "
            "inside the run"
        )
    names = [m.name for m in models]
    if len(models) != 1 or names[0] != MODEL_PATH:
        fail(f"the run logged models named {names}; expected one, named {MODEL_PATH!r}")
    logged = models[0]
    info = mlflow.models.get_model_info(logged.model_uri)
    if info.signature is None:
        fail(
            "the logged model has no signature: give log_model an input_example (the first "
            "five rows of split.X_val) and MLflow infers it"
        )
    if info.saved_input_example_info is None:
        fail(
            "the logged model has a signature but no input example: pass "
            "input_example=split.X_val[:5]"
        )
    inputs = info.signature.inputs.to_dict()
    if len(inputs) == 1 and inputs[0].get("type") == "tensor":
        shape = inputs[0].get("tensor-spec", {}).get("shape")
        if shape is not None and list(shape)[-1:] != [64]:
            fail(
                f"the signature's input is a tensor of shape {shape}; expected (-1, 64): the "
                "example should be rows of X_val, e.g. split.X_val[:5]"
            )
    elif len(inputs) != 64:
        fail(f"the signature has {len(inputs)} inputs; expected the 64 pixel features")
    model = mlflow.sklearn.load_model(logged.model_uri)
    _, X_val, _, _ = _split()
    ref = trained(TRAIN_PARAMS, TRAIN_EPOCHS)
    got = model.predict_proba(X_val)
    mistakes = {
        f"the model after epoch {k}, not the last": ref[k - 1][0].predict_proba(X_val)
        for k in range(1, TRAIN_EPOCHS)
    }
    assert_array(
        got,
        ref[-1][0].predict_proba(X_val),
        name="the logged model's predict_proba(X_val)",
        rtol=1e-9,
        atol=1e-12,
        mistakes=mistakes,
    )


@pytest.mark.task(2)
def test_training_run_confusion_matrix(training):
    client, run, _ = _training_run(training)
    names = [a.path for a in client.list_artifacts(run.info.run_id)]
    if CONFUSION_FILE not in names:
        fail(
            f"the run's artefacts are {names}; expected {CONFUSION_FILE!r} at the top of the run "
            "(mlflow.log_dict(..., 'confusion_matrix.json'))"
        )
    data = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/{CONFUSION_FILE}")
    if not isinstance(data, dict) or set(data) != {"labels", "matrix"}:
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        fail(f"{CONFUSION_FILE} holds {keys}; expected a dict with the keys 'labels' and 'matrix'")
    if list(data["labels"]) != CLASSES.tolist():
        fail(f"'labels' is {data['labels']}; expected {CLASSES.tolist()}")
    X_train, X_val, y_train, y_val = _split()
    model = trained(TRAIN_PARAMS, TRAIN_EPOCHS)[-1][0]
    want = confusion_matrix(y_val, model.predict(X_val), labels=CLASSES)
    assert_array(
        np.asarray(data["matrix"]),
        want,
        name="'matrix'",
        exact=True,
        mistakes={
            "the matrix transposed (predictions on the rows)": want.T,
            "the training split's matrix": confusion_matrix(
                y_train, model.predict(X_train), labels=CLASSES
            ),
        },
    )


@pytest.mark.task(2)
def test_training_run_writes_nothing_outside_the_run(training):
    _, run, outcome = _training_run(training)
    if outcome["stray"]:
        fail(
            f"log_training_run(...) wrote {outcome['stray']} into the lab folder: artefacts "
            "belong in the run (mlflow.log_dict writes straight into it; a file you write "
            "yourself goes in a tempfile.TemporaryDirectory)"
        )
    location = Path(outcome["uri"].removeprefix("sqlite:///")).parent / "artifacts"
    if not _same_location(run.info.artifact_uri, location / run.info.run_id / "artifacts"):
        fail(
            f"the run's artefacts are at {run.info.artifact_uri}; expected them under the "
            f"experiment's folder {location}"
        )


# ----- task 3 ------------------------------------------------------------------------------------
@once_per_run
def _sweep(learner: Any, folder: str) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(dir=folder))  # a new store on each try (MLflow caches engines)
    uri = new_store(base)
    eid = _experiment(uri, base)
    parent = _call(
        f"run_sweep(uri, experiment_id, grid, epochs={SWEEP_EPOCHS})",
        learner.run_sweep,
        uri,
        eid,
        [dict(p) for p in SWEEP_GRID],
        SWEEP_EPOCHS,
        _store=uri,
    )
    return {"uri": uri, "eid": eid, "parent": parent}


@pytest.fixture(scope="session")
def sweep(learner, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    return lambda: _sweep(learner, str(folder))


def _sweep_runs(sweep: Callable[[], Any]) -> tuple[MlflowClient, Any, list[Any], dict]:
    outcome, error = sweep()
    if error is not None:
        raise error
    client = _client(outcome["uri"])
    parent_id = assert_returned(
        outcome["parent"], "run_sweep(...)", what="the parent run's id", of=str
    )
    try:
        parent = client.get_run(parent_id)
    except MlflowException:
        fail(f"run_sweep(...) returned {fmt(parent_id)}, which is no run id of the store")
    others = [r for r in _all_runs(client) if r.info.run_id != parent_id]
    return client, parent, others, outcome


@pytest.mark.task(3)
def test_sweep_parent_run(sweep):
    client, parent, _, outcome = _sweep_runs(sweep)
    if parent.info.experiment_id != outcome["eid"]:
        fail(
            f"the parent run is in experiment {parent.info.experiment_id!r}; expected "
            f"{outcome['eid']!r}"
        )
    if "mlflow.parentRunId" in parent.data.tags:
        fail("the run returned by run_sweep is itself a child run; return the parent's id")
    if parent.info.status != "FINISHED":
        running = [r for r in _all_runs(client) if r.info.status == "RUNNING"]
        fail(
            f"the parent run's status is {parent.info.status} and {len(running)} runs are still "
            "RUNNING: end every run you start (a `with mlflow.start_run(...)` block does), the "
            "parent when the sweep is done"
        )
    if parent.data.metrics and not _history(client, parent.info.run_id, "val_accuracy"):
        fail(
            f"the parent run holds the metrics {sorted(parent.data.metrics)}; the parent holds "
            "no metrics of its own (each child's are in the child; compare them in promote)"
        )
    if _history(client, parent.info.run_id, "val_accuracy") or _logged_models(client, parent):
        fail(
            "the parent run holds a training run's metrics or model: each grid point trains in "
            "a child run of its own"
        )


@pytest.mark.task(3)
def test_sweep_children_are_nested(sweep):
    _, parent, others, outcome = _sweep_runs(sweep)
    pid = parent.info.run_id
    children = [r for r in others if r.data.tags.get("mlflow.parentRunId") == pid]
    if len(others) != len(SWEEP_GRID):
        fail(
            f"the store holds {len(others)} runs besides the parent; expected one per grid "
            f"point, {len(SWEEP_GRID)}"
        )
    if not children:
        chained = [r for r in others if r.data.tags.get("mlflow.parentRunId")]
        if chained:
            fail("the grid's runs are nested, but not under the run run_sweep returned")
        fail(
            "no run is nested under the sweep's parent: start each child with "
            "mlflow.start_run(nested=True) while the parent is active (or "
            "parent_run_id=...), so that it gets the tag mlflow.parentRunId"
        )
    if len(children) != len(others):
        chain = [r for r in others if r.data.tags.get("mlflow.parentRunId") not in (None, pid)]
        clue = (
            ": some are nested under another child (each child must end before the next starts)"
            if chain
            else ""
        )
        fail(f"{len(children)} of the {len(others)} grid runs are children of the parent{clue}")
    elsewhere = [r for r in children if r.info.experiment_id != outcome["eid"]]
    if elsewhere:
        fail(
            f"{len(elsewhere)} child runs are in experiment "
            f"{elsewhere[0].info.experiment_id!r}, not the sweep's {outcome['eid']!r}: pass "
            "experiment_id to every start_run"
        )


@pytest.mark.task(3)
def test_sweep_children_match_the_grid(sweep):
    client, _, others, _ = _sweep_runs(sweep)
    by_key: dict[Any, list[Any]] = {}
    for run in others:
        by_key.setdefault(_run_key(run), []).append(run)
    for params in SWEEP_GRID:
        runs = by_key.get(_key(params), [])
        if len(runs) != 1:
            seen = [r.data.params for r in others]
            fail(
                f"{len(runs)} runs have the params {_describe_params(params)}; expected one per "
                f"grid point. The runs' params: {seen}"
            )
        run = runs[0]
        want = trained(params, SWEEP_EPOCHS)
        history = _history(client, run.info.run_id, "val_accuracy")
        if [s for s, _ in history] != list(range(1, SWEEP_EPOCHS + 1)):
            fail(
                f"the child run for {_describe_params(params)} logged val_accuracy at steps "
                f"{[s for s, _ in history]}; expected 1 to {SWEEP_EPOCHS}"
            )
        assert_array(
            np.array([v for _, v in history]),
            np.array([m["val_accuracy"] for _, m in want]),
            name=f"val_accuracy of the child run for {_describe_params(params)}",
            rtol=1e-9,
        )
        if not _logged_models(client, run):
            fail(f"the child run for {_describe_params(params)} has no logged model")


# ----- the check's own registry store (tasks 4 and 5) --------------------------------------------
def _log_reference_run(params: dict[str, Any], experiment_id: str) -> str:
    with mlflow.start_run(experiment_id=experiment_id, nested=True) as run:
        mlflow.log_params({**params, "epochs": REF_EPOCHS})
        history = trained(params, REF_EPOCHS)
        for step, (_, metrics) in enumerate(history, start=1):
            mlflow.log_metrics(metrics, step=step)
        _, X_val, _, _ = _split()
        mlflow.sklearn.log_model(
            history[-1][0],
            name=MODEL_PATH,
            input_example=X_val[:5],
            pip_requirements=["scikit-learn"],
            serialization_format="cloudpickle",
        )
        return run.info.run_id


@pytest.fixture(scope="session")
def reference_store(tmp_path_factory) -> dict[str, Any]:
    """Sweeps A, B and C logged by the check itself; learner code never writes to this copy."""
    base = tmp_path_factory.mktemp("reference")
    uri = new_store(base)
    eid = _experiment(uri, base)
    mlflow.set_tracking_uri(uri)
    sweeps: dict[str, dict[str, Any]] = {}
    try:
        for name, grid in REF_SWEEPS.items():
            with mlflow.start_run(experiment_id=eid, run_name=f"sweep {name}") as parent:
                children = [_log_reference_run(p, eid) for p in grid]
            sweeps[name] = {"parent": parent.info.run_id, "children": children}
    finally:
        mlflow.set_tracking_uri(None)
    return {"db": base / "mlruns.db", "eid": eid, "sweeps": sweeps}


def _store_copy(reference: dict[str, Any], folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(reference["db"], folder / "mlruns.db")
    return f"sqlite:///{folder / 'mlruns.db'}"


def _final(name: str, index: int, metric: str) -> float:
    return trained(REF_SWEEPS[name][index], REF_EPOCHS)[-1][1][metric]


def _ranked(name: str, metric: str, greater: bool) -> list[int]:
    indexes = range(len(REF_SWEEPS[name]))
    return sorted(indexes, key=lambda i: _final(name, i, metric), reverse=greater)


def _ranked_by_best_epoch(name: str, metric: str, greater: bool) -> list[int]:
    """The ranking by each run's best value over its epochs (a mistake: the final one counts)."""

    def best(i: int) -> float:
        values = [m[metric] for _, m in trained(REF_SWEEPS[name][i], REF_EPOCHS)]
        return max(values) if greater else min(values)

    return sorted(range(len(REF_SWEEPS[name])), key=best, reverse=greater)


def _registry_clue(learner: Any) -> str:
    """A static look: a set_registry_uri call is how aliases end up in another store's registry."""
    try:
        tree = ast.parse(Path(learner.__file__).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, TypeError, AttributeError):
        return ""
    lines = [line for name, line in called_names(tree) if name == "set_registry_uri"]
    if not lines:
        return ""
    return (
        f". Your file calls mlflow.set_registry_uri (line {lines[0]}): that sets a global "
        "registry for every MlflowClient built afterwards without one, and a client built "
        "before it keeps the previous store's registry, so aliases may land in another store. "
        "Leave the registry URI alone (it follows the tracking URI) and use "
        "MlflowClient(tracking_uri)"
    )


def _alias_run(client: MlflowClient, model_name: str, alias: str, what: str, clue: str) -> Any:
    try:
        return client.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        try:
            aliases = client.get_registered_model(model_name).aliases
        except MlflowException:
            fail(f"after {what} there is no registered model {model_name!r}{clue}")
        fail(
            f"after {what} the model {model_name!r} has no alias {alias!r}; its aliases are "
            f"{aliases}{clue}"
        )


def _pick_message(
    reference: dict,
    sweep_name: str,
    got_run: str,
    want_index: int,
    alias: str,
    table: dict[str, int | str],
) -> str | None:
    children = reference["sweeps"][sweep_name]["children"]
    if got_run == children[want_index]:
        return None
    params = REF_SWEEPS[sweep_name]
    if got_run in children:
        got_text = f"the child run with {_describe_params(params[children.index(got_run)])}"
    else:
        got_text = f"run {got_run}, not a child of this sweep"
    matches = [
        description
        for description, pick in table.items()
        if (children[pick] if isinstance(pick, int) else pick) == got_run
    ]
    clue = f" It looks like {' or '.join(matches)}." if matches else ""
    return (
        f"{alias!r} points at the version of {got_text}; expected the one with "
        f"{_describe_params(params[want_index])}.{clue}"
    )


def _check_promotion(
    client: MlflowClient,
    reference: dict,
    result: Any,
    model_name: str,
    sweep_name: str,
    metric: str,
    greater: bool,
    what: str,
    versions_before: int,
    clue: str = "",
) -> None:
    order = _ranked(sweep_name, metric, greater)
    reverse = _ranked(sweep_name, metric, not greater)
    children = reference["sweeps"][sweep_name]["children"]
    values = {i: round(_final(sweep_name, i, metric), 4) for i in range(len(children))}
    versions = client.search_model_versions(f"name = '{model_name}'")
    new = len(versions) - versions_before
    if new != 2:
        fail(
            f"{what} registered {new} new versions of {model_name!r}; expected 2, the "
            "champion's and the challenger's models (registering every run fills the "
            "registry with models nobody will deploy)"
        )
    champion = _alias_run(client, model_name, "champion", what, clue)
    challenger = _alias_run(client, model_name, "challenger", what, clue)
    picked = (champion.run_id, challenger.run_id)
    by_epoch = _ranked_by_best_epoch(sweep_name, metric, greater)
    if by_epoch[:2] != order[:2] and picked == (children[by_epoch[0]], children[by_epoch[1]]):
        best_values = [
            round(max(m[metric] for _, m in trained(p, REF_EPOCHS)), 4)
            if greater
            else round(min(m[metric] for _, m in trained(p, REF_EPOCHS)), 4)
            for p in REF_SWEEPS[sweep_name]
        ]
        fail(
            f"the aliases follow each run's {'highest' if greater else 'lowest'} {metric} over "
            f"its epochs ({best_values} by run, in grid order), not its final value "
            f"({list(values.values())}): rank by run.data.metrics[{metric!r}], the value at "
            "the last step, which is the model that was logged"
        )
    if picked == (children[order[1]], children[order[0]]):
        latest = max(int(v.version) for v in versions)
        on_latest = (
            f"; 'champion' is on the latest version, {latest}: set each alias on the version "
            "registered from its own run"
            if int(champion.version) == latest
            else ""
        )
        fail(
            "the aliases are swapped: 'champion' points at the runner-up's version and "
            "'challenger' at the best run's "
            f"(final {metric} by run, in grid order: {list(values.values())}){on_latest}"
        )
    direction = "higher" if greater else "lower"
    table: dict[str, int | str] = {
        "the runner-up, not the best (is the alias on the latest version?)": order[1],
        f"the {'lowest' if greater else 'highest'} {metric} ({direction} is better here)": reverse[
            0
        ],
        "the sweep's last run": len(children) - 1,
        "the sweep's first run": 0,
    }
    if sweep_name == "B":
        table["the best run of the whole experiment, not of this sweep's children"] = reference[
            "sweeps"
        ]["A"]["children"][_ranked("A", metric, greater)[0]]
    message = _pick_message(reference, sweep_name, champion.run_id, order[0], "champion", table)
    if message:
        fail(f"{message} (final {metric} by run, in grid order: {list(values.values())})")
    if challenger.version == champion.version:
        fail(
            "'challenger' and 'champion' point at the same version: the challenger is the "
            "runner-up, the second best run"
        )
    message = _pick_message(
        reference,
        sweep_name,
        challenger.run_id,
        order[1],
        "challenger",
        {"the worst run, not the runner-up": order[-1]},
    )
    if message:
        fail(f"{message} (final {metric} by run, in grid order: {list(values.values())})")
    if not isinstance(result, tuple) or len(result) != 2:
        fail(
            f"{what} returned {fmt(result)}; expected the tuple (champion's version, "
            "challenger's version)"
        )
    try:
        got = (int(result[0]), int(result[1]))
    except (TypeError, ValueError):
        fail(f"{what} returned {fmt(result)}; expected two version numbers")
    if got != (int(champion.version), int(challenger.version)):
        fail(
            f"{what} returned {got}; the aliases point at versions "
            f"({champion.version}, {challenger.version}) (champion first)"
        )


def _promote(
    learner: Any, uri: str, parent: str, model_name: str, metric: str, greater: bool
) -> tuple[Any, str]:
    what = f"promote(uri, parent, {model_name!r}, metric={metric!r}, greater_is_better={greater})"
    return _call(what, learner.promote, uri, parent, model_name, metric, greater), what


@pytest.mark.task(4)
@pytest.mark.parametrize(("metric", "greater"), [("val_accuracy", True), ("val_loss", False)])
def test_promote_best_and_runner_up(learner, reference_store, tmp_path, metric, greater):
    uri = _store_copy(reference_store, tmp_path)
    parent = reference_store["sweeps"]["A"]["parent"]
    result, what = _promote(learner, uri, parent, "digits", metric, greater)
    _check_promotion(
        _client(uri),
        reference_store,
        result,
        "digits",
        "A",
        metric,
        greater,
        what,
        0,
        _registry_clue(learner),
    )


@pytest.mark.task(4)
def test_promote_a_later_sweep_moves_the_aliases(learner, reference_store, tmp_path):
    uri = _store_copy(reference_store, tmp_path)
    sweeps = reference_store["sweeps"]
    _promote(learner, uri, sweeps["A"]["parent"], "digits", "val_accuracy", True)
    client = _client(uri)
    before = len(client.search_model_versions("name = 'digits'"))
    result, what = _promote(learner, uri, sweeps["B"]["parent"], "digits", "val_accuracy", True)
    _check_promotion(
        client,
        reference_store,
        result,
        "digits",
        "B",
        "val_accuracy",
        True,
        f"{what} after sweep A's promotion",
        before,
        _registry_clue(learner),
    )


@pytest.mark.task(4)
def test_promote_needs_two_runs(learner, reference_store, tmp_path):
    uri = _store_copy(reference_store, tmp_path)
    parent = reference_store["sweeps"]["C"]["parent"]
    try:
        learner.promote(uri, parent, "digits", "val_accuracy", True)
    except NotImplementedError:
        raise
    except ValueError:
        pass
    except Exception as exc:
        fail(
            f"promote(...) on a sweep with one run raised {type(exc).__name__}: {exc}; "
            "expected ValueError (there is no challenger)"
        )
    else:
        fail(
            "promote(...) on a sweep with one run returned; expected ValueError: a sweep "
            "with one run has no challenger"
        )
    versions = _client(uri).search_model_versions("name = 'digits'")
    if versions:
        fail(
            f"promote(...) on a sweep with one run registered {len(versions)} versions before "
            "raising; check that there are two runs before registering anything"
        )


# ----- task 5 ------------------------------------------------------------------------------------
# The check registers these children of sweep A as versions 1, 2 and 3.
REGISTERED = (0, 2, 3)


def _registry(reference: dict[str, Any], folder: Path) -> tuple[str, MlflowClient]:
    uri = _store_copy(reference, folder)
    client = _client(uri)
    mlflow.set_tracking_uri(uri)  # a models:/ source is looked up in the global tracking store
    client.create_registered_model("digits")
    for index in REGISTERED:
        run_id = reference["sweeps"]["A"]["children"][index]
        run = client.get_run(run_id)
        model = _logged_models(client, run)[0]
        client.create_model_version(
            "digits", model.model_uri, run_id=run_id, model_id=model.model_id
        )
    client.set_registered_model_alias("digits", "champion", 2)
    client.set_registered_model_alias("digits", "challenger", 1)
    return uri, client


def _version_predictions(version: int) -> np.ndarray:
    _, X_val, _, _ = _split()
    params = REF_SWEEPS["A"][REGISTERED[version - 1]]
    return trained(params, REF_EPOCHS)[-1][0].predict(X_val)


def _predict(learner: Any, uri: str, alias: str, X: np.ndarray) -> np.ndarray:
    what = f"predict_with_alias(uri, 'digits', {alias!r}, X)"
    original = X.copy()
    got = _call(what, learner.predict_with_alias, uri, "digits", alias, X)
    got = assert_returned(got, what, what="the predicted labels")
    if not np.array_equal(X, original):
        fail(f"{what} changed X in place")
    got = np.asarray(got)
    if got.shape != (len(X),):
        fail(f"{what} has shape {got.shape}; expected ({len(X)},), one label per row")
    if not np.issubdtype(got.dtype, np.integer):
        fail(f"{what} has dtype {got.dtype}; expected integer class labels (model.predict)")
    return got


def _assert_version(got: np.ndarray, version: int, alias: str) -> None:
    mistakes = {
        f"version {v}'s model"
        + (" (the latest)" if v == len(REGISTERED) else ""): _version_predictions(v)
        for v in range(1, len(REGISTERED) + 1)
        if v != version
    }
    assert_array(
        got,
        _version_predictions(version),
        name=f"predict_with_alias(uri, 'digits', {alias!r}, X)",
        exact=True,
        mistakes=mistakes,
    )


@pytest.mark.task(5)
def test_predict_with_the_alias(learner, reference_store, tmp_path):
    uri, client = _registry(reference_store, tmp_path)
    _, X_val, _, _ = _split()
    _assert_version(_predict(learner, uri, "champion", X_val), 2, "champion")
    _assert_version(_predict(learner, uri, "challenger", X_val), 1, "challenger")
    aliases = client.get_registered_model("digits").aliases
    if aliases != {"champion": 2, "challenger": 1}:
        fail(f"predict_with_alias changed the aliases to {aliases}; it only reads them")


@pytest.mark.task(5)
def test_predict_follows_a_moved_alias(learner, reference_store, tmp_path):
    uri, client = _registry(reference_store, tmp_path)
    _, X_val, _, _ = _split()
    _predict(learner, uri, "champion", X_val)
    client.set_registered_model_alias("digits", "champion", 3)
    got = _predict(learner, uri, "champion", X_val[:100])
    want = _version_predictions(3)[:100]
    if np.array_equal(got, _version_predictions(2)[:100]) and not np.array_equal(got, want):
        fail(
            "after 'champion' moved from version 2 to version 3, predict_with_alias still "
            "predicts with version 2: load models:/<name>@<alias> on every call (a cached or "
            "pinned version does not follow the alias)"
        )
    _assert_version(np.concatenate([got, _version_predictions(3)[100:]]), 3, "champion")

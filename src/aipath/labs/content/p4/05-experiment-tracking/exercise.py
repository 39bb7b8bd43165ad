"""Experiment tracking with MLflow: runs, a nested sweep, a registry with aliases.

Read README.md first: it states what each run must hold and what the checks read back.
The constants, `Split`, `load_split`, `make_model` and `epoch_metrics` are given; the five
functions that raise NotImplementedError are yours. Every function gets the tracking URI of the
store to use (the checks give each one a fresh store); `python exercise.py` runs the whole
sweep into ./mlruns.db, which `mlflow ui --backend-store-uri sqlite:///mlruns.db` shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow  # noqa: F401  (the functions you write use it)
import numpy as np
import sklearn
from mlflow import MlflowClient  # noqa: F401
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss  # noqa: F401
from sklearn.model_selection import train_test_split

EPOCHS = 6
CLASSES = np.arange(10)
METRICS = ("train_loss", "val_loss", "val_accuracy")
MODEL_PATH = "model"
CONFUSION_FILE = "confusion_matrix.json"
PIP_REQUIREMENTS = [f"scikit-learn=={sklearn.__version__}"]
GRID = [
    {"alpha": 1e-4, "eta0": 0.1, "seed": 0},
    {"alpha": 1e-3, "eta0": 0.1, "seed": 0},
    {"alpha": 1e-4, "eta0": 0.5, "seed": 0},
    {"alpha": 1e-2, "eta0": 0.01, "seed": 0},
]


# ----- given: the data, the model and its per-epoch metrics -------------------------------------
@dataclass(frozen=True)
class Split:
    """The digits (8x8 pixels scaled to [0, 1], 64 float64 features), 1347 train / 450 val rows."""

    X_train: np.ndarray
    X_val: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray


def load_split() -> Split:
    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(
        X / 16.0, y, test_size=0.25, random_state=0, stratify=y
    )
    return Split(X_train, X_val, y_train, y_val)


def make_model(params: dict[str, Any]) -> SGDClassifier:
    """A logistic-regression SGDClassifier; one `partial_fit` call trains it one epoch."""
    return SGDClassifier(
        loss="log_loss",
        alpha=params["alpha"],
        learning_rate="constant",
        eta0=params["eta0"],
        random_state=params["seed"],
    )


def epoch_metrics(model: SGDClassifier, split: Split) -> dict[str, float]:
    """{"train_loss", "val_loss", "val_accuracy"} of the model as it is now."""
    return {
        "train_loss": float(log_loss(split.y_train, model.predict_proba(split.X_train))),
        "val_loss": float(log_loss(split.y_val, model.predict_proba(split.X_val))),
        "val_accuracy": float(accuracy_score(split.y_val, model.predict(split.X_val))),
    }


# ----- task 1 ------------------------------------------------------------------------------------
def open_experiment(tracking_uri: str, name: str, artifact_location: str) -> str:
    """The id of the experiment `name` in the store; created with `artifact_location` if new.

    >>> eid = open_experiment("sqlite:///mlruns.db", "digits", "/abs/path/mlartifacts")
    >>> open_experiment("sqlite:///mlruns.db", "digits", "/abs/path/mlartifacts") == eid
    True
    """
    raise NotImplementedError  # TODO


# ----- task 2 ------------------------------------------------------------------------------------
def log_training_run(
    tracking_uri: str, experiment_id: str, params: dict[str, Any], epochs: int = EPOCHS
) -> str:
    """Train make_model(params) for `epochs` epochs inside one MLflow run; return its run id.

    The run holds: params (every key of `params`, and `epochs`); train_loss, val_loss and
    val_accuracy at step 1, 2, ..., epochs; the artefact confusion_matrix.json; the final model
    logged as "model" with an input example and PIP_REQUIREMENTS. Called while a run is active
    (the sweep's parent), the run is a child of it.

    >>> run_id = log_training_run(uri, eid, {"alpha": 1e-4, "eta0": 0.1, "seed": 0}, epochs=3)
    """
    raise NotImplementedError  # TODO


# ----- task 3 ------------------------------------------------------------------------------------
def run_sweep(
    tracking_uri: str, experiment_id: str, grid: list[dict[str, Any]], epochs: int = EPOCHS
) -> str:
    """One parent run with one nested child run per params dict of `grid`; the parent's id.

    >>> parent_id = run_sweep(uri, eid, GRID, epochs=3)
    """
    raise NotImplementedError  # TODO


# ----- task 4 ------------------------------------------------------------------------------------
def promote(
    tracking_uri: str,
    parent_run_id: str,
    model_name: str,
    metric: str = "val_accuracy",
    greater_is_better: bool = True,
) -> tuple[int, int]:
    """Register the sweep's best and second-best models; alias them champion and challenger.

    Runs are the children of `parent_run_id`, ranked by the final value of `metric`. Returns
    (champion's version, challenger's version). ValueError if fewer than two runs.

    >>> promote(uri, parent_id, "digits-sgd")                       # a new registered model
    (1, 2)
    >>> promote(uri, parent_id, "digits-sgd", "val_loss", greater_is_better=False)
    (3, 4)                   # new versions 3 and 4 (register them in either order)
    """
    raise NotImplementedError  # TODO


# ----- task 5 ------------------------------------------------------------------------------------
def predict_with_alias(tracking_uri: str, model_name: str, alias: str, X: np.ndarray) -> np.ndarray:
    """The labels (int, shape (n,)) that the version `alias` points at predicts for X.

    >>> predict_with_alias(uri, "digits-sgd", "champion", load_split().X_val[:3])
    array([2, 0, 4])
    """
    raise NotImplementedError  # TODO


if __name__ == "__main__":
    uri = "sqlite:///mlruns.db"
    experiment = open_experiment(uri, "digits", str(Path("mlartifacts").resolve()))
    sweep = run_sweep(uri, experiment, GRID)
    print("champion, challenger:", promote(uri, sweep, "digits-sgd"))
    print("see them with: mlflow ui --backend-store-uri sqlite:///mlruns.db")

# expect: MLflow's current tracking URI is
# mistake: log_training_run does not set the tracking URI (writes into whatever store was set before)
"""Experiment tracking with MLflow: runs, a nested sweep, a registry with aliases.

Read README.md first: it states what each run must hold and what the checks read back.
The constants, `Split`, `load_split`, `make_model` and `epoch_metrics` are given; the five
functions that raise NotImplementedError are yours. Every function gets the tracking URI of the
store to use (the checks give each one a fresh store); `python exercise.py` runs the whole
sweep into ./mlruns.db, which `mlflow ui --backend-store-uri sqlite:///mlruns.db` shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
import sklearn
from mlflow import MlflowClient
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss
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


def open_experiment(tracking_uri: str, name: str, artifact_location: str) -> str:
    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    return client.create_experiment(name, artifact_location=artifact_location)


def log_training_run(
    tracking_uri: str, experiment_id: str, params: dict[str, Any], epochs: int = EPOCHS
) -> str:
    split = load_split()
    model = make_model(params)
    with mlflow.start_run(experiment_id=experiment_id, nested=True) as run:
        mlflow.log_params({**params, "epochs": epochs})
        for epoch in range(1, epochs + 1):
            model.partial_fit(split.X_train, split.y_train, classes=CLASSES)
            for key, value in epoch_metrics(model, split).items():
                mlflow.log_metric(key, value, step=epoch)
        cm = confusion_matrix(split.y_val, model.predict(split.X_val), labels=CLASSES)
        mlflow.log_dict({"labels": CLASSES.tolist(), "matrix": cm.tolist()}, CONFUSION_FILE)
        mlflow.sklearn.log_model(
            model, name=MODEL_PATH, input_example=split.X_val[:5], pip_requirements=PIP_REQUIREMENTS
        )
        return run.info.run_id


def run_sweep(
    tracking_uri: str, experiment_id: str, grid: list[dict[str, Any]], epochs: int = EPOCHS
) -> str:
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(experiment_id=experiment_id) as parent:
        for params in grid:
            log_training_run(tracking_uri, experiment_id, params, epochs)
        return parent.info.run_id


def promote(
    tracking_uri: str,
    parent_run_id: str,
    model_name: str,
    metric: str = "val_accuracy",
    greater_is_better: bool = True,
) -> tuple[int, int]:
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    parent = client.get_run(parent_run_id)
    runs = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
    )
    if len(runs) < 2:
        raise ValueError("need at least two child runs")
    runs = sorted(runs, key=lambda r: r.data.metrics[metric], reverse=greater_is_better)
    best, second = runs[0], runs[1]
    v1 = mlflow.register_model(f"runs:/{best.info.run_id}/model", model_name)
    v2 = mlflow.register_model(f"runs:/{second.info.run_id}/model", model_name)
    client.set_registered_model_alias(model_name, "champion", v1.version)
    client.set_registered_model_alias(model_name, "challenger", v2.version)
    return int(v1.version), int(v2.version)


def predict_with_alias(tracking_uri: str, model_name: str, alias: str, X: np.ndarray) -> np.ndarray:
    mlflow.set_tracking_uri(tracking_uri)
    model = mlflow.sklearn.load_model(f"models:/{model_name}@{alias}")
    return np.asarray(model.predict(X)).astype(int)

# expect: point at the same version
"""Experiment tracking with MLflow: runs, a nested sweep, a registry with aliases (reference)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
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


@dataclass(frozen=True)
class Split:
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
    return SGDClassifier(
        loss="log_loss",
        alpha=params["alpha"],
        learning_rate="constant",
        eta0=params["eta0"],
        random_state=params["seed"],
    )


def epoch_metrics(model: SGDClassifier, split: Split) -> dict[str, float]:
    return {
        "train_loss": float(log_loss(split.y_train, model.predict_proba(split.X_train))),
        "val_loss": float(log_loss(split.y_val, model.predict_proba(split.X_val))),
        "val_accuracy": float(accuracy_score(split.y_val, model.predict(split.X_val))),
    }


# ----- task 1 ------------------------------------------------------------------------------------
def open_experiment(tracking_uri: str, name: str, artifact_location: str) -> str:
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=artifact_location)


# ----- task 2 ------------------------------------------------------------------------------------
def log_training_run(
    tracking_uri: str, experiment_id: str, params: dict[str, Any], epochs: int = EPOCHS
) -> str:
    mlflow.set_tracking_uri(tracking_uri)
    split = load_split()
    with mlflow.start_run(experiment_id=experiment_id, nested=True) as run:
        mlflow.log_params({**params, "epochs": epochs})
        model = make_model(params)
        for epoch in range(1, epochs + 1):
            model.partial_fit(split.X_train, split.y_train, classes=CLASSES)
            mlflow.log_metrics(epoch_metrics(model, split), step=epoch)
        matrix = confusion_matrix(split.y_val, model.predict(split.X_val), labels=CLASSES)
        mlflow.log_dict({"labels": CLASSES.tolist(), "matrix": matrix.tolist()}, CONFUSION_FILE)
        mlflow.sklearn.log_model(
            model,
            name=MODEL_PATH,
            input_example=split.X_val[:5],
            pip_requirements=PIP_REQUIREMENTS,
        )
        return run.info.run_id


# ----- task 3 ------------------------------------------------------------------------------------
def run_sweep(
    tracking_uri: str, experiment_id: str, grid: list[dict[str, Any]], epochs: int = EPOCHS
) -> str:
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(experiment_id=experiment_id, run_name="sweep") as parent:
        for params in grid:
            log_training_run(tracking_uri, experiment_id, params, epochs)
        return parent.info.run_id


# ----- task 4 ------------------------------------------------------------------------------------
def promote(
    tracking_uri: str,
    parent_run_id: str,
    model_name: str,
    metric: str = "val_accuracy",
    greater_is_better: bool = True,
) -> tuple[int, int]:
    mlflow.set_tracking_uri(tracking_uri)  # register_model and the registry read it
    client = MlflowClient(tracking_uri)
    parent = client.get_run(parent_run_id)
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
    )
    scored = [run for run in children if metric in run.data.metrics]
    if len(scored) < 2:
        raise ValueError(f"the sweep has {len(scored)} runs with {metric!r}; promote needs two")
    scored.sort(key=lambda run: run.data.metrics[metric], reverse=greater_is_better)
    versions = []
    for run in scored[:2]:
        version = mlflow.register_model(f"runs:/{run.info.run_id}/{MODEL_PATH}", model_name)
        versions.append(int(version.version))
    client.set_registered_model_alias(model_name, "champion", versions[0])
    client.set_registered_model_alias(model_name, "challenger", versions[0])
    return versions[0], versions[1]


# ----- task 5 ------------------------------------------------------------------------------------
def predict_with_alias(tracking_uri: str, model_name: str, alias: str, X: np.ndarray) -> np.ndarray:
    mlflow.set_tracking_uri(tracking_uri)
    model = mlflow.sklearn.load_model(f"models:/{model_name}@{alias}")
    return model.predict(X)


if __name__ == "__main__":
    uri = "sqlite:///mlruns.db"
    experiment = open_experiment(uri, "digits", str(Path("mlartifacts").resolve()))
    sweep = run_sweep(uri, experiment, GRID)
    print("champion, challenger:", promote(uri, sweep, "digits-sgd"))
    print("see them with: mlflow ui --backend-store-uri sqlite:///mlruns.db")

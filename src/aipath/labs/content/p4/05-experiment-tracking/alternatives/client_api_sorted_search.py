"""Experiment tracking with MLflow: runs, a nested sweep, a registry with aliases (reference)."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
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
    mlflow.set_tracking_uri(tracking_uri)
    found = mlflow.get_experiment_by_name(name)
    if found is None:
        return mlflow.create_experiment(name, artifact_location=artifact_location)
    return found.experiment_id


# ----- task 2 ------------------------------------------------------------------------------------
def log_training_run(
    tracking_uri: str, experiment_id: str, params: dict[str, Any], epochs: int = EPOCHS
) -> str:
    mlflow.set_tracking_uri(tracking_uri)
    split = load_split()
    model = make_model(params)
    with mlflow.start_run(experiment_id=experiment_id, nested=True) as run:
        for key, value in params.items():
            mlflow.log_param(key, value)
        mlflow.log_param("epochs", epochs)
        epoch = 0
        while epoch < epochs:
            epoch += 1
            model.partial_fit(split.X_train, split.y_train, classes=CLASSES)
            for key, value in epoch_metrics(model, split).items():
                mlflow.log_metric(key, value, step=epoch)
        matrix = confusion_matrix(split.y_val, model.predict(split.X_val), labels=CLASSES)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / CONFUSION_FILE
            path.write_text(json.dumps({"labels": list(range(10)), "matrix": matrix.tolist()}))
            mlflow.log_artifact(str(path))
        mlflow.sklearn.log_model(
            sk_model=model,
            name="model",
            input_example=split.X_val[:5],
            pip_requirements=PIP_REQUIREMENTS,
            serialization_format="cloudpickle",
        )
    return run.info.run_id


# ----- task 3 ------------------------------------------------------------------------------------
def run_sweep(
    tracking_uri: str, experiment_id: str, grid: list[dict[str, Any]], epochs: int = EPOCHS
) -> str:
    mlflow.set_tracking_uri(tracking_uri)
    parent = mlflow.start_run(experiment_id=experiment_id, run_name="grid")
    try:
        for params in grid:
            log_training_run(tracking_uri, experiment_id, params, epochs)
    finally:
        mlflow.end_run()
    return parent.info.run_id


# ----- task 4 ------------------------------------------------------------------------------------
def promote(
    tracking_uri: str,
    parent_run_id: str,
    model_name: str,
    metric: str = "val_accuracy",
    greater_is_better: bool = True,
) -> tuple[int, int]:
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    experiment_id = client.get_run(parent_run_id).info.experiment_id
    order = "DESC" if greater_is_better else "ASC"
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
        order_by=[f"metrics.{metric} {order}"],
        max_results=2,
    )
    if len(runs) < 2:
        raise ValueError("promote needs at least two runs")
    try:
        client.get_registered_model(model_name)
    except mlflow.exceptions.MlflowException:
        client.create_registered_model(model_name)
    numbers = []
    for run in runs:
        (logged,) = client.search_logged_models(
            experiment_ids=[experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'"
        )
        version = client.create_model_version(
            model_name, logged.model_uri, run_id=run.info.run_id, model_id=logged.model_id
        )
        numbers.append(int(version.version))
    client.set_registered_model_alias(model_name, "champion", numbers[0])
    client.set_registered_model_alias(model_name, "challenger", numbers[1])
    return numbers[0], numbers[1]


# ----- task 5 ------------------------------------------------------------------------------------
def predict_with_alias(tracking_uri: str, model_name: str, alias: str, X: np.ndarray) -> np.ndarray:
    mlflow.set_tracking_uri(tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{model_name}@{alias}")
    return np.asarray(model.predict(X))

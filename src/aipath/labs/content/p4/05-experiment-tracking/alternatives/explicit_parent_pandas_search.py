"""Experiment tracking with MLflow: runs, a nested sweep, a registry with aliases (reference)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
import sklearn
from mlflow import MlflowClient
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, log_loss
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
    for experiment in client.search_experiments():
        if experiment.name == name:
            return experiment.experiment_id
    return client.create_experiment(name, artifact_location=artifact_location)


# ----- task 2 ------------------------------------------------------------------------------------
def log_training_run(
    tracking_uri: str, experiment_id: str, params: dict[str, Any], epochs: int = EPOCHS
) -> str:
    mlflow.set_tracking_uri(tracking_uri)
    active = mlflow.active_run()
    parent = active.info.run_id if active is not None else None
    split = load_split()
    model = make_model(params)
    run = mlflow.start_run(experiment_id=experiment_id, parent_run_id=parent, nested=True)
    try:
        mlflow.log_params(dict(params, epochs=epochs))
        history = []
        for _epoch in range(epochs):
            model.partial_fit(split.X_train, split.y_train, classes=CLASSES)
            history.append(epoch_metrics(model, split))
        for step, values in enumerate(history, start=1):
            mlflow.log_metrics(values, step=step)
        predicted = model.predict(split.X_val)
        matrix = [
            [int(np.sum((split.y_val == t) & (predicted == p))) for p in CLASSES] for t in CLASSES
        ]
        mlflow.log_dict({"matrix": matrix, "labels": CLASSES.tolist()}, "confusion_matrix.json")
        signature = mlflow.models.infer_signature(split.X_val[:5], model.predict(split.X_val[:5]))
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            input_example=split.X_val[:5],
            pip_requirements=PIP_REQUIREMENTS,
        )
    finally:
        mlflow.end_run()
    return run.info.run_id


# ----- task 3 ------------------------------------------------------------------------------------
def run_sweep(
    tracking_uri: str, experiment_id: str, grid: list[dict[str, Any]], epochs: int = EPOCHS
) -> str:
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(experiment_id=experiment_id) as parent:
        mlflow.set_tag("kind", "sweep")
        for params in grid:
            log_training_run(tracking_uri, experiment_id, params, epochs=epochs)
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
    client = MlflowClient()
    experiment_id = client.get_run(parent_run_id).info.experiment_id
    runs = mlflow.search_runs(
        [experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'"
    )
    column = f"metrics.{metric}"
    runs = runs.dropna(subset=[column]).sort_values(column, ascending=not greater_is_better)
    if len(runs) < 2:
        raise ValueError(f"need two runs with {metric}, found {len(runs)}")
    best, second = runs["run_id"].iloc[0], runs["run_id"].iloc[1]
    champion = mlflow.register_model(f"runs:/{best}/model", model_name)
    challenger = mlflow.register_model(f"runs:/{second}/model", model_name)
    client.set_registered_model_alias(model_name, "challenger", challenger.version)
    client.set_registered_model_alias(model_name, "champion", champion.version)
    return int(champion.version), int(challenger.version)


# ----- task 5 ------------------------------------------------------------------------------------
def predict_with_alias(tracking_uri: str, model_name: str, alias: str, X: np.ndarray) -> np.ndarray:
    client = MlflowClient(tracking_uri)
    version = client.get_model_version_by_alias(model_name, alias)
    mlflow.set_tracking_uri(tracking_uri)
    model = mlflow.sklearn.load_model(f"models:/{model_name}/{version.version}")
    return model.predict(X.copy())

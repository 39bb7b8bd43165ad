# expect: calls mlflow.set_registry_uri
# mistake: promote calls mlflow.set_registry_uri after building its MlflowClient: the client's registry stays on the previous store, so aliases go to the wrong store
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


def open_experiment(tracking_uri: str, name: str, artifact_location: str) -> str:
    client = MlflowClient(tracking_uri=tracking_uri)
    for exp in client.search_experiments(filter_string=f"name = '{name}'"):
        return exp.experiment_id
    return client.create_experiment(name=name, artifact_location=artifact_location)


def log_training_run(
    tracking_uri: str, experiment_id: str, params: dict[str, Any], epochs: int = EPOCHS
) -> str:
    mlflow.set_tracking_uri(tracking_uri)
    split = load_split()
    model = make_model(params)
    run = mlflow.start_run(experiment_id=experiment_id, nested=True)
    try:
        logged = dict(params)
        logged["epochs"] = epochs
        mlflow.log_params(logged)
        epoch = 0
        while epoch < epochs:
            epoch += 1
            model.partial_fit(split.X_train, split.y_train, classes=CLASSES)
            m = epoch_metrics(model, split)
            for name in METRICS:
                mlflow.log_metric(name, m[name], step=epoch)
        y_pred = model.predict(split.X_val)
        matrix = [[0] * len(CLASSES) for _ in CLASSES]
        for t, p in zip(split.y_val, y_pred, strict=True):
            matrix[int(t)][int(p)] += 1
        mlflow.log_dict({"labels": list(range(10)), "matrix": matrix}, "confusion_matrix.json")
        mlflow.sklearn.log_model(
            sk_model=model,
            name="model",
            input_example=split.X_val[:5],
            pip_requirements=PIP_REQUIREMENTS,
        )
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    mlflow.end_run()
    return run.info.run_id


def run_sweep(
    tracking_uri: str, experiment_id: str, grid: list[dict[str, Any]], epochs: int = EPOCHS
) -> str:
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(experiment_id=experiment_id, run_name="sweep") as parent:
        parent_id = parent.info.run_id
        for i in range(len(grid)):
            log_training_run(tracking_uri, experiment_id, grid[i], epochs)
    return parent_id


def promote(
    tracking_uri: str,
    parent_run_id: str,
    model_name: str,
    metric: str = "val_accuracy",
    greater_is_better: bool = True,
) -> tuple[int, int]:
    client = MlflowClient(tracking_uri)
    exp_id = client.get_run(parent_run_id).info.experiment_id
    runs = client.search_runs(
        [exp_id], filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'", max_results=1000
    )
    if len(runs) < 2:
        raise ValueError("promote needs two candidate runs")
    sign = 1.0 if greater_is_better else -1.0
    scored = [(sign * r.data.metrics[metric], r.info.run_id) for r in runs]
    scored.sort(key=lambda t: t[0], reverse=True)
    champ_id, chall_id = scored[0][1], scored[1][1]
    mlflow.set_registry_uri(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    champ = mlflow.register_model(f"runs:/{champ_id}/model", model_name)
    chall = mlflow.register_model(f"runs:/{chall_id}/model", model_name)
    client.set_registered_model_alias(name=model_name, alias="champion", version=champ.version)
    client.set_registered_model_alias(name=model_name, alias="challenger", version=chall.version)
    return int(champ.version), int(chall.version)


def predict_with_alias(tracking_uri: str, model_name: str, alias: str, X: np.ndarray) -> np.ndarray:
    client = MlflowClient(tracking_uri)
    mv = client.get_model_version_by_alias(model_name, alias)
    mlflow.set_tracking_uri(tracking_uri)
    model = mlflow.sklearn.load_model(f"models:/{model_name}@{alias}")
    assert int(mv.version) >= 1
    return model.predict(np.array(X, copy=True)).astype(np.int64)

"""Alternative: csv module, a loop for accuracy, uuid folders, blake2b keys.

An ML workflow as a Kubeflow pipeline: components, a DAG, a compiled spec and a cache.

Read README.md first. `load_data` is written for you as the model of a component; the other
functions raise NotImplementedError until you write them.
"""

import hashlib
import json
import tempfile  # noqa: F401
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfp import compiler, dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

BASE_IMAGE = "python:3.11-slim"
PIPELINE_NAME = "churn-training"


# ----- task 1: the components ---------------------------------------------------------------------
@dsl.component(base_image=BASE_IMAGE)
def load_data(n_rows: int, seed: int, raw_data: Output[Dataset]):
    """Generate `n_rows` customers as CSV (x1,x2,label); every 10th row (i % 10 == 7) lacks x2."""
    import random

    rng = random.Random(seed)
    lines = ["x1,x2,label"]
    for i in range(n_rows):
        x1 = round(rng.gauss(0.0, 1.0), 4)
        x2 = round(rng.gauss(0.0, 1.0), 4)
        label = 1 if x1 + 0.5 * x2 + rng.gauss(0.0, 0.5) > 0 else 0
        lines.append(f"{x1},{'' if i % 10 == 7 else x2},{label}")
    with open(raw_data.path, "w") as f:
        f.write("\n".join(lines) + "\n")


@dsl.component(base_image=BASE_IMAGE)
def validate_data(
    raw_data: Input[Dataset],
    min_rows: int,
    test_fraction: float,
    train_data: Output[Dataset],
    test_data: Output[Dataset],
) -> int:
    """Drop rows with an empty field, split off the last int(n * test_fraction) rows as test."""
    import csv

    with open(raw_data.path, newline="") as f:
        records = list(csv.reader(f))
    header = ",".join(records[0])
    valid = [",".join(r) for r in records[1:] if r and all(v.strip() for v in r)]
    if len(valid) < min_rows:
        raise ValueError(f"only {len(valid)} valid rows; at least {min_rows} are needed")
    n_test = int(len(valid) * test_fraction)
    cut = len(valid) - n_test
    with open(train_data.path, "w") as f:
        f.write("\n".join([header, *valid[:cut]]) + "\n")
    with open(test_data.path, "w") as f:
        f.write("\n".join([header, *valid[cut:]]) + "\n")
    return len(valid)


@dsl.component(base_image=BASE_IMAGE)
def train_model(
    train_data: Input[Dataset], learning_rate: float, epochs: int, model: Output[Model]
):
    """Logistic regression by full-batch gradient descent from zeros; JSON {"w": [w1, w2], "b": b}."""
    import json
    import math

    with open(train_data.path) as f:
        rows = [[float(v) for v in line.split(",")] for line in f.read().splitlines()[1:]]
    w1 = w2 = b = 0.0
    n = len(rows)
    for _ in range(epochs):
        g1 = g2 = gb = 0.0
        for x1, x2, y in rows:
            p = 1.0 / (1.0 + math.exp(-(w1 * x1 + w2 * x2 + b)))
            g1 += (p - y) * x1
            g2 += (p - y) * x2
            gb += p - y
        w1 -= learning_rate * g1 / n
        w2 -= learning_rate * g2 / n
        b -= learning_rate * gb / n
    with open(model.path, "w") as f:
        json.dump({"w": [w1, w2], "b": b}, f)


@dsl.component(base_image=BASE_IMAGE)
def evaluate_model(
    test_data: Input[Dataset], model: Input[Model], metrics: Output[Metrics]
) -> float:
    """Accuracy of the model on the test rows (predict 1 when w·x + b > 0), logged and returned."""
    import json

    with open(model.path) as f:
        params = json.load(f)
    (w1, w2), b = params["w"], params["b"]
    with open(test_data.path) as f:
        rows = [[float(v) for v in line.split(",")] for line in f.read().splitlines()[1:]]
    correct = 0
    for x1, x2, y in rows:
        predicted = 1.0 if w1 * x1 + w2 * x2 + b > 0 else 0.0
        correct += predicted == y
    accuracy = float(correct) / len(rows)
    metrics.log_metric("accuracy", accuracy)
    metrics.log_metric("test_rows", len(rows))
    return accuracy


@dsl.component(base_image=BASE_IMAGE)
def deploy_model(model: Input[Model], endpoint: str, accuracy: float) -> str:
    """The model's address: f"{endpoint}@{the first 12 hex digits of sha256(model file)}"."""
    import hashlib
    from pathlib import Path

    digest = hashlib.sha256(Path(model.path).read_bytes()).hexdigest()
    return endpoint + "@" + digest[:12]


# ----- task 2: the pipeline and its compiled spec -------------------------------------------------
def build_pipeline():
    """The `@dsl.pipeline` function wiring the five components (see README task 2)."""

    @dsl.pipeline(name=PIPELINE_NAME)
    def churn_training(
        n_rows: int = 400,
        seed: int = 7,
        min_rows: int = 100,
        test_fraction: float = 0.25,
        learning_rate: float = 0.5,
        epochs: int = 60,
        accuracy_threshold: float = 0.8,
        endpoint: str = "models/churn",
    ):
        load = load_data(n_rows=n_rows, seed=seed)
        validate = validate_data(
            raw_data=load.outputs["raw_data"], min_rows=min_rows, test_fraction=test_fraction
        )
        train = train_model(
            train_data=validate.outputs["train_data"], learning_rate=learning_rate, epochs=epochs
        )
        evaluate = evaluate_model(
            test_data=validate.outputs["test_data"], model=train.outputs["model"]
        )
        with dsl.If(evaluate.outputs["Output"] >= accuracy_threshold, name="accurate-enough"):
            deploy = deploy_model(
                model=train.outputs["model"], endpoint=endpoint, accuracy=evaluate.outputs["Output"]
            )
            deploy.set_caching_options(False)

    return churn_training


def compile_pipeline(package_path: str | Path) -> None:
    """Compile build_pipeline() to the IR YAML file `package_path`."""
    compiler.Compiler().compile(build_pipeline(), str(package_path))


# ----- task 3: order and cache keys from the compiled spec ----------------------------------------
def topological_order(spec: dict[str, Any]) -> list[str]:
    """The root DAG's task names, each after every task it depends on; ValueError on a cycle."""
    tasks = spec["root"]["dag"]["tasks"]
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise ValueError(f"the DAG has a cycle through {name}")
        state[name] = "visiting"
        for upstream in sorted(tasks[name].get("dependentTasks", [])):
            visit(upstream)
        state[name] = "done"
        order.append(name)

    for name in sorted(tasks):
        visit(name)
    return order


_CASTS: dict[str, Callable[[Any], Any]] = {
    "NUMBER_INTEGER": int,
    "NUMBER_DOUBLE": float,
    "STRING": str,
    "BOOLEAN": bool,
}


def _digest(value: Any) -> str:
    return hashlib.blake2b(json.dumps(value, sort_keys=True).encode(), digest_size=20).hexdigest()


def _arguments(spec: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    declared = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    unknown = set(arguments) - set(declared)
    if unknown:
        raise ValueError(f"unknown pipeline parameters: {sorted(unknown)}")
    resolved = {}
    for name, definition in declared.items():
        if name in arguments:
            value = arguments[name]
        elif "defaultValue" in definition:
            value = definition["defaultValue"]
        else:
            raise ValueError(f"pipeline parameter {name!r} has no value and no default")
        resolved[name] = _CASTS[definition["parameterType"]](value)
    return resolved


def _component_tasks(spec: dict[str, Any]) -> list[str]:
    tasks = spec["root"]["dag"]["tasks"]
    return [
        name
        for name in topological_order(spec)
        if "executorLabel" in spec["components"][tasks[name]["componentRef"]["name"]]
    ]


def cache_keys(spec: dict[str, Any], arguments: dict[str, Any]) -> dict[str, str | None]:
    """A content-addressed cache key for every component task of the root DAG (None: no cache)."""
    tasks = spec["root"]["dag"]["tasks"]
    params = _arguments(spec, arguments)
    keys: dict[str, str | None] = {}
    fingerprints: dict[str, str] = {}
    for name in _component_tasks(spec):
        task = tasks[name]
        component = spec["components"][task["componentRef"]["name"]]
        executor = spec["deploymentSpec"]["executors"][component["executorLabel"]]
        types = component.get("inputDefinitions", {}).get("parameters", {})
        values: dict[str, Any] = {}
        for key, source in task.get("inputs", {}).get("parameters", {}).items():
            if "componentInputParameter" in source:
                value = params[source["componentInputParameter"]]
            elif "runtimeValue" in source:
                value = source["runtimeValue"]["constant"]
            else:
                producer = source["taskOutputParameter"]
                value = [fingerprints[producer["producerTask"]], producer["outputParameterKey"]]
            kind = types.get(key, {}).get("parameterType")
            values[key] = _CASTS[kind](value) if kind and not isinstance(value, list) else value
        for key, definition in types.items():
            if key not in values and "defaultValue" in definition:
                values[key] = definition["defaultValue"]
        artifacts = {
            key: [
                fingerprints[source["taskOutputArtifact"]["producerTask"]],
                source["taskOutputArtifact"]["outputArtifactKey"],
            ]
            for key, source in task.get("inputs", {}).get("artifacts", {}).items()
        }
        fingerprint = _digest(
            {
                "component": _digest({"interface": component, "executor": executor}),
                "parameters": values,
                "artifacts": artifacts,
            }
        )
        fingerprints[name] = fingerprint
        cached = task.get("cachingOptions", {}).get("enableCache", False)
        keys[name] = fingerprint if cached else None
    return keys


# ----- task 4: a local executor that reuses cached results ---------------------------------------
@dataclass
class RunResult:
    """What one run did: the tasks whose function ran, those served from the cache, all outputs."""

    executed: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)


ARTIFACT_TYPES = {
    "system.Artifact": dsl.Artifact,
    "system.Dataset": dsl.Dataset,
    "system.Model": dsl.Model,
    "system.Metrics": dsl.Metrics,
}


def run_pipeline(
    spec: dict[str, Any],
    functions: dict[str, Callable[..., Any]],
    arguments: dict[str, Any],
    workdir: str | Path,
    cache: dict[str, dict[str, Any]],
) -> RunResult:
    """Run the root DAG's component tasks in order, reusing `cache[key]` when a key is known."""
    tasks = spec["root"]["dag"]["tasks"]
    params = _arguments(spec, arguments)
    keys = cache_keys(spec, arguments)
    result = RunResult()
    for name in _component_tasks(spec):
        key = keys[name]
        if key is not None and key in cache:
            result.outputs[name] = dict(cache[key])
            result.cached.append(name)
            continue
        task = tasks[name]
        component = spec["components"][task["componentRef"]["name"]]
        types = component.get("inputDefinitions", {}).get("parameters", {})
        kwargs: dict[str, Any] = {}
        for key_name, source in task.get("inputs", {}).get("parameters", {}).items():
            if "componentInputParameter" in source:
                value = params[source["componentInputParameter"]]
            elif "runtimeValue" in source:
                value = source["runtimeValue"]["constant"]
            else:
                producer = source["taskOutputParameter"]
                value = result.outputs[producer["producerTask"]][producer["outputParameterKey"]]
            kind = types.get(key_name, {}).get("parameterType")
            kwargs[key_name] = _CASTS[kind](value) if kind else value
        in_types = component.get("inputDefinitions", {}).get("artifacts", {})
        for key_name, source in task.get("inputs", {}).get("artifacts", {}).items():
            producer = source["taskOutputArtifact"]
            uri = result.outputs[producer["producerTask"]][producer["outputArtifactKey"]]
            kind = ARTIFACT_TYPES[in_types[key_name]["artifactType"]["schemaTitle"]]
            kwargs[key_name] = kind(name=key_name, uri=uri)
        folder = Path(workdir) / f"{name}-{uuid.uuid4().hex}"
        folder.mkdir(parents=True)
        outputs: dict[str, Any] = {}
        out_defs = component.get("outputDefinitions", {})
        for key_name, definition in out_defs.get("artifacts", {}).items():
            kind = ARTIFACT_TYPES[definition["artifactType"]["schemaTitle"]]
            kwargs[key_name] = kind(name=key_name, uri=str(folder / key_name))
            outputs[key_name] = str(folder / key_name)
        returned = functions[name](**kwargs)
        if "Output" in out_defs.get("parameters", {}):
            outputs["Output"] = returned
        result.executed.append(name)
        result.outputs[name] = outputs
        if key is not None:
            cache[key] = dict(outputs)
    return result


if __name__ == "__main__":
    import yaml

    compile_pipeline(Path(__file__).with_name("pipeline.yaml"))
    spec = yaml.safe_load(Path(__file__).with_name("pipeline.yaml").read_text())
    print("wrote pipeline.yaml; tasks in order:", topological_order(spec))

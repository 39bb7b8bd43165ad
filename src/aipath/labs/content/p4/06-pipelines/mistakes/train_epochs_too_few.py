# expect: one epoch too few
# mistake: runs epochs - 1 gradient steps (range(1, epochs))
"""An ML workflow as a Kubeflow pipeline: components, a DAG, a compiled spec and a cache.

Read README.md first. `load_data` is written for you as the model of a component; every other
function raises NotImplementedError until you write it. `python exercise.py` compiles your
pipeline to pipeline.yaml next to this file, so you can read the spec the checks read.
"""

import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfp import compiler, dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

BASE_IMAGE = "python:3.11-slim"
PIPELINE_NAME = "churn-training"


# ----- task 1: the components ---------------------------------------------------------------------
# A component runs in its own container, which receives only the function's source: import what
# the body needs *inside* the body, and read and write artefacts through their `.path`.
@dsl.component(base_image=BASE_IMAGE)
def load_data(n_rows: int, seed: int, raw_data: Output[Dataset]):
    """Generate `n_rows` customers as CSV (x1,x2,label); every 10th row (i % 10 == 7) lacks x2.

    Given: the model for the four components below.
    """
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
    """Keep the rows without an empty field; split them; return how many were kept.

    The last `int(n_valid * test_fraction)` valid rows (file order) go to `test_data`, the others
    to `train_data`; both files start with raw_data's header line. Fewer than `min_rows` valid
    rows: raise ValueError. The default 400 generated rows give 360 valid: 270 train, 90 test.
    """
    with open(raw_data.path) as f:
        lines = f.read().splitlines()
    header, body = lines[0], lines[1:]
    valid = [line for line in body if all(field != "" for field in line.split(","))]
    n_valid = len(valid)
    if n_valid < min_rows:
        raise ValueError(f"only {n_valid} valid rows, need {min_rows}")
    n_test = int(n_valid * test_fraction)
    train, test = valid[: n_valid - n_test], valid[n_valid - n_test :]
    with open(train_data.path, "w") as f:
        f.write("\n".join([header, *train]) + "\n")
    with open(test_data.path, "w") as f:
        f.write("\n".join([header, *test]) + "\n")
    return n_valid


@dsl.component(base_image=BASE_IMAGE)
def train_model(
    train_data: Input[Dataset], learning_rate: float, epochs: int, model: Output[Model]
):
    """Logistic regression on (x1, x2) by full-batch gradient descent, written as JSON.

    Start from w1 = w2 = b = 0.0; each of the `epochs` steps subtracts learning_rate times the
    mean gradient of the log-loss over all training rows. Write {"w": [w1, w2], "b": b} to
    model.path.
    """
    import json
    import math

    xs1, xs2, ys = [], [], []
    with open(train_data.path) as f:
        next(f)
        for line in f:
            if not line.strip():
                continue
            a, b_, c = line.strip().split(",")
            xs1.append(float(a))
            xs2.append(float(b_))
            ys.append(float(c))
    n = len(ys)
    w1 = w2 = b = 0.0
    for _ in range(1, epochs):
        g1 = g2 = gb = 0.0
        for x1, x2, y in zip(xs1, xs2, ys, strict=False):
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
    """The share of test rows the model gets right (it predicts 1 when w1*x1 + w2*x2 + b > 0).

    Log it as metrics.log_metric("accuracy", ...), log the number of test rows as "test_rows",
    and return the accuracy.
    """
    import csv
    import json

    with open(model.path) as f:
        m = json.load(f)
    w1, w2 = m["w"]
    b = m["b"]
    right = n = 0
    with open(test_data.path, newline="") as f:
        for row in csv.DictReader(f):
            pred = 1 if w1 * float(row["x1"]) + w2 * float(row["x2"]) + b > 0 else 0
            right += pred == int(row["label"])
            n += 1
    accuracy = right / n
    metrics.log_metric("accuracy", accuracy)
    metrics.log_metric("test_rows", n)
    return accuracy


@dsl.component(base_image=BASE_IMAGE)
def deploy_model(model: Input[Model], endpoint: str, accuracy: float) -> str:
    """Return the model's address, f"{endpoint}@{digest}", digest = sha256 of the model file's bytes
    as hex, first 12 characters. E.g. "models/churn@3f2a9c01b7de"."""
    import hashlib

    with open(model.path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    return f"{endpoint}@{digest}"


# ----- task 2: the pipeline and its compiled spec -------------------------------------------------
def build_pipeline():
    """Return a `@dsl.pipeline(name=PIPELINE_NAME)` function wiring the five components.

    Its parameters, their types and defaults, the edges, the condition and the caching are in
    README task 2. Define the pipeline function inside this one: `@dsl.pipeline` runs its body
    as soon as it decorates it.
    """

    @dsl.pipeline(name=PIPELINE_NAME)
    def churn_pipeline(
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
            train_data=validate.outputs["train_data"],
            learning_rate=learning_rate,
            epochs=epochs,
        )
        evaluate = evaluate_model(
            test_data=validate.outputs["test_data"], model=train.outputs["model"]
        )
        with dsl.If(evaluate.outputs["Output"] >= accuracy_threshold):
            deploy = deploy_model(
                model=train.outputs["model"],
                endpoint=endpoint,
                accuracy=evaluate.outputs["Output"],
            )
            deploy.set_caching_options(False)

    return churn_pipeline


def compile_pipeline(package_path: str | Path) -> None:
    """Compile build_pipeline() with kfp's compiler into the YAML file `package_path`."""
    compiler.Compiler().compile(build_pipeline(), str(package_path))


# ----- task 3: order and cache keys from the compiled spec ----------------------------------------
def topological_order(spec: dict[str, Any]) -> list[str]:
    """Every task name of spec["root"]["dag"]["tasks"], each after all its `dependentTasks`.

    >>> topological_order(spec)  # for this lab's pipeline (the group of dsl.If is a task too)
    ['load-data', 'validate-data', 'train-model', 'evaluate-model', 'condition-1']

    A cycle raises ValueError. The spec is not modified.
    """
    tasks = spec["root"]["dag"]["tasks"]
    state: dict[str, str] = {}
    order: list[str] = []

    def visit(name: str) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise ValueError(f"cycle through {name}")
        state[name] = "visiting"
        for dep in tasks[name].get("dependentTasks", []):
            visit(dep)
        state[name] = "done"
        order.append(name)

    for name in tasks:
        visit(name)
    return order


def cache_keys(spec: dict[str, Any], arguments: dict[str, Any]) -> dict[str, str | None]:
    """A cache key for each component task of the root DAG (groups such as condition-1 left out).

    The key is a hex digest of what determines the task's outputs: the component's definition
    (its interface and its executor: image, command, code), its input parameters as resolved
    for this run (`arguments` over the pipeline's defaults, cast to their declared types), and,
    for each input artefact, the key of the task that produces it. A task whose caching is off
    gets None. A name that the pipeline does not declare raises ValueError.
    """
    params = _resolve(spec, arguments)
    tasks = spec["root"]["dag"]["tasks"]
    keys: dict[str, str | None] = {}
    full: dict[str, str] = {}
    for name in topological_order(spec):
        task = tasks[name]
        ref = task["componentRef"]["name"]
        comp = spec["components"][ref]
        label = comp.get("executorLabel")
        if not label:
            continue
        executor = spec["deploymentSpec"]["executors"][label]
        inputs = task.get("inputs", {})
        resolved = {}
        for pname, p in inputs.get("parameters", {}).items():
            if "componentInputParameter" in p:
                resolved[pname] = params[p["componentInputParameter"]]
            elif "runtimeValue" in p:
                resolved[pname] = p["runtimeValue"].get("constant")
            elif "taskOutputParameter" in p:
                t = p["taskOutputParameter"]
                resolved[pname] = [full[t["producerTask"]], t["outputParameterKey"]]
        arts = {}
        for aname, a in inputs.get("artifacts", {}).items():
            t = a["taskOutputArtifact"]
            arts[aname] = [full[t["producerTask"]], t["outputArtifactKey"]]
        payload = {
            "component": comp,
            "executor": executor,
            "parameters": resolved,
            "artifacts": arts,
        }
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        full[name] = digest
        enabled = task.get("cachingOptions", {}).get("enableCache") is True
        keys[name] = digest if enabled else None
    return keys


_CASTS = {"NUMBER_INTEGER": int, "NUMBER_DOUBLE": float, "STRING": str, "BOOLEAN": bool}


def _resolve(spec: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    declared = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    for name in arguments:
        if name not in declared:
            raise ValueError(f"unknown pipeline parameter {name!r}")
    out = {}
    for name, d in declared.items():
        value = arguments[name] if name in arguments else d.get("defaultValue")
        out[name] = _CASTS[d["parameterType"]](value)
    return out


# ----- task 4: a local executor that reuses cached results ---------------------------------------
@dataclass
class RunResult:
    """What one run did: the tasks whose function ran, those served from the cache, all outputs.

    outputs[task][name] is a returned parameter ("Output") or an output artefact's path (str).
    """

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
    """Run the root DAG's component tasks in topological order, in this process.

    `functions[task]` is the Python function of that task (e.g. train_model.python_func). A task
    whose key (cache_keys) is in `cache` is not run: its outputs are cache[key]. Otherwise it is
    called with its parameters and artefact objects (ARTIFACT_TYPES, uri = a path), its outputs
    go to a new folder under `workdir`, and `cache[key]` records them (keys that are not None).
    Groups (condition-1) and the tasks inside them are not run here.
    """
    keys = cache_keys(spec, arguments)
    params = _resolve(spec, arguments)
    tasks = spec["root"]["dag"]["tasks"]
    result = RunResult()
    for name in topological_order(spec):
        if name not in keys:
            continue
        key = keys[name]
        if key is not None and key in cache:
            result.outputs[name] = cache[key]
            result.cached.append(name)
            continue
        task = tasks[name]
        comp = spec["components"][task["componentRef"]["name"]]
        inputs = task.get("inputs", {})
        kwargs: dict[str, Any] = {}
        for pname, p in inputs.get("parameters", {}).items():
            if "componentInputParameter" in p:
                kwargs[pname] = params[p["componentInputParameter"]]
            elif "runtimeValue" in p:
                kwargs[pname] = p["runtimeValue"].get("constant")
            else:
                t = p["taskOutputParameter"]
                kwargs[pname] = result.outputs[t["producerTask"]][t["outputParameterKey"]]
        in_arts = comp.get("inputDefinitions", {}).get("artifacts", {})
        for aname, a in inputs.get("artifacts", {}).items():
            t = a["taskOutputArtifact"]
            uri = result.outputs[t["producerTask"]][t["outputArtifactKey"]]
            cls = ARTIFACT_TYPES[in_arts[aname]["artifactType"]["schemaTitle"]]
            kwargs[aname] = cls(name=aname, uri=uri)
        folder = Path(tempfile.mkdtemp(dir=workdir))
        outs: dict[str, Any] = {}
        out_defs = comp.get("outputDefinitions", {})
        for aname, a in out_defs.get("artifacts", {}).items():
            cls = ARTIFACT_TYPES[a["artifactType"]["schemaTitle"]]
            path = str(folder / aname)
            kwargs[aname] = cls(name=aname, uri=path)
            outs[aname] = path
        returned = functions[name](**kwargs)
        if "Output" in out_defs.get("parameters", {}):
            outs["Output"] = returned
        result.outputs[name] = outs
        if key is not None:
            cache[key] = outs
        result.executed.append(name)
    return result


if __name__ == "__main__":
    import yaml

    compile_pipeline(Path(__file__).with_name("pipeline.yaml"))
    spec = yaml.safe_load(Path(__file__).with_name("pipeline.yaml").read_text())
    print("wrote pipeline.yaml; tasks in order:", topological_order(spec))

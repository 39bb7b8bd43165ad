"""Alternative: csv.writer (CRLF rows), Kahn's algorithm, memoised recursive keys.

An ML workflow as a Kubeflow pipeline: components, a DAG, a compiled spec and a cache.

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
    import csv

    with open(raw_data.path, newline="") as f:
        rows = list(csv.reader(f))
    header, data = rows[0], rows[1:]
    good = []
    for row in data:
        if "" in row:
            continue
        good.append(row)
    if len(good) < min_rows:
        raise ValueError("too few valid rows")
    n_test = int(len(good) * test_fraction)
    with open(train_data.path, "w", newline="") as f:
        csv.writer(f).writerows([header, *good[: len(good) - n_test]])
    with open(test_data.path, "w", newline="") as f:
        csv.writer(f).writerows([header, *good[len(good) - n_test :]])
    return len(good)


@dsl.component(base_image=BASE_IMAGE)
def train_model(
    train_data: Input[Dataset], learning_rate: float, epochs: int, model: Output[Model]
):
    """Logistic regression on (x1, x2) by full-batch gradient descent, written as JSON.

    Start from w1 = w2 = b = 0.0; each of the `epochs` steps subtracts learning_rate times the
    mean gradient of the log-loss over all training rows. Write {"w": [w1, w2], "b": b} to
    model.path.
    """
    import csv
    import json
    import math

    with open(train_data.path, newline="") as f:
        reader = csv.reader(f)
        next(reader)
        data = [tuple(map(float, r)) for r in reader]
    n = len(data)
    w = [0.0, 0.0]
    b = 0.0
    for _epoch in range(epochs):
        p = [1.0 / (1.0 + math.exp(-(w[0] * a + w[1] * c + b))) for a, c, _ in data]
        d = [pi - y for pi, (_, _, y) in zip(p, data, strict=False)]
        new_w0 = (
            w[0]
            - learning_rate * math.fsum(di * a for di, (a, _, _) in zip(d, data, strict=False)) / n
        )
        new_w1 = (
            w[1]
            - learning_rate * math.fsum(di * c for di, (_, c, _) in zip(d, data, strict=False)) / n
        )
        b = b - learning_rate * math.fsum(d) / n
        w = [new_w0, new_w1]
    with open(model.path, "w") as f:
        json.dump({"w": w, "b": b}, f, indent=2)


@dsl.component(base_image=BASE_IMAGE)
def evaluate_model(
    test_data: Input[Dataset], model: Input[Model], metrics: Output[Metrics]
) -> float:
    """The share of test rows the model gets right (it predicts 1 when w1*x1 + w2*x2 + b > 0).

    Log it as metrics.log_metric("accuracy", ...), log the number of test rows as "test_rows",
    and return the accuracy.
    """
    import json

    with open(model.path) as f:
        m = json.load(f)
    with open(test_data.path) as f:
        lines = f.read().splitlines()[1:]
    rows = [tuple(float(v) for v in ln.split(",")) for ln in lines if ln]
    correct = sum(
        1 for x1, x2, y in rows if (m["w"][0] * x1 + m["w"][1] * x2 + m["b"] > 0) == (y == 1.0)
    )
    accuracy = correct / len(rows)
    metrics.log_metric("accuracy", accuracy)
    metrics.log_metric("test_rows", len(rows))
    return float(accuracy)


@dsl.component(base_image=BASE_IMAGE)
def deploy_model(model: Input[Model], endpoint: str, accuracy: float) -> str:
    """Return the model's address, f"{endpoint}@{digest}", digest = sha256 of the model file's bytes
    as hex, first 12 characters. E.g. "models/churn@3f2a9c01b7de"."""
    import hashlib
    from pathlib import Path

    return f"{endpoint}@{hashlib.sha256(Path(model.path).read_bytes()).hexdigest()[:12]}"


# ----- task 2: the pipeline and its compiled spec -------------------------------------------------
def build_pipeline():
    """Return a `@dsl.pipeline(name=PIPELINE_NAME)` function wiring the five components.

    Its parameters, their types and defaults, the edges, the condition and the caching are in
    README task 2. Define the pipeline function inside this one: `@dsl.pipeline` runs its body
    as soon as it decorates it.
    """

    @dsl.pipeline(name=PIPELINE_NAME)
    def churn(
        n_rows: int = 400,
        seed: int = 7,
        min_rows: int = 100,
        test_fraction: float = 0.25,
        learning_rate: float = 0.5,
        epochs: int = 60,
        accuracy_threshold: float = 0.8,
        endpoint: str = "models/churn",
    ) -> None:
        data = load_data(n_rows=n_rows, seed=seed).outputs["raw_data"]
        v = validate_data(raw_data=data, min_rows=min_rows, test_fraction=test_fraction)
        model = train_model(
            train_data=v.outputs["train_data"], learning_rate=learning_rate, epochs=epochs
        ).outputs["model"]
        acc = evaluate_model(test_data=v.outputs["test_data"], model=model).outputs["Output"]
        with dsl.If(acc >= accuracy_threshold, name="ship-it"):
            task = deploy_model(model=model, endpoint=endpoint, accuracy=acc)
            task.set_caching_options(False)

    return churn


def compile_pipeline(package_path: str | Path) -> None:
    """Compile build_pipeline() with kfp's compiler into the YAML file `package_path`."""
    pipe = build_pipeline()
    compiler.Compiler().compile(pipe, package_path=str(Path(package_path)))


# ----- task 3: order and cache keys from the compiled spec ----------------------------------------
def topological_order(spec: dict[str, Any]) -> list[str]:
    """Every task name of spec["root"]["dag"]["tasks"], each after all its `dependentTasks`.

    >>> topological_order(spec)  # for this lab's pipeline (the group of dsl.If is a task too)
    ['load-data', 'validate-data', 'train-model', 'evaluate-model', 'condition-1']

    A cycle raises ValueError. The spec is not modified.
    """
    tasks = spec["root"]["dag"]["tasks"]
    deps = {n: set(t.get("dependentTasks", [])) for n, t in tasks.items()}
    users: dict[str, list[str]] = {n: [] for n in tasks}
    for n, ds in deps.items():
        for d in ds:
            users.setdefault(d, []).append(n)
    remaining = {n: len(ds) for n, ds in deps.items()}
    queue = sorted(n for n, k in remaining.items() if k == 0)
    order = []
    while queue:
        n = queue.pop()
        order.append(n)
        for u in users.get(n, []):
            remaining[u] -= 1
            if remaining[u] == 0:
                queue.append(u)
    if len(order) != len(tasks):
        raise ValueError("cycle among " + ", ".join(n for n in tasks if n not in order))
    return order


def cache_keys(spec: dict[str, Any], arguments: dict[str, Any]) -> dict[str, str | None]:
    """A cache key for each component task of the root DAG (groups such as condition-1 left out).

    The key is a hex digest of what determines the task's outputs: the component's definition
    (its interface and its executor: image, command, code), its input parameters as resolved
    for this run (`arguments` over the pipeline's defaults, cast to their declared types), and,
    for each input artefact, the key of the task that produces it. A task whose caching is off
    gets None. A name that the pipeline does not declare raises ValueError.
    """
    params = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    for a in arguments:
        if a not in params:
            raise ValueError(a)
    types = {"NUMBER_INTEGER": int, "NUMBER_DOUBLE": float, "STRING": str, "BOOLEAN": bool}

    def value(p: str) -> Any:
        raw = arguments[p] if p in arguments else params[p]["defaultValue"]
        return types[params[p]["parameterType"]](raw)

    tasks = spec["root"]["dag"]["tasks"]
    topological_order(spec)  # refuse cycles
    memo: dict[str, str] = {}

    def key(name: str) -> str:
        if name in memo:
            return memo[name]
        task = tasks[name]
        comp = spec["components"][task["componentRef"]["name"]]
        execu = spec["deploymentSpec"]["executors"][comp["executorLabel"]]
        ins = task.get("inputs", {})
        doc = {
            "def": {"component": comp, "executor": execu},
            "params": {},
            "arts": {},
        }
        for k, v in ins.get("parameters", {}).items():
            if "componentInputParameter" in v:
                doc["params"][k] = value(v["componentInputParameter"])
            elif "taskOutputParameter" in v:
                t = v["taskOutputParameter"]
                doc["params"][k] = ["output", key(t["producerTask"]), t["outputParameterKey"]]
            else:
                doc["params"][k] = ["constant", v["runtimeValue"]["constant"]]
        for k, v in ins.get("artifacts", {}).items():
            t = v["taskOutputArtifact"]
            doc["arts"][k] = [key(t["producerTask"]), t["outputArtifactKey"]]
        memo[name] = hashlib.sha256(
            json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
        return memo[name]

    result: dict[str, str | None] = {}
    for name, task in tasks.items():
        comp = spec["components"][task["componentRef"]["name"]]
        if not comp.get("executorLabel"):
            continue
        k = key(name)
        result[name] = k if (task.get("cachingOptions") or {}).get("enableCache") else None
    return result


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
    params = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    types = {"NUMBER_INTEGER": int, "NUMBER_DOUBLE": float, "STRING": str, "BOOLEAN": bool}
    tasks = spec["root"]["dag"]["tasks"]
    workdir = Path(workdir)
    result = RunResult()
    for name in [n for n in topological_order(spec) if n in keys]:
        key = keys[name]
        hit = cache.get(key) if key is not None else None
        if hit is not None:
            result.cached.append(name)
            result.outputs[name] = hit
            continue
        task = tasks[name]
        comp = spec["components"][task["componentRef"]["name"]]
        kwargs: dict[str, Any] = {}
        for k, v in task.get("inputs", {}).get("parameters", {}).items():
            if "componentInputParameter" in v:
                p = v["componentInputParameter"]
                raw = arguments.get(p, params[p].get("defaultValue"))
                kwargs[k] = types[params[p]["parameterType"]](raw)
            elif "taskOutputParameter" in v:
                t = v["taskOutputParameter"]
                kwargs[k] = result.outputs[t["producerTask"]][t["outputParameterKey"]]
            else:
                kwargs[k] = v["runtimeValue"]["constant"]
        for k, v in task.get("inputs", {}).get("artifacts", {}).items():
            t = v["taskOutputArtifact"]
            cls = ARTIFACT_TYPES[
                comp["inputDefinitions"]["artifacts"][k]["artifactType"]["schemaTitle"]
            ]
            kwargs[k] = cls(name=k, uri=result.outputs[t["producerTask"]][t["outputArtifactKey"]])
        folder = Path(tempfile.mkdtemp(dir=workdir))
        produced: dict[str, Any] = {}
        outdefs = comp.get("outputDefinitions", {})
        for k, v in outdefs.get("artifacts", {}).items():
            art = ARTIFACT_TYPES[v["artifactType"]["schemaTitle"]](name=k, uri=str(folder / k))
            kwargs[k] = art
            produced[k] = str(folder / k)
        ret = functions[name](**kwargs)
        if "Output" in outdefs.get("parameters", {}):
            produced["Output"] = ret
        result.executed.append(name)
        result.outputs[name] = produced
        if key is not None:
            cache[key] = produced
    return result


if __name__ == "__main__":
    import yaml

    compile_pipeline(Path(__file__).with_name("pipeline.yaml"))
    spec = yaml.safe_load(Path(__file__).with_name("pipeline.yaml").read_text())
    print("wrote pipeline.yaml; tasks in order:", topological_order(spec))

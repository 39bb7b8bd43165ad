"""An ML workflow as a Kubeflow pipeline: components, a DAG, a compiled spec and a cache.

Read README.md first. `load_data` is written for you as the model of a component; every other
function raises NotImplementedError until you write it. `python exercise.py` compiles your
pipeline to pipeline.yaml next to this file, so you can read the spec the checks read.
"""

import hashlib  # noqa: F401  (for task 3)
import json  # noqa: F401  (for task 3)
import tempfile  # noqa: F401  (for task 4)
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfp import compiler, dsl  # noqa: F401  (compiler: for task 2)
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
    raise NotImplementedError  # TODO (task 1)


@dsl.component(base_image=BASE_IMAGE)
def train_model(
    train_data: Input[Dataset], learning_rate: float, epochs: int, model: Output[Model]
):
    """Logistic regression on (x1, x2) by full-batch gradient descent, written as JSON.

    Start from w1 = w2 = b = 0.0; each of the `epochs` steps subtracts learning_rate times the
    mean gradient of the log-loss over all training rows. Write {"w": [w1, w2], "b": b} to
    model.path.
    """
    raise NotImplementedError  # TODO (task 1)


@dsl.component(base_image=BASE_IMAGE)
def evaluate_model(
    test_data: Input[Dataset], model: Input[Model], metrics: Output[Metrics]
) -> float:
    """The share of test rows the model gets right (it predicts 1 when w1*x1 + w2*x2 + b > 0).

    Log it as metrics.log_metric("accuracy", ...), log the number of test rows as "test_rows",
    and return the accuracy.
    """
    raise NotImplementedError  # TODO (task 1)


@dsl.component(base_image=BASE_IMAGE)
def deploy_model(model: Input[Model], endpoint: str, accuracy: float) -> str:
    """Return the model's address, f"{endpoint}@{digest}", digest = sha256 of the model file's bytes
    as hex, first 12 characters. E.g. "models/churn@3f2a9c01b7de"."""
    raise NotImplementedError  # TODO (task 1)


# ----- task 2: the pipeline and its compiled spec -------------------------------------------------
def build_pipeline():
    """Return a `@dsl.pipeline(name=PIPELINE_NAME)` function wiring the five components.

    Its parameters, their types and defaults, the edges, the condition and the caching are in
    README task 2. Define the pipeline function inside this one: `@dsl.pipeline` runs its body
    as soon as it decorates it.
    """
    raise NotImplementedError  # TODO (task 2)


def compile_pipeline(package_path: str | Path) -> None:
    """Compile build_pipeline() with kfp's compiler into the YAML file `package_path`."""
    raise NotImplementedError  # TODO (task 2)


# ----- task 3: order and cache keys from the compiled spec ----------------------------------------
def topological_order(spec: dict[str, Any]) -> list[str]:
    """Every task name of spec["root"]["dag"]["tasks"], each after all its `dependentTasks`.

    >>> topological_order(spec)  # for this lab's pipeline (the group of dsl.If is a task too)
    ['load-data', 'validate-data', 'train-model', 'evaluate-model', 'condition-1']

    A cycle raises ValueError. The spec is not modified.
    """
    raise NotImplementedError  # TODO (task 3)


def cache_keys(spec: dict[str, Any], arguments: dict[str, Any]) -> dict[str, str | None]:
    """A cache key for each component task of the root DAG (groups such as condition-1 left out).

    The key is a hex digest of what determines the task's outputs: the component's definition
    (its interface and its executor: image, command, code), its input parameters as resolved
    for this run (`arguments` over the pipeline's defaults, cast to their declared types), and,
    for each input artefact, the key of the task that produces it. A task whose caching is off
    gets None. A name that the pipeline does not declare raises ValueError.
    """
    raise NotImplementedError  # TODO (task 3)


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
    raise NotImplementedError  # TODO (task 4)


if __name__ == "__main__":
    import yaml

    compile_pipeline(Path(__file__).with_name("pipeline.yaml"))
    spec = yaml.safe_load(Path(__file__).with_name("pipeline.yaml").read_text())
    print("wrote pipeline.yaml; tasks in order:", topological_order(spec))
